import { createPrivateKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { issuedCertificate, selfSignedCertificate } from '../../../src/vault/certificate.ts';
import { ValidationError } from '../../../src/errors.ts';
import { randomSecret, SECRET_ALPHABET } from '../../../src/vault/random-secret.ts';
import { rotatedSecrets, secretKindOf } from '../../../src/vault/rotate.ts';

const VAULT = 'inventory/smknh.vault';
const pem = (type: 'rsa' | 'ec' | 'ed25519', options: object, format: 'pkcs8' | 'pkcs1' | 'sec1') =>
  (generateKeyPairSync as (t: string, o: object) => { privateKey: { export(o: object): string | Buffer } })(
    type,
    options,
  )
    .privateKey.export({ type: format, format: 'pem' })
    .toString();
const keyDetails = (value: string) => {
  const key = createPrivateKey(value);
  return {
    type: key.asymmetricKeyType,
    ...key.asymmetricKeyDetails,
    label: /^-----BEGIN ([A-Z ]+)-----/.exec(value)![1],
  };
};

describe('secretKindOf', () => {
  it.each([
    ['xK3mPq7RtZ', 'letters and digits'],
    [randomSecret({ length: 24 }), 'letters and digits'],
    ['0123456789abcdef0123456789abcdef', 'hex'],
    ['0123456789ABCDEF', 'hex'],
    ['deadbeef', 'letters and digits'],
    [randomSecret({ base64Bytes: 32 }), 'base64'],
    ['++/vAQ==', 'base64'],
    [pem('ec', { namedCurve: 'prime256v1' }, 'pkcs8'), 'PEM private key'],
    ['pass word!', undefined],
    ['ab+/cd=', undefined],
    ['-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n-----END OPENSSH PRIVATE KEY-----\n', undefined],
    ['-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n', undefined],
  ])('%j is %s', (value, kind) => {
    expect(secretKindOf(value)?.name).toBe(kind);
  });
});

describe('rotatedSecrets', () => {
  const valueCases: [string, string, (old: string, renewed: string) => void][] = [
    [
      'letters and digits',
      'aB3dE5gH7jK9mN2p',
      (old, renewed) => {
        expect(renewed).toHaveLength(old.length);
        expect([...renewed].every((c) => SECRET_ALPHABET.includes(c))).toBe(true);
      },
    ],
    [
      'base64 of 32 bytes',
      randomSecret({ base64Bytes: 32 }),
      (_, renewed) => {
        expect(Buffer.from(renewed, 'base64')).toHaveLength(32);
        expect(secretKindOf(renewed)?.name).toBe('base64');
      },
    ],
    [
      'base64 of 16 bytes',
      randomSecret({ base64Bytes: 16 }),
      (_, renewed) => expect(Buffer.from(renewed, 'base64')).toHaveLength(16),
    ],
    [
      'lowercase hex',
      'a3f09e12b4c5d6e7f8091a2b3c4d5e6f',
      (old, renewed) => expect(renewed).toMatch(new RegExp(`^[0-9a-f]{${old.length}}$`)),
    ],
    [
      'uppercase hex',
      'A3F09E12B4C5D6E7',
      (old, renewed) => expect(renewed).toMatch(new RegExp(`^[0-9A-F]{${old.length}}$`)),
    ],
    [
      'an RSA 2048 PKCS#8 key',
      pem('rsa', { modulusLength: 2048 }, 'pkcs8'),
      (old, renewed) => expect(keyDetails(renewed)).toEqual(keyDetails(old)),
    ],
    [
      'an RSA 1024 PKCS#1 key',
      pem('rsa', { modulusLength: 1024 }, 'pkcs1'),
      (old, renewed) => {
        expect(keyDetails(renewed)).toEqual(keyDetails(old));
        expect(renewed).toMatch(/^-----BEGIN RSA PRIVATE KEY-----\n/);
      },
    ],
    [
      'an EC P-384 PKCS#8 key',
      pem('ec', { namedCurve: 'secp384r1' }, 'pkcs8'),
      (old, renewed) => expect(keyDetails(renewed)).toEqual(keyDetails(old)),
    ],
    [
      'an EC P-256 SEC1 key',
      pem('ec', { namedCurve: 'prime256v1' }, 'sec1'),
      (old, renewed) => {
        expect(keyDetails(renewed)).toEqual(keyDetails(old));
        expect(renewed).toMatch(/^-----BEGIN EC PRIVATE KEY-----\n/);
      },
    ],
    [
      'an Ed25519 key',
      pem('ed25519', {}, 'pkcs8'),
      (old, renewed) => expect(keyDetails(renewed)).toEqual(keyDetails(old)),
    ],
    [
      'a key stored without its last newline',
      pem('ec', { namedCurve: 'prime256v1' }, 'pkcs8').trimEnd(),
      (_, renewed) => expect(renewed.endsWith('-----END PRIVATE KEY-----')).toBe(true),
    ],
  ];

  it.each(valueCases)('makes %s again: a new value, of the same kind, the others left alone', (_, old, sameKind) => {
    const values = { target: old, other: 'untouched-value-1' };
    const renewed = rotatedSecrets(values, 'target', VAULT);
    expect(Object.keys(renewed)).toEqual(['target']);
    expect(renewed.target).not.toBe(old);
    sameKind(old, renewed.target);
    expect(values).toEqual({ target: old, other: 'untouched-value-1' });
  });

  it.each(['replication_certificate', 'replication_key'])(
    'rotating %s makes the self-signed pair again, with the same subject, names and lifetime',
    (name) => {
      const old = selfSignedCertificate({
        organization: 'smknh.sch.id',
        commonName: 'replication.smknh.sch.id',
        names: ['192.168.30.1', 'fd00::1', 'mail.smknh.sch.id'],
        days: 400,
      });
      const renewed = rotatedSecrets(
        { replication_certificate: old.certificate, replication_key: old.key, tsig_key: 'x' },
        name,
        VAULT,
      );
      expect(Object.keys(renewed).sort()).toEqual(['replication_certificate', 'replication_key']);
      const [before, after] = [
        new X509Certificate(old.certificate),
        new X509Certificate(renewed.replication_certificate),
      ];
      expect(after.fingerprint256).not.toBe(before.fingerprint256);
      expect(after.subject).toBe(before.subject);
      expect(after.subjectAltName).toBe(before.subjectAltName);
      expect(after.checkPrivateKey(createPrivateKey(renewed.replication_key))).toBe(true);
      expect(renewed.replication_key).not.toBe(old.key);
      const days = (c: X509Certificate) => Math.round((Date.parse(c.validTo) - Date.parse(c.validFrom)) / 86_400_000);
      expect(days(after)).toBe(400);
    },
  );

  const refusal = (values: Record<string, string>, name: string) => {
    try {
      rotatedSecrets(values, name, VAULT);
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
      return (error as Error).message;
    }
    throw new Error('rotated');
  };

  it('refuses a certificate issued by a CA, saying to use play vault set, and quoting no secret', () => {
    const ca = selfSignedCertificate({ commonName: 'Lab CA', names: [] });
    const tls = issuedCertificate({ commonName: 'mail.smknh.sch.id', names: ['mail.smknh.sch.id'] }, ca);
    for (const name of ['tls_certificate', 'tls_key']) {
      const message = refusal({ tls_certificate: tls.certificate, tls_key: tls.key }, name);
      expect(message).toBe(
        `secret "tls_certificate" is issued by a certificate authority (CN=Lab CA), not self-signed: play cannot issue it again; get a new certificate and key from the CA and store them with \`play vault set ${VAULT} tls_certificate\` and \`play vault set ${VAULT} tls_key\``,
      );
    }
  });

  it.each<[string, Record<string, string>, string, string]>([
    [
      'a value of no known kind',
      { admin_password: 'correct horse!' },
      'admin_password',
      `is not of a kind play can make again (letters and digits, hex, base64, a PEM private key, a self-signed certificate with its key): store a new value with \`play vault set ${VAULT} admin_password\``,
    ],
    ['a missing name', { a: 'b' }, 'nope', `secret "nope" is not in vault ${VAULT}`],
    [
      'a certificate without its key',
      { web_certificate: selfSignedCertificate({ commonName: 'w', names: [] }).certificate },
      'web_certificate',
      'whose key "web_key" is not in vault',
    ],
    [
      'a certificate not named <x>_certificate',
      { cert: selfSignedCertificate({ commonName: 'w', names: [] }).certificate },
      'cert',
      'not one of a pair named <x>_certificate and <x>_key',
    ],
    [
      'an encrypted PEM key',
      {
        k: generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
          .privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'x' })
          .toString(),
      },
      'k',
      'is not of a kind play can make again',
    ],
  ])('refuses %s, saying what to do', (_, values, name, message) => {
    const said = refusal(values, name);
    expect(said).toContain(message);
    for (const value of Object.values(values)) expect(said).not.toContain(value);
  });
});
