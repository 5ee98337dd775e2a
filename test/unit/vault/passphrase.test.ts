import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ValidationError } from '../../../src/errors.ts';
import {
  askHidden,
  canAskHidden,
  readVaultPasswordFile,
  PassphraseSource,
  vaultPasswordFile,
} from '../../../src/vault/passphrase.ts';

let dir: string;
const env = process.env.PLAY_VAULT_PASSWORD_FILE;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'play-pass-'));
  delete process.env.PLAY_VAULT_PASSWORD_FILE;
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
  if (env === undefined) delete process.env.PLAY_VAULT_PASSWORD_FILE;
  else process.env.PLAY_VAULT_PASSWORD_FILE = env;
});

const passwordFile = (name: string, text: string, mode = 0o600) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  chmodSync(path, mode);
  return path;
};

describe('where the passphrase comes from', () => {
  it('the command line wins over the environment, which wins over the project setting', () => {
    const [flag, fromEnv, setting] = [
      passwordFile('flag', 'from flag\n'),
      passwordFile('env', 'from env\n'),
      passwordFile('setting', 'from setting\n'),
    ];
    const [withoutFlag, withFlag] = [new PassphraseSource(), new PassphraseSource({ passwordFile: flag })];
    expect(vaultPasswordFile()).toBeUndefined();
    expect(withoutFlag.known('v', setting)).toBe('from setting');
    process.env.PLAY_VAULT_PASSWORD_FILE = fromEnv;
    expect(withoutFlag.known('v', setting)).toBe('from env');
    expect(vaultPasswordFile(setting, flag)).toEqual({ path: flag, source: '--vault-password-file' });
    expect(withFlag.passwordFile(setting)).toEqual({ path: flag, source: '--vault-password-file' });
    expect(withFlag.known('v', setting)).toBe('from flag');
    expect(vaultPasswordFile(setting)).toEqual({ path: fromEnv, source: 'PLAY_VAULT_PASSWORD_FILE' });
    expect(withoutFlag.passwordFile(setting)).toEqual({ path: fromEnv, source: 'PLAY_VAULT_PASSWORD_FILE' });
  });

  it('a passphrase typed earlier is used when no file is given, for that vault only, and in that run only', () => {
    const run = new PassphraseSource();
    run.remember(join(dir, 'a.vault'), 'typed');
    expect(run.known(join(dir, 'a.vault'))).toBe('typed');
    expect(run.known(join(dir, 'b.vault'))).toBeUndefined();
    expect(new PassphraseSource().known(join(dir, 'a.vault'))).toBeUndefined();
  });
});

describe('readVaultPasswordFile', () => {
  it('drops one trailing newline, and only one', () => {
    const read = (text: string) =>
      readVaultPasswordFile({ path: passwordFile('p', text), source: '--vault-password-file' });
    expect(read('pass word\n')).toBe('pass word');
    expect(read('pass word\r\n')).toBe('pass word');
    expect(read('pass word\n\n')).toBe('pass word\n');
    expect(read('pass word')).toBe('pass word');
  });

  it('refuses a file others may read, a missing file and an empty one, naming where it came from', () => {
    const open = passwordFile('open', 'x\n', 0o644);
    expect(() => readVaultPasswordFile({ path: open, source: 'PLAY_VAULT_PASSWORD_FILE' })).toThrow(
      new ValidationError(
        `vault password file ${open} is open to others (mode 0644): only its owner may read it (chmod 600 ${open})`,
      ),
    );
    expect(() => readVaultPasswordFile({ path: join(dir, 'none'), source: 'PLAY_VAULT_PASSWORD_FILE' })).toThrow(
      `vault password file ${join(dir, 'none')} (from PLAY_VAULT_PASSWORD_FILE) does not exist`,
    );
    expect(() => readVaultPasswordFile({ path: passwordFile('empty', '\n'), source: '--vault-password-file' })).toThrow(
      '(from --vault-password-file) is empty',
    );
  });
});

describe('askHidden', () => {
  it('refuses to ask when stdin is not a terminal', async () => {
    const stdin = Readable.from(['secret\n']);
    expect(canAskHidden(stdin)).toBe(false);
    await expect(askHidden('Passphrase: ', { stdin, stderr: { write: () => true } })).rejects.toThrow(
      'stdin is not a terminal',
    );
  });

  it('reads a line in raw mode without echo, with Backspace, and restores the terminal', async () => {
    const modes: boolean[] = [];
    const stdin = Object.assign(new Readable({ read() {} }), {
      isTTY: true,
      isRaw: false,
      setRawMode: (raw: boolean) => modes.push(raw),
    });
    let shown = '';
    const answer = askHidden('Passphrase: ', { stdin, stderr: { write: (t: string) => (shown += t) } });
    stdin.push('pass\u007f\u007fsX\u007fs\r');
    expect(await answer).toBe('pass');
    expect(shown).toBe('Passphrase: \n');
    expect(modes).toEqual([true, false]);
  });
});
