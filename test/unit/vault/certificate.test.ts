import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { X509Certificate } from 'node:crypto';
import { certificateProblems, issuedCertificate, selfSignedCertificate } from '../../../src/vault/certificate.ts';

describe('selfSignedCertificate', () => {
  it('names each address as an IP subjectAltName and each other name as DNS, with a key that is its own', () => {
    const pair = selfSignedCertificate({
      commonName: 'replication.school.test',
      names: ['198.18.90.1', '2001:db8::2', 'mail.school.test'],
      days: 2,
    });
    const certificate = new X509Certificate(pair.certificate);
    expect(certificate.subject).toBe('CN=replication.school.test');
    expect(certificate.subjectAltName).toBe(
      'IP Address:198.18.90.1, IP Address:2001:DB8:0:0:0:0:0:2, DNS:mail.school.test',
    );
    expect(pair.key).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(certificateProblems(pair, ['198.18.90.1', '2001:db8::2'])).toEqual([]);
  });
});

describe('certificateProblems', () => {
  const pair = selfSignedCertificate({ commonName: 'r', names: ['198.18.90.1', '198.18.90.2'], days: 2 });
  const other = selfSignedCertificate({ commonName: 'r', names: ['198.18.90.1'], days: 2 });

  it('names each address the certificate does not cover', () => {
    expect(certificateProblems(other, ['198.18.90.1', '198.18.90.2', '198.18.90.3'])).toEqual([
      'the certificate does not name 198.18.90.2 (subjectAltName IP:198.18.90.2)',
      'the certificate does not name 198.18.90.3 (subjectAltName IP:198.18.90.3)',
    ]);
  });

  it('refuses a key of another certificate, and text that is not PEM', () => {
    expect(certificateProblems({ certificate: pair.certificate, key: other.key }, [])).toEqual([
      "the key is not the certificate's key",
    ]);
    expect(certificateProblems({ certificate: pair.certificate, key: 'not a key' }, [])).toEqual([
      'the key is not a PEM private key',
    ]);
    expect(certificateProblems({ certificate: 'Zm9v', key: pair.key }, [])).toEqual([
      'the certificate is not a PEM certificate',
    ]);
  });

  it('refuses a certificate past its end', () => {
    const later = new Date(Date.now() + 3 * 86_400_000);
    expect(certificateProblems(pair, ['198.18.90.1'], later)).toEqual([
      expect.stringMatching(/^the certificate ended on /),
    ]);
  });
});

describe('issuedCertificate', () => {
  it('signs a server certificate with the CA, names a CRL, and returns it followed by the CA', () => {
    const ca = selfSignedCertificate({ commonName: 'Lab CA', names: [], days: 2 });
    const pair = issuedCertificate(
      { commonName: 'mail.school.test', names: ['mail.school.test', '198.18.90.254'], days: 2 },
      ca,
      'http://ca.lab.test/lab.crl',
    );
    const [leafPem, caPem] = pair.certificate.split(/(?<=-----END CERTIFICATE-----\n)/);
    const leaf = new X509Certificate(leafPem);
    expect(caPem).toBe(ca.certificate);
    expect(leaf.verify(new X509Certificate(ca.certificate).publicKey)).toBe(true);
    expect(leaf.ca).toBe(false);
    expect(leaf.subjectAltName).toBe('DNS:mail.school.test, IP Address:198.18.90.254');
    expect(
      execFileSync('openssl', ['x509', '-noout', '-ext', 'crlDistributionPoints'], {
        input: leafPem,
        encoding: 'utf8',
      }),
    ).toContain('URI:http://ca.lab.test/lab.crl');
    expect(certificateProblems(pair, ['198.18.90.254'])).toEqual([]);
  });
});
