import { execFileSync } from 'node:child_process';
import { createPrivateKey, randomBytes, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isIP } from 'node:net';

/** A certificate and its private key, both PEM. */
export interface CertificatePair {
  readonly certificate: string;
  readonly key: string;
}

/** What a certificate names and how long it lasts. */
export interface CertificateSpec {
  readonly commonName: string;
  readonly organization?: string;
  /** Each becomes a subjectAltName: an IPv4 or IPv6 address `IP:`, anything else `DNS:`. */
  readonly names: readonly string[];
  readonly days?: number;
}

/**
 * Makes a self-signed certificate with OpenSSL: an EC P-256 key, the given subject, and a subjectAltName for
 * each name. The key never touches a file others can read: it lives in a private temporary folder that is
 * removed before this returns.
 *
 * @example
 * const { certificate, key } = selfSignedCertificate({ commonName: 'replication.smknh.sch.id', names: ['192.168.30.1', '192.168.30.2'] });
 */
export function selfSignedCertificate(spec: CertificateSpec): CertificatePair {
  return withTempDir((dir) => {
    const names = spec.names.length > 0 ? ['-addext', `subjectAltName=${altNames(spec)}`] : [];
    openssl([
      'req',
      '-x509',
      ...newKey(dir),
      '-days',
      String(spec.days ?? 3650),
      '-subj',
      subject(spec),
      ...names,
      '-out',
      join(dir, 'cert.pem'),
    ]);
    return {
      certificate: readFileSync(join(dir, 'cert.pem'), 'utf8'),
      key: readFileSync(join(dir, 'key.pem'), 'utf8'),
    };
  });
}

/**
 * Makes a certificate signed by a certificate authority (a server certificate: TLS server and client use, not a
 * CA), with a CRL distribution point when given. The certificate returned is followed by the issuer's, as a
 * server presents its chain.
 *
 * @example
 * const ca = selfSignedCertificate({ commonName: 'Lab CA', names: [] });
 * const school = issuedCertificate({ commonName: 'mail.smknh.sch.id', names: ['mail.smknh.sch.id'] }, ca, 'http://ca.lab.test/lab.crl');
 */
export function issuedCertificate(spec: CertificateSpec, issuer: CertificatePair, crlUrl?: string): CertificatePair {
  return withTempDir((dir) => {
    writeFileSync(join(dir, 'ca.pem'), issuer.certificate);
    writeFileSync(join(dir, 'ca.key'), issuer.key, { mode: 0o600 });
    const extensions = [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth,clientAuth',
      `subjectAltName=${altNames(spec)}`,
      ...(crlUrl ? [`crlDistributionPoints=URI:${crlUrl}`] : []),
    ];
    writeFileSync(join(dir, 'extensions.cnf'), `${extensions.join('\n')}\n`);
    openssl(['req', '-new', ...newKey(dir), '-subj', subject(spec), '-out', join(dir, 'request.pem')]);
    openssl([
      'x509',
      '-req',
      '-in',
      join(dir, 'request.pem'),
      '-CA',
      join(dir, 'ca.pem'),
      '-CAkey',
      join(dir, 'ca.key'),
      '-set_serial',
      `0x${randomBytes(16).toString('hex')}`,
      '-days',
      String(spec.days ?? 825),
      '-extfile',
      join(dir, 'extensions.cnf'),
      '-out',
      join(dir, 'cert.pem'),
    ]);
    const leaf = readFileSync(join(dir, 'cert.pem'), 'utf8');
    return {
      certificate: `${leaf.trimEnd()}\n${issuer.certificate.trimEnd()}\n`,
      key: readFileSync(join(dir, 'key.pem'), 'utf8'),
    };
  });
}

function withTempDir<T>(work: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'play-cert-'));
  try {
    return work(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const newKey = (dir: string) => [
  '-newkey',
  'ec',
  '-pkeyopt',
  'ec_paramgen_curve:prime256v1',
  '-nodes',
  '-keyout',
  join(dir, 'key.pem'),
];
const subject = (spec: CertificateSpec) =>
  `${spec.organization ? `/O=${spec.organization}` : ''}/CN=${spec.commonName}`;
const altNames = (spec: CertificateSpec) => spec.names.map((n) => (isIP(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
const openssl = (args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });

/**
 * What is wrong with a certificate and key meant for the given addresses: not PEM, a key that is not the
 * certificate's, an address the certificate does not name, or a certificate past its end. Empty when right.
 */
export function certificateProblems(pair: CertificatePair, addresses: readonly string[], now = new Date()): string[] {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(pair.certificate);
  } catch {
    return ['the certificate is not a PEM certificate'];
  }
  const problems: string[] = [];
  try {
    if (!certificate.checkPrivateKey(createPrivateKey(pair.key))) problems.push("the key is not the certificate's key");
  } catch {
    problems.push('the key is not a PEM private key');
  }
  for (const address of addresses) {
    if (certificate.checkIP(address) === undefined)
      problems.push(`the certificate does not name ${address} (subjectAltName IP:${address})`);
  }
  if (new Date(certificate.validTo) <= now) problems.push(`the certificate ended on ${certificate.validTo}`);
  return problems;
}
