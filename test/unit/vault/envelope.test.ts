import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../src/errors.ts';
import {
  DerivedVaultKeys,
  deriveEnvelopeKeysAhead,
  isVaultEnvelope,
  openVaultEnvelope,
  sealVaultText,
  VAULT_SCRYPT_COST,
} from '../../../src/vault/envelope.ts';
import { TamperedVaultError, WrongVaultPassphraseError } from '../../../src/vault/errors.ts';

const PLAINTEXT = JSON.stringify({
  tsig_key: 'tsig-secret-value-4417',
  tls_key: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n',
});
const PASSPHRASE = 'correct horse battery staple';
const sealed = sealVaultText(PLAINTEXT, PASSPHRASE);
const envelope = () => JSON.parse(sealed) as Record<string, string | number>;

/** The envelope with one base64 character of a field changed to another. */
function flipped(field: string, at = 3): Record<string, string | number> {
  const e = envelope();
  const text = String(e[field]);
  e[field] = `${text.slice(0, at)}${text[at] === 'A' ? 'B' : 'A'}${text.slice(at + 1)}`;
  return e;
}

/** What a forger who knows the format can do: recompute the passphrase-free digest after a change. */
function redigested(e: Record<string, string | number>): Record<string, string | number> {
  const aad = JSON.stringify([e['play-vault'], e.cipher, e.kdf, e.N, e.r, e.p, e.salt, e.iv, e.check]);
  return { ...e, digest: createHash('sha256').update(aad).update(`\n${e.data}\n${e.tag}`).digest('base64') };
}

const failure = (parsed: unknown, passphrase = PASSPHRASE) => {
  try {
    openVaultEnvelope('inventory/smknh.vault', parsed, passphrase);
  } catch (error) {
    return error as Error;
  }
  throw new Error('opened');
};

describe('the vault envelope', () => {
  it('opens with its passphrase to the same plaintext', () => {
    expect(openVaultEnvelope('v', JSON.parse(sealed), PASSPHRASE)).toBe(PLAINTEXT);
  });

  it('is text naming its format and cost, and holds no plaintext', () => {
    const e = envelope();
    expect(Object.keys(e)).toEqual([
      'play-vault',
      'cipher',
      'kdf',
      'N',
      'r',
      'p',
      'salt',
      'iv',
      'check',
      'data',
      'tag',
      'digest',
    ]);
    expect(e).toMatchObject({ 'play-vault': 1, cipher: 'aes-256-gcm', kdf: 'scrypt', ...VAULT_SCRYPT_COST });
    expect(VAULT_SCRYPT_COST).toEqual({ N: 65536, r: 8, p: 1 });
    expect(sealed.endsWith('}\n')).toBe(true);
    for (const needle of ['tsig_key', 'tsig-secret-value', 'PRIVATE KEY', PASSPHRASE])
      expect(sealed).not.toContain(needle);
    expect(isVaultEnvelope(e)).toBe(true);
    expect(isVaultEnvelope({ tsig_key: 'x' })).toBe(false);
  });

  it('takes a fresh salt and IV on every write', () => {
    const again = JSON.parse(sealVaultText(PLAINTEXT, PASSPHRASE));
    const first = envelope();
    for (const field of ['salt', 'iv', 'check', 'data', 'tag']) expect(again[field]).not.toBe(first[field]);
    expect(Buffer.from(String(first.salt), 'base64')).toHaveLength(32);
    expect(Buffer.from(String(first.iv), 'base64')).toHaveLength(12);
  });

  it('tells a wrong passphrase, naming the file', () => {
    const error = failure(JSON.parse(sealed), 'Correct horse battery staple');
    expect(error).toBeInstanceOf(WrongVaultPassphraseError);
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.message).toBe('vault inventory/smknh.vault: wrong passphrase');
  });

  it.each(['data', 'tag', 'salt', 'iv', 'check', 'digest'])(
    'tells a flipped byte in %s from a wrong passphrase: the file was changed',
    (field) => {
      const error = failure(flipped(field));
      expect(error).toBeInstanceOf(TamperedVaultError);
      expect(error.message).toBe(
        'vault inventory/smknh.vault was changed since it was written (authentication failed)',
      );
    },
  );

  it.each([
    ['N', 131072],
    ['r', 9],
    ['p', 2],
  ])('tells a changed header field (%s) as a changed file', (field, value) => {
    expect(failure({ ...envelope(), [field]: value })).toBeInstanceOf(TamperedVaultError);
  });

  it.each(['data', 'tag', 'iv'])(
    'refuses a changed %s even when the digest is made again (AES-GCM authentication)',
    (field) => {
      expect(failure(redigested(flipped(field)))).toBeInstanceOf(TamperedVaultError);
    },
  );

  it('fails closed on a salt changed with a digest made again: it cannot be told from a wrong passphrase', () => {
    expect(failure(redigested(flipped('salt')))).toBeInstanceOf(WrongVaultPassphraseError);
  });

  it('refuses scrypt costs that would make play allocate without bound, even with a valid digest', () => {
    for (const cost of [{ N: 2 ** 24 }, { N: 1000 }, { r: 64 }, { p: 99 }] as Record<string, number>[])
      expect(failure(redigested({ ...envelope(), ...cost }))).toBeInstanceOf(TamperedVaultError);
  });

  it('refuses missing fields, and names a version or cipher it does not read', () => {
    const { tag: _, ...noTag } = envelope();
    expect(failure(noTag)).toBeInstanceOf(TamperedVaultError);
    expect(failure({ ...envelope(), 'play-vault': 2 }).message).toBe(
      'vault inventory/smknh.vault is a play-vault version 2 file: this play reads version 1 (a newer play wrote it)',
    );
    expect(failure(redigested({ ...envelope(), cipher: 'chacha20-poly1305' })).message).toContain(
      'uses cipher chacha20-poly1305 with scrypt: this play reads aes-256-gcm with scrypt',
    );
  });

  it('normalizes the passphrase (NFC), so the same word typed on another keyboard opens the vault', () => {
    const text = sealVaultText('{}', 'caf\u00e9');
    expect(openVaultEnvelope('v', JSON.parse(text), 'cafe\u0301')).toBe('{}');
  });

  it('opens the same with keys derived ahead off the main thread; a wrong passphrase derived ahead is still wrong, and never stands in for the right one', async () => {
    const fresh = JSON.parse(sealVaultText(PLAINTEXT, PASSPHRASE));
    const derived = new DerivedVaultKeys();
    await deriveEnvelopeKeysAhead(fresh, 'wrong passphrase', derived);
    await deriveEnvelopeKeysAhead(fresh, PASSPHRASE, derived);
    expect(openVaultEnvelope('v', fresh, PASSPHRASE, derived)).toBe(PLAINTEXT);
    expect(() => openVaultEnvelope('v', fresh, 'wrong passphrase', derived)).toThrow(WrongVaultPassphraseError);
  });

  it('derives nothing ahead for an envelope it would refuse (a cost out of bounds, a salt of the wrong size, not an envelope): opening reports it', async () => {
    for (const bad of [{ ...envelope(), N: 2 ** 30 }, { ...envelope(), salt: 'AAAA' }, { tsig_key: 'x' }, null]) {
      await expect(deriveEnvelopeKeysAhead(bad, PASSPHRASE, new DerivedVaultKeys())).resolves.toBeUndefined();
    }
    expect(failure(redigested({ ...envelope(), N: 2 ** 30 }))).toBeInstanceOf(TamperedVaultError);
  });
});
