import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  SecretUnavailableError,
  VaultLockedError,
  WrongVaultPassphraseError,
  readVault,
  vaultFormat,
  writeVault,
} from '../../../src/vault.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'play-vault-file-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('writeVault and readVault', () => {
  it('round-trip the secrets through an encrypted file of mode 0600, in a new folder of mode 0700', () => {
    const path = join(dir, 'inventory', 'smknh.vault');
    const values = {
      tsig_key: 'b64-tsig-key-value==',
      replication_key: '-----BEGIN PRIVATE KEY-----\nMIG…\n-----END PRIVATE KEY-----\n',
    };
    writeVault(path, values, 'pass phrase');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'inventory')).mode & 0o777).toBe(0o700);
    expect(readdirSync(join(dir, 'inventory'))).toEqual(['smknh.vault']);
    expect(vaultFormat(path)).toBe('encrypted');
    expect(readFileSync(path, 'utf8')).not.toContain('tsig');
    expect(readVault(path, 'pass phrase')).toEqual(values);
  });

  it('a wrong, a missing passphrase and a missing file are errors naming the file', () => {
    const path = join(dir, 'smknh.vault');
    writeVault(path, { a: 'b' }, 'right');
    expect(() => readVault(path, 'wrong')).toThrow(WrongVaultPassphraseError);
    expect(() => readVault(path)).toThrow(new VaultLockedError(path));
    expect(() => readVault(join(dir, 'none.vault'), 'x')).toThrow(SecretUnavailableError);
  });

  it('reads a plain-text vault too', () => {
    const path = join(dir, 'plain.json');
    writeFileSync(path, '{"a": "b"}', { mode: 0o600 });
    expect(vaultFormat(path)).toBe('plain');
    expect(readVault(path)).toEqual({ a: 'b' });
  });

  it('refuses values that are not non-empty strings, and an empty passphrase, writing nothing', () => {
    expect(() => writeVault(join(dir, 'v'), { a: '' }, 'p')).toThrow('secret "a" must be a non-empty string');
    expect(() => writeVault(join(dir, 'v'), { a: 'b' }, '')).toThrow('an empty passphrase protects nothing');
    expect(readdirSync(dir)).toEqual([]);
  });
});
