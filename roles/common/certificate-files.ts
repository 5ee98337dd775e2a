import { file, sh, type FileParams, type Task } from 'play';

/** Where one of the two files goes and who may read it. */
type PemFile = Pick<FileParams, 'path' | 'content' | 'mode' | 'owner' | 'group'>;

/**
 * A certificate and its private key as two files, in that order: the certificate must parse, and the key must
 * parse and belong to the certificate written just before it, or neither reaches its place (each is checked
 * before it replaces the live file). Both notify the same handlers.
 *
 * @example
 * ...certificateAndKeyFiles({
 *   certificate: { path: '/etc/kea/tls/cert.pem', content: vars.certificate, mode: '0644', owner: 'root', group: 'root' },
 *   key: { path: '/etc/kea/tls/key.pem', content: vars.key, mode: '0640', owner: 'root', group: '_kea' },
 *   notify: 'restart kea-dhcp4-server',
 * })
 */
export function certificateAndKeyFiles(options: {
  certificate: PemFile;
  key: PemFile;
  notify: FileParams['notify'];
}): Task[] {
  const { certificate, key, notify } = options;
  return [
    file({ ...certificate, validate: (p) => sh`openssl x509 -noout -in ${p}`, notify }),
    file({
      ...key,
      validate: (p) =>
        sh`test "$(openssl pkey -in ${p} -pubout)" = "$(openssl x509 -noout -pubkey -in ${certificate.path})"`,
      notify,
    }),
  ];
}
