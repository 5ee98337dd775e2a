import { command, defineRole, packages, SecretType, sh, Type } from 'play';
import { certificateAndKeyFiles } from '../common/certificate-files.ts';
import { SCHOOL_RELEASES } from '../common/releases.ts';
import { SchoolVars } from '../common/school.ts';
import { postfixUnit } from '../postfix/config-set.ts';

/** Where the school's shared mail certificate (PEM, the chain after it) lives; postfix, dovecot and apache read it. */
export function tlsCertificatePath(domain: string): string {
  return `/etc/ssl/certs/${domain}-mail.pem`;
}

/** Where the certificate's private key lives (mode 0640, group ssl-cert). */
export function tlsKeyPath(domain: string): string {
  return `/etc/ssl/private/${domain}-mail.key`;
}

/** TLS 1.2's cipher suites, in order: ECDHE key exchange and AEAD ciphers only (Mozilla's "intermediate" without DHE). */
export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** The name of the tls role's handler: it reloads whichever of postfix, dovecot and apache2 are running. */
export const RELOAD_TLS_USERS = 'reload services using the certificate';

/** The school's certificate and its key, as the tls role takes them (and the apache role, which may write them too). */
export const TlsFilesVars = Type.Object({
  tlsCertificate: SecretType(),
  tlsKey: SecretType(),
});

/**
 * The shared certificate of the school's mail and web names (mail/webmail/www.<domain>), the same on both
 * servers: the certificate at {@link tlsCertificatePath} (0644) and its key at {@link tlsKeyPath}
 * (0640 root:ssl-cert). A new certificate reloads postfix, dovecot and apache2 (those that run), so a renewal
 * is never left unused.
 */
export default defineRole({
  platforms: SCHOOL_RELEASES,
  name: 'tls',
  dir: import.meta.dirname,
  schema: Type.Composite([Type.Pick(SchoolVars, ['domain']), TlsFilesVars]),
  tasks: ({ vars }) => [
    // ssl-cert makes the ssl-cert group (and /etc/ssl/private 0710 root:ssl-cert); openssl checks the files.
    packages({ names: ['ssl-cert', 'openssl', 'ca-certificates'] }),
    ...certificateAndKeyFiles({
      certificate: {
        path: tlsCertificatePath(vars.domain),
        content: vars.tlsCertificate,
        mode: '0644',
        owner: 'root',
        group: 'root',
      },
      key: { path: tlsKeyPath(vars.domain), content: vars.tlsKey, mode: '0640', owner: 'root', group: 'ssl-cert' },
      notify: RELOAD_TLS_USERS,
    }),
  ],
  handlers: ({ platform }) => [
    // A handler of its own (not postfix's or dovecot's): the role also serves plays without them, and a play
    // may only notify handlers it has. On a first run the services start after this and read the new files.
    command({
      name: RELOAD_TLS_USERS,
      // postfix's own unit (postfix@- on Debian 12, postfix on Debian 13: see the postfix role's handler).
      cmd: sh`for s in ${postfixUnit(platform)} dovecot apache2; do if systemctl is-active --quiet "$s"; then systemctl reload "$s" || exit 1; fi; done`,
    }),
  ],
});
