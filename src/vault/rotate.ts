import { createPrivateKey, generateKeyPairSync, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import { selfSignedCertificate, type CertificateSpec } from './certificate.ts';
import { ValidationError } from '../errors.ts';
import type { VaultValues } from './contents.ts';
import { randomSecret } from './random-secret.ts';

/**
 * A kind of secret play can make again: how to recognise a value of it, and how to make a new one like it.
 *
 * @example
 * const kind: SecretKind = { name: 'letters and digits', matches: (v) => /^[A-Za-z0-9]+$/.test(v), renew: (v) => randomSecret({ length: v.length }) };
 */
export interface SecretKind {
  readonly name: string;
  matches(value: string): boolean;
  /** A new random value of the same kind and size as `value`. */
  renew(value: string): string;
}

const PEM_KEY = /^-----BEGIN (RSA |EC )?PRIVATE KEY-----\r?\n[A-Za-z0-9+/=\r\n]+-----END \1PRIVATE KEY-----\s*$/;
const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * The kinds of single secrets, tried in this order (hex before letters and digits, which it is a part of; letters
 * and digits before base64, which they are too).
 *
 * @example
 * SECRET_KINDS.find((kind) => kind.matches('q3J…='))!.name // 'base64'
 */
export const SECRET_KINDS: readonly SecretKind[] = [
  {
    name: 'hex',
    matches: (value) =>
      value.length >= 16 && value.length % 2 === 0 && (/^[0-9a-f]+$/.test(value) || /^[0-9A-F]+$/.test(value)),
    renew: (value) => {
      const hex = randomBytes(value.length / 2).toString('hex');
      return /[A-F]/.test(value) ? hex.toUpperCase() : hex;
    },
  },
  {
    name: 'letters and digits',
    matches: (value) => /^[A-Za-z0-9]+$/.test(value),
    // From play's own alphabet, as the vault generates them: no 0 O 1 I l o.
    renew: (value) => randomSecret({ length: value.length }),
  },
  {
    name: 'base64',
    matches: (value) =>
      value.length % 4 === 0 &&
      /^[A-Za-z0-9+/]+={0,2}$/.test(value) &&
      Buffer.from(value, 'base64').toString('base64') === value,
    renew: (value) => randomSecret({ base64Bytes: Buffer.from(value, 'base64').length }),
  },
  {
    name: 'PEM private key',
    matches: (value) => PEM_KEY.test(value) && privateKey(value) !== undefined,
    renew: renewPrivateKey,
  },
];

/**
 * The kind of a single secret's value, or undefined when play cannot make one like it (a password with symbols,
 * a certificate, an encrypted key).
 *
 * @example
 * secretKindOf('xK3mPq7R')?.name // 'letters and digits'
 */
export function secretKindOf(value: string): SecretKind | undefined {
  return SECRET_KINDS.find((kind) => kind.matches(value));
}

/**
 * The new values that rotating the secret `name` means, to merge into the vault (the others stay as they are):
 * one value of the same kind and size (see {@link SECRET_KINDS}), or, for a self-signed certificate and its key
 * stored as `<x>_certificate` and `<x>_key` (rotating either), both made again with the same subject,
 * subjectAltNames and lifetime (by {@link selfSignedCertificate}: an EC P-256 key). A certificate issued by a CA,
 * and a value of no known kind, are a ValidationError saying what to do instead. No message quotes a value.
 *
 * @example
 * const values = { ...old, ...rotatedSecrets(old, 'tsig_key', 'inventory/smknh.vault') };
 */
export function rotatedSecrets(values: Readonly<VaultValues>, name: string, vaultPath: string): VaultValues {
  const value = values[name];
  if (value === undefined) throw new ValidationError(`secret "${name}" is not in vault ${vaultPath}`);
  const setHint = (names: readonly string[]) => names.map((n) => `\`play vault set ${vaultPath} ${n}\``).join(' and ');
  const pair = certificatePairNames(name);
  if (pair && isCertificate(values[pair.certificate] ?? '')) {
    if (values[pair.key] === undefined) {
      throw new ValidationError(
        `secret "${pair.certificate}" is a certificate whose key "${pair.key}" is not in vault ${vaultPath}: play rotates the two together; store new ones with ${setHint([pair.certificate, pair.key])}`,
      );
    }
    return renewCertificatePair(values[pair.certificate], pair, vaultPath, setHint([pair.certificate, pair.key]));
  }
  if (isCertificate(value)) {
    throw new ValidationError(
      `secret "${name}" is a certificate, but not one of a pair named <x>_certificate and <x>_key, which play rotates together: store a new one with ${setHint([name])}`,
    );
  }
  const kind = secretKindOf(value);
  if (!kind) {
    throw new ValidationError(
      `secret "${name}" in vault ${vaultPath} is not of a kind play can make again (letters and digits, hex, base64, a PEM private key, a self-signed certificate with its key): store a new value with ${setHint([name])}`,
    );
  }
  if (kind.name === 'PEM private key' && !canRenewKey(value)) {
    throw new ValidationError(
      `secret "${name}" is a ${privateKey(value)?.asymmetricKeyType ?? 'unknown'} key, a type play cannot make: store a new one with ${setHint([name])}`,
    );
  }
  return { [name]: kind.renew(value) };
}

/** `tls_certificate` or `tls_key` → `{ certificate: 'tls_certificate', key: 'tls_key' }`; other names → undefined. */
function certificatePairNames(name: string): { certificate: string; key: string } | undefined {
  const match = /^(.+)_(certificate|key)$/.exec(name);
  return match ? { certificate: `${match[1]}_certificate`, key: `${match[1]}_key` } : undefined;
}

function isCertificate(value: string): boolean {
  return value.includes('-----BEGIN CERTIFICATE-----');
}

function privateKey(pem: string): KeyObject | undefined {
  try {
    return createPrivateKey(pem);
  } catch {
    return undefined;
  }
}

const RENEWABLE_KEY_TYPES = ['rsa', 'ec', 'ed25519', 'ed448'];
const canRenewKey = (pem: string) => RENEWABLE_KEY_TYPES.includes(privateKey(pem)?.asymmetricKeyType ?? '');

/** A new key of the same type and size (RSA modulus and exponent, EC curve), in the same PEM kind. */
function renewPrivateKey(pem: string): string {
  const old = privateKey(pem);
  if (!old) throw new Error('not a private key play can read');
  const details = old.asymmetricKeyDetails ?? {};
  const detail = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`the ${old.asymmetricKeyType} key does not say its ${what}`);
    return value;
  };
  let fresh: KeyObject;
  switch (old.asymmetricKeyType) {
    case 'rsa':
      fresh = generateKeyPairSync('rsa', {
        modulusLength: detail(details.modulusLength, 'modulus length'),
        publicExponent: Number(details.publicExponent ?? 65537n),
      }).privateKey;
      break;
    case 'ec':
      fresh = generateKeyPairSync('ec', { namedCurve: detail(details.namedCurve, 'curve') }).privateKey;
      break;
    case 'ed25519':
      fresh = generateKeyPairSync('ed25519').privateKey;
      break;
    case 'ed448':
      fresh = generateKeyPairSync('ed448').privateKey;
      break;
    default:
      throw new Error(`cannot make a ${old.asymmetricKeyType} key`);
  }
  const label = /^-----BEGIN (RSA |EC )?PRIVATE KEY-----/.exec(pem)?.[1];
  const type: 'pkcs1' | 'sec1' | 'pkcs8' = label === 'RSA ' ? 'pkcs1' : label === 'EC ' ? 'sec1' : 'pkcs8';
  const text = fresh.export({ type, format: 'pem' }).toString();
  // Keep the old value's ending: a key stored without its last newline stays so.
  return pem.endsWith('\n') ? text : text.trimEnd();
}

/** The certificate and key made again, self-signed, with the old certificate's subject, names and lifetime. */
function renewCertificatePair(
  pem: string,
  names: { certificate: string; key: string },
  vaultPath: string,
  setHint: string,
): VaultValues {
  const blocks = pem.match(PEM_CERTIFICATE) ?? [];
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(blocks[0] ?? '');
  } catch {
    throw new ValidationError(
      `secret "${names.certificate}" in vault ${vaultPath} is not a readable PEM certificate: store a new one with ${setHint}`,
    );
  }
  const selfSigned =
    blocks.length === 1 && certificate.checkIssued(certificate) && certificate.verify(certificate.publicKey);
  if (!selfSigned) {
    const issuer = certificate.issuer.split('\n').join(', ');
    throw new ValidationError(
      `secret "${names.certificate}" is issued by a certificate authority (${issuer}), not self-signed: play cannot issue it again; get a new certificate and key from the CA and store them with ${setHint}`,
    );
  }
  const spec = certificateSpecOf(certificate, names.certificate, setHint);
  const pair = selfSignedCertificate(spec);
  return { [names.certificate]: pair.certificate, [names.key]: pair.key };
}

/** The subject (O and CN), subjectAltNames (DNS and IP) and lifetime of a certificate, as play makes them. */
function certificateSpecOf(certificate: X509Certificate, name: string, setHint: string): CertificateSpec {
  const refuse = (what: string) =>
    new ValidationError(
      `secret "${name}" has ${what}, which play's certificates do not carry: make one with openssl and store it with ${setHint}`,
    );
  const subject: Record<string, string> = {};
  for (const line of certificate.subject.split('\n')) {
    const [attribute, ...rest] = line.split('=');
    const value = rest.join('=');
    if ((attribute !== 'O' && attribute !== 'CN') || attribute in subject || /[/\\"]/.test(value))
      throw refuse(`the subject ${certificate.subject.split('\n').join(', ')}`);
    subject[attribute] = value;
  }
  if (!subject.CN) throw refuse('no common name');
  const names: string[] = [];
  for (const entry of certificate.subjectAltName ? certificate.subjectAltName.split(', ') : []) {
    const match = /^(DNS|IP Address):([^,"\\]+)$/.exec(entry);
    if (!match) throw refuse(`the subjectAltName ${entry}`);
    names.push(match[2]);
  }
  const days = Math.max(
    1,
    Math.round((Date.parse(certificate.validTo) - Date.parse(certificate.validFrom)) / 86_400_000),
  );
  return { commonName: subject.CN, ...(subject.O ? { organization: subject.O } : {}), names, days };
}
