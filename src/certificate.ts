import { execFileSync } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isIP } from 'node:net';

/** A certificate and its private key, both PEM. */
export interface CertificatePair {
  readonly certificate: string;
  readonly key: string;
}

/**
 * Makes a self-signed certificate with OpenSSL: an EC P-256 key, the given subject, and a subjectAltName for
 * each name (an IPv4 or IPv6 address becomes `IP:`, anything else `DNS:`). The key never touches a file
 * others can read: it lives in a private temporary folder that is removed before this returns.
 *
 * @example
 * const { certificate, key } = selfSignedCertificate({ commonName: 'replication.smknh.sch.id', names: ['192.168.30.1', '192.168.30.2'] });
 */
export function selfSignedCertificate(spec: { commonName: string; organization?: string; names: readonly string[]; days?: number }): CertificatePair {
  const dir = mkdtempSync(join(tmpdir(), 'play-cert-'));
  try {
    const altNames = spec.names.map((n) => (isIP(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
    const subject = `${spec.organization ? `/O=${spec.organization}` : ''}/CN=${spec.commonName}`;
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', String(spec.days ?? 3650),
      '-subj', subject, '-addext', `subjectAltName=${altNames}`, '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    return { certificate: readFileSync(join(dir, 'cert.pem'), 'utf8'), key: readFileSync(join(dir, 'key.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

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
    if (!certificate.checkPrivateKey(createPrivateKey(pair.key))) problems.push('the key is not the certificate\'s key');
  } catch {
    problems.push('the key is not a PEM private key');
  }
  for (const address of addresses) {
    if (certificate.checkIP(address) === undefined) problems.push(`the certificate does not name ${address} (subjectAltName IP:${address})`);
  }
  if (new Date(certificate.validTo) <= now) problems.push(`the certificate ended on ${certificate.validTo}`);
  return problems;
}
