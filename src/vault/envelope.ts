import {
  createCipheriv,
  createDecipheriv,
  createHash,
  randomBytes,
  scrypt,
  scryptSync,
  timingSafeEqual,
} from 'node:crypto';
import { ValidationError } from '../errors.ts';
import { TamperedVaultError, WrongVaultPassphraseError } from './errors.ts';

/**
 * The cost of scrypt: N (CPU and memory, a power of two), r (block size) and p (parallelism).
 *
 * @example
 * const cheap: ScryptCost = { N: 16384, r: 8, p: 1 }; // the lowest a vault may declare
 */
export interface ScryptCost {
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

/**
 * What play writes: N=2^16, r=8, p=1, i.e. 64 MiB and about 0.2 s per derivation, once per read or write.
 *
 * @example
 * sealVaultText(plaintext, passphrase, VAULT_SCRYPT_COST);
 */
export const VAULT_SCRYPT_COST: ScryptCost = { N: 65536, r: 8, p: 1 };

/**
 * An encrypted vault file as stored: a JSON object of text fields, so that it can be committed and diffed.
 * Byte fields are base64. Every field before `data` is authenticated as AES-GCM additional data; `digest` is a
 * SHA-256 of all the others, which tells a file changed by accident (a bad merge, a stray edit) from a wrong
 * passphrase without needing the passphrase. Security rests on AES-GCM, not on the digest.
 *
 * @example
 * { "play-vault": 1, "cipher": "aes-256-gcm", "kdf": "scrypt", "N": 65536, "r": 8, "p": 1,
 *   "salt": "…", "iv": "…", "check": "…", "data": "…", "tag": "…", "digest": "…" }
 */
export interface VaultEnvelope {
  readonly 'play-vault': 1;
  readonly cipher: 'aes-256-gcm';
  readonly kdf: 'scrypt';
  readonly N: number;
  readonly r: number;
  readonly p: number;
  /** 32 random bytes, new on every write. */
  readonly salt: string;
  /** 12 random bytes, new on every write. */
  readonly iv: string;
  /** Bytes 32–63 of the scrypt output (bytes 0–31 are the AES key): equal only for the right passphrase. */
  readonly check: string;
  /** The ciphertext of the vault's JSON. */
  readonly data: string;
  /** The 16-byte AES-GCM authentication tag. */
  readonly tag: string;
  /** SHA-256 of the additional data, `data` and `tag`. */
  readonly digest: string;
}

const SIZES = { salt: 32, iv: 12, check: 32, tag: 16 } as const;

/**
 * Whether a parsed vault file is an encrypted envelope (it has a `"play-vault"` field) rather than a plain-text
 * vault.
 *
 * @example
 * isVaultEnvelope(JSON.parse(readFileSync(path, 'utf8'))) // true for a file written by writeVault
 */
export function isVaultEnvelope(parsed: unknown): boolean {
  return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) && Object.hasOwn(parsed, 'play-vault');
}

/**
 * Encrypts a vault's plaintext under a passphrase, with a fresh salt and IV, into the envelope's text (pretty
 * JSON, one field a line, ending with a newline).
 *
 * @example
 * writeFileSync(path, sealVaultText(JSON.stringify({ tsig_key: '…' }), passphrase), { mode: 0o600 });
 */
export function sealVaultText(plaintext: string, passphrase: string, cost: ScryptCost = VAULT_SCRYPT_COST): string {
  const salt = randomBytes(SIZES.salt);
  const iv = randomBytes(SIZES.iv);
  const { key, check } = deriveKeys(passphrase, salt, cost);
  const header = {
    'play-vault': 1,
    cipher: 'aes-256-gcm',
    kdf: 'scrypt',
    N: cost.N,
    r: cost.r,
    p: cost.p,
    salt: b64(salt),
    iv: b64(iv),
    check: b64(check),
  } as const;
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: SIZES.tag });
  cipher.setAAD(additionalData(header));
  const data = b64(Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]));
  const tag = b64(cipher.getAuthTag());
  const envelope: VaultEnvelope = { ...header, data, tag, digest: digestOf(header, data, tag) };
  return `${JSON.stringify(envelope, null, 2)}\n`;
}

/**
 * Decrypts a parsed envelope with a passphrase and returns the plaintext. A wrong passphrase is a
 * {@link WrongVaultPassphraseError}; an envelope changed since it was written is a {@link TamperedVaultError};
 * a version, cipher or KDF this play does not know is a ValidationError saying so. All name `label`.
 *
 * With `derived`, keys that {@link deriveEnvelopeKeysAhead} made for this passphrase and salt are taken from it
 * instead of running scrypt again.
 *
 * @example
 * const plaintext = openVaultEnvelope(path, JSON.parse(readFileSync(path, 'utf8')), passphrase);
 */
export function openVaultEnvelope(
  label: string,
  envelope: unknown,
  passphrase: string,
  derived?: DerivedVaultKeys,
): string {
  const fields = checkFieldTypes(label, envelope);
  if (fields['play-vault'] !== 1)
    throw new ValidationError(
      `vault ${label} is a play-vault version ${fields['play-vault']} file: this play reads version 1 (a newer play wrote it)`,
    );
  if (fields.digest !== digestOf(fields, fields.data, fields.tag)) throw new TamperedVaultError(label);
  if (fields.cipher !== 'aes-256-gcm' || fields.kdf !== 'scrypt') {
    throw new ValidationError(
      `vault ${label} uses cipher ${fields.cipher} with ${fields.kdf}: this play reads aes-256-gcm with scrypt`,
    );
  }
  const { N, r, p } = fields;
  if (!costInBounds({ N, r, p })) throw new TamperedVaultError(label);
  const bytes = Object.fromEntries(
    (Object.keys(SIZES) as (keyof typeof SIZES)[]).map((name) => [name, strictBase64(fields[name], SIZES[name])]),
  ) as Record<keyof typeof SIZES, Buffer | undefined>;
  const data = strictBase64(fields.data);
  if (!bytes.salt || !bytes.iv || !bytes.check || !bytes.tag || !data) throw new TamperedVaultError(label);
  const { key, check } = deriveKeys(passphrase, bytes.salt, { N, r, p }, derived);
  if (!timingSafeEqual(check, bytes.check)) throw new WrongVaultPassphraseError(label);
  const decipher = createDecipheriv('aes-256-gcm', key, bytes.iv, { authTagLength: SIZES.tag });
  decipher.setAAD(additionalData(fields));
  decipher.setAuthTag(bytes.tag);
  try {
    return Buffer.concat([decipher.update(data), decipher.final()]).toString('utf8');
  } catch {
    throw new TamperedVaultError(label);
  }
}

type Header = Pick<VaultEnvelope, 'cipher' | 'kdf' | 'N' | 'r' | 'p' | 'salt' | 'iv' | 'check'> & {
  readonly 'play-vault': number;
};
type Fields = Header & Pick<VaultEnvelope, 'data' | 'tag' | 'digest'>;

function checkFieldTypes(label: string, envelope: unknown): Fields {
  const fields = envelope as Record<string, unknown>;
  const strings = ['cipher', 'kdf', 'salt', 'iv', 'check', 'data', 'tag', 'digest'];
  const integers = ['play-vault', 'N', 'r', 'p'];
  const ok =
    isVaultEnvelope(envelope) &&
    strings.every((name) => typeof fields[name] === 'string') &&
    integers.every((name) => Number.isSafeInteger(fields[name]));
  if (!ok) throw new TamperedVaultError(label);
  return fields as unknown as Fields;
}

/**
 * Whether an envelope's scrypt cost is one play accepts: bounds keep a changed file from making play allocate
 * gigabytes before anything is checked.
 */
function costInBounds(cost: { readonly N?: unknown; readonly r?: unknown; readonly p?: unknown }): cost is ScryptCost {
  const { N, r, p } = cost;
  if (typeof N !== 'number' || typeof r !== 'number' || typeof p !== 'number') return false;
  return Number.isInteger(Math.log2(N)) && N >= 2 ** 14 && N <= 2 ** 20 && r >= 1 && r <= 16 && p >= 1 && p <= 4;
}

/**
 * scrypt's output derived ahead by {@link deriveEnvelopeKeysAhead}, by passphrase, salt and cost, in memory only:
 * one per run (or per vault read on its own), never shared between runs.
 *
 * @example
 * const derived = new DerivedVaultKeys();
 * await deriveEnvelopeKeysAhead(envelope, passphrase, derived);
 * openVaultEnvelope(path, envelope, passphrase, derived); // no scrypt on the main thread
 */
export class DerivedVaultKeys {
  readonly #byInput = new Map<string, Buffer>();

  /** The 64 bytes derived for this passphrase, salt and cost, if derived ahead. */
  get(passphrase: string, salt: Buffer, cost: ScryptCost): Buffer | undefined {
    return this.#byInput.get(aheadKey(passphrase, salt, cost));
  }

  /** Keeps the 64 bytes derived for this passphrase, salt and cost. */
  set(passphrase: string, salt: Buffer, cost: ScryptCost, derived: Buffer): void {
    this.#byInput.set(aheadKey(passphrase, salt, cost), derived);
  }
}

function aheadKey(passphrase: string, salt: Buffer, cost: ScryptCost): string {
  return createHash('sha256')
    .update(passphrase.normalize('NFC'))
    .update('\0')
    .update(salt)
    .update(`\0${cost.N},${cost.r},${cost.p}`)
    .digest('base64');
}

/** 64 bytes from scrypt: the AES-256 key, then the key-check value. The passphrase is NFC-normalized first. */
function deriveKeys(
  passphrase: string,
  salt: Buffer,
  cost: ScryptCost,
  ahead?: DerivedVaultKeys,
): { key: Buffer; check: Buffer } {
  const derived =
    ahead?.get(passphrase, salt, cost) ??
    scryptSync(passphrase.normalize('NFC'), salt, 64, { ...cost, maxmem: 256 * cost.N * cost.r });
  return { key: derived.subarray(0, 32), check: derived.subarray(32) };
}

/**
 * Runs an envelope's scrypt off the main thread (libuv's pool) and keeps the result in `into`, so that
 * {@link openVaultEnvelope} with the same passphrase and `into` later finds the keys made: a caller overlaps other
 * work with the ~0.2-0.4 s it costs. Only for an envelope whose salt and cost {@link openVaultEnvelope} would
 * accept; anything else is left to it to report.
 *
 * @example
 * await deriveEnvelopeKeysAhead(envelope, passphrase, derived);
 */
export async function deriveEnvelopeKeysAhead(
  envelope: unknown,
  passphrase: string,
  into: DerivedVaultKeys,
): Promise<void> {
  if (typeof envelope !== 'object' || envelope === null) return;
  const fields = envelope as Partial<Record<string, unknown>>;
  if (!costInBounds(fields)) return;
  const { N, r, p } = fields;
  const salt = typeof fields.salt === 'string' ? strictBase64(fields.salt, SIZES.salt) : undefined;
  if (!salt) return;
  const cost = { N, r, p };
  const derived = await new Promise<Buffer>((done, fail) =>
    scrypt(passphrase.normalize('NFC'), salt, 64, { ...cost, maxmem: 256 * N * r }, (error, key) =>
      error ? fail(error) : done(key),
    ),
  );
  into.set(passphrase, salt, cost, derived);
}

/** The header as AES-GCM additional data: a JSON array in a fixed order, so no field can change unnoticed. */
function additionalData(header: Header): Buffer {
  const { N, r, p, salt, iv, check, cipher, kdf } = header;
  return Buffer.from(JSON.stringify([header['play-vault'], cipher, kdf, N, r, p, salt, iv, check]), 'utf8');
}

function digestOf(header: Header, data: string, tag: string): string {
  return createHash('sha256').update(additionalData(header)).update(`\n${data}\n${tag}`).digest('base64');
}

const b64 = (bytes: Buffer) => bytes.toString('base64');

/** The bytes of canonical base64 (of the given length, when given), or undefined. */
function strictBase64(text: string, length?: number): Buffer | undefined {
  const bytes = Buffer.from(text, 'base64');
  if (bytes.toString('base64') !== text) return undefined;
  return length === undefined || bytes.length === length ? bytes : undefined;
}
