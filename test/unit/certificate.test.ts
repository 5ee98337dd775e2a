import { describe, expect, it } from 'vitest';
import { X509Certificate } from 'node:crypto';
import { certificateProblems, selfSignedCertificate } from '../../src/certificate.ts';

describe('selfSignedCertificate', () => {
  it('names each address as an IP subjectAltName and each other name as DNS, with a key that is its own', () => {
    const pair = selfSignedCertificate({ commonName: 'replication.school.test', names: ['198.18.90.1', '2001:db8::2', 'mail.school.test'], days: 2 });
    const certificate = new X509Certificate(pair.certificate);
    expect(certificate.subject).toBe('CN=replication.school.test');
    expect(certificate.subjectAltName).toBe('IP Address:198.18.90.1, IP Address:2001:DB8:0:0:0:0:0:2, DNS:mail.school.test');
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
    expect(certificateProblems({ certificate: pair.certificate, key: other.key }, [])).toEqual(["the key is not the certificate's key"]);
    expect(certificateProblems({ certificate: pair.certificate, key: 'not a key' }, [])).toEqual(['the key is not a PEM private key']);
    expect(certificateProblems({ certificate: 'Zm9v', key: pair.key }, [])).toEqual(['the certificate is not a PEM certificate']);
  });

  it('refuses a certificate past its end', () => {
    const later = new Date(Date.now() + 3 * 86_400_000);
    expect(certificateProblems(pair, ['198.18.90.1'], later)).toEqual([expect.stringMatching(/^the certificate ended on /)]);
  });
});
