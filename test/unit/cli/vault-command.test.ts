import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { selfSignedCertificate, issuedCertificate } from '../../../src/vault/certificate.ts';
import { VAULT_USAGE, vaultCommand } from '../../../src/cli/vault-command.ts';
import { readVault, vaultFormat, writeVault } from '../../../src/vault.ts';

const ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const PASSPHRASE = 'the school passphrase';
/** Every value a test stores; none may appear in any output, except that of `view --reveal`. */
const SECRETS = new Set<string>();
const outputs: string[] = [];

let dir: string;
let vault: string;
let pass: string;
const savedEnv = {
  EDITOR: process.env.EDITOR,
  VISUAL: process.env.VISUAL,
  PLAY_VAULT_PASSWORD_FILE: process.env.PLAY_VAULT_PASSWORD_FILE,
};
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'play-vault-cmd-'));
  vault = join(dir, 'inventory', 'smknh.vault');
  pass = join(dir, 'pass');
  writeFileSync(pass, `${PASSPHRASE}\n`, { mode: 0o600 });
  delete process.env.VISUAL;
  delete process.env.EDITOR;
  delete process.env.PLAY_VAULT_PASSWORD_FILE;
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
  for (const [name, value] of Object.entries(savedEnv)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});
afterAll(() => {
  const leaked = [...SECRETS].filter((value) => outputs.some((text) => text.includes(value)));
  expect(leaked).toEqual([]);
});

interface Outcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `play vault …` in this process with captured streams; stdin is the given text (not a terminal). */
async function playVault(
  args: readonly string[],
  options: { stdin?: string; reveals?: boolean } = {},
): Promise<Outcome> {
  let stdout = '';
  let stderr = '';
  const code = await vaultCommand(args, {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    stdin: Readable.from(options.stdin === undefined ? [] : [options.stdin]),
  });
  outputs.push(stderr);
  if (!options.reveals) outputs.push(stdout);
  return { code, stdout, stderr };
}

const withPass = (...args: string[]) => [...args, '--vault-password-file', pass];

/** An encrypted vault holding these values (remembered as secrets that must never be printed). */
function vaultWith(values: Record<string, string>): Record<string, string> {
  for (const value of Object.values(values)) SECRETS.add(value);
  writeVault(vault, values, PASSPHRASE);
  return values;
}

/** An editor: a `#!/bin/sh` script that records the path it was given in `edited-path`, then runs `body`. */
function editor(body: string): string {
  const path = join(dir, 'editor.sh');
  writeFileSync(path, `#!/bin/sh\necho "$1" > '${dir}/edited-path'\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}
const editedFolder = () => dirname(readFileSync(join(dir, 'edited-path'), 'utf8').trim());

describe('play vault create', () => {
  it('makes an empty encrypted vault of mode 0600, and refuses an existing file', async () => {
    const made = await playVault(withPass('create', vault));
    expect(made).toMatchObject({ code: 0, stderr: '' });
    expect(made.stdout).toContain(`created the encrypted vault ${vault}, empty`);
    expect(vaultFormat(vault)).toBe('encrypted');
    expect(statSync(vault).mode & 0o777).toBe(0o600);
    expect(readVault(vault, PASSPHRASE)).toEqual({});
    const again = await playVault(withPass('create', vault));
    expect(again.code).toBe(2);
    expect(again.stderr).toBe(
      `play vault: vault ${vault} exists already: change it with \`play vault edit ${vault}\` or \`play vault set ${vault} NAME\`\n`,
    );
  });

  it('takes the passphrase file from PLAY_VAULT_PASSWORD_FILE, and without any (and no terminal) says how to give one', async () => {
    const refused = await playVault(['create', vault]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('give the passphrase of vault');
    expect(refused.stderr).toContain('--vault-password-file FILE or PLAY_VAULT_PASSWORD_FILE');
    expect(existsSync(vault)).toBe(false);
    process.env.PLAY_VAULT_PASSWORD_FILE = pass;
    expect((await playVault(['create', vault])).code).toBe(0);
    expect(readVault(vault, PASSPHRASE)).toEqual({});
  });
});

describe('play vault encrypt', () => {
  it('encrypts a plain-text vault in place, and refuses an encrypted one', async () => {
    const values = { tsig_key: 'plain-tsig-value-0042', doveadm_password: 'plain-doveadm-0043' };
    for (const value of Object.values(values)) SECRETS.add(value);
    const path = join(dir, 'plain.json');
    writeFileSync(path, JSON.stringify(values), { mode: 0o600 });
    const done = await playVault(withPass('encrypt', path));
    expect(done.code).toBe(0);
    expect(done.stdout).toContain(`encrypted vault ${path} (2 secrets)`);
    expect(readFileSync(path, 'utf8')).not.toContain('plain-tsig');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readVault(path, PASSPHRASE)).toEqual(values);
    const again = await playVault(withPass('encrypt', path));
    expect(again).toMatchObject({
      code: 2,
      stderr: `play vault: vault ${path} is encrypted already (a new passphrase: \`play vault rekey ${path}\`)\n`,
    });
  });
});

describe('play vault view', () => {
  it('lists the names with their values masked', async () => {
    const key = selfSignedCertificate({ commonName: 'x', names: [] }).key;
    vaultWith({ tls_key: key, keepalived_password: 'Kq7mPx2R' });
    const shown = await playVault(withPass('view', vault));
    expect(shown.code).toBe(0);
    expect(shown.stdout).toBe(
      `tls_key: ******** (${key.length} characters, PEM private key)\nkeepalived_password: ******** (8 characters, letters and digits)\n`,
    );
  });

  it('with --reveal prints the JSON, values and all', async () => {
    const values = vaultWith({ tsig_key: 'revealed-value-1234' });
    const shown = await playVault(withPass('view', vault, '--reveal'), { reveals: true });
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout)).toEqual(values);
  });

  it('a wrong passphrase and a changed vault are exit code 2, naming the file', async () => {
    vaultWith({ tsig_key: 'value-for-wrong-pass-1' });
    writeFileSync(join(dir, 'wrong'), 'not it\n', { mode: 0o600 });
    const wrong = await playVault(['view', vault, '--vault-password-file', join(dir, 'wrong')]);
    expect(wrong).toMatchObject({ code: 2, stdout: '', stderr: `play vault: vault ${vault}: wrong passphrase\n` });
    writeFileSync(
      vault,
      readFileSync(vault, 'utf8').replace(/"tag": "(.)/, (_, c) => `"tag": "${c === 'A' ? 'B' : 'A'}`),
      { mode: 0o600 },
    );
    const changed = await playVault(withPass('view', vault));
    expect(changed).toMatchObject({
      code: 2,
      stderr: `play vault: vault ${vault} was changed since it was written (authentication failed)\n`,
    });
  });

  it('without a passphrase and no terminal, says how to give one', async () => {
    vaultWith({ tsig_key: 'value-for-locked-1' });
    const locked = await playVault(['view', vault]);
    expect(locked).toMatchObject({
      code: 2,
      stderr: `play vault: vault ${vault} is encrypted: give its passphrase with --vault-password-file FILE or PLAY_VAULT_PASSWORD_FILE\n`,
    });
  });

  it('reads a plain-text vault too, with the warning', async () => {
    SECRETS.add('plain-view-value-9');
    const path = join(dir, 'plain.json');
    writeFileSync(path, '{"a": "plain-view-value-9"}', { mode: 0o600 });
    const shown = await playVault(['view', path]);
    expect(shown).toMatchObject({
      code: 0,
      stdout: 'a: ******** (18 characters)\n',
      stderr: `play: warning: vault ${path} is plain text: encrypt it with \`play vault encrypt ${path}\`\n`,
    });
  });
});

describe('play vault set', () => {
  it('stores a value read from stdin, dropping the newline of a one-line value', async () => {
    vaultWith({ kept: 'kept-value-for-set' });
    SECRETS.add('new-value-from-stdin');
    const done = await playVault(withPass('set', vault, 'doveadm_password'), { stdin: 'new-value-from-stdin\n' });
    expect(done).toMatchObject({ code: 0, stderr: '' });
    expect(done.stdout).toBe(
      `added secret "doveadm_password" in vault ${vault} (20 characters): the next play run applies it\n`,
    );
    expect(readVault(vault, PASSPHRASE)).toEqual({
      kept: 'kept-value-for-set',
      doveadm_password: 'new-value-from-stdin',
    });
  });

  it('keeps a multi-line value (a PEM key) as it is', async () => {
    vaultWith({ kept: 'kept-value-for-set' });
    const { key } = selfSignedCertificate({ commonName: 'x', names: [] });
    SECRETS.add(key);
    expect((await playVault(withPass('set', vault, 'tls_key'), { stdin: key })).code).toBe(0);
    expect(readVault(vault, PASSPHRASE).tls_key).toBe(key);
  });

  it('refuses a value on the command line, and an empty one', async () => {
    vaultWith({ kept: 'kept-value-for-set' });
    const onArgv = await playVault(withPass('set', vault, 'name', 'hunter2'));
    expect(onArgv.code).toBe(2);
    expect(onArgv.stderr).toContain('reads the value from stdin, never from the command line');
    const empty = await playVault(withPass('set', vault, 'name'), { stdin: '\n' });
    expect(empty).toMatchObject({
      code: 2,
      stderr: 'play vault: the value of "name" is empty (give it on stdin): nothing written\n',
    });
    expect(readVault(vault, PASSPHRASE)).toEqual({ kept: 'kept-value-for-set' });
  });
});

describe('play vault rotate', () => {
  it('replaces one secret by a new one of the same kind, leaving the others alone', async () => {
    const values = vaultWith({
      tsig_key: Buffer.alloc(32, 7).toString('base64'),
      roundcube_des_key: 'abcdefghijkmnpqrstuvwxyz',
      keepalived_password: 'Kq7mPx2R',
    });
    const done = await playVault(withPass('rotate', vault, 'tsig_key'));
    expect(done).toMatchObject({
      code: 0,
      stdout: `rotated "tsig_key" in vault ${vault}: the next play run applies it\n`,
    });
    const after = readVault(vault, PASSPHRASE);
    SECRETS.add(after.tsig_key);
    expect(after.tsig_key).not.toBe(values.tsig_key);
    expect(Buffer.from(after.tsig_key, 'base64')).toHaveLength(32);
    expect({ ...after, tsig_key: undefined }).toEqual({ ...values, tsig_key: undefined });
  });

  it('makes a self-signed certificate and its key again, together', async () => {
    const pair = selfSignedCertificate({
      organization: 'smknh.sch.id',
      commonName: 'replication.smknh.sch.id',
      names: ['192.168.30.1', '192.168.30.2'],
    });
    vaultWith({ replication_certificate: pair.certificate, replication_key: pair.key });
    const done = await playVault(withPass('rotate', vault, 'replication_key'));
    expect(done.stdout).toBe(
      `rotated "replication_certificate" and "replication_key" in vault ${vault}: the next play run applies them\n`,
    );
    const after = readVault(vault, PASSPHRASE);
    SECRETS.add(after.replication_key);
    expect(after.replication_certificate).not.toBe(pair.certificate);
    expect(after.replication_key).not.toBe(pair.key);
  });

  it('refuses a certificate issued by a CA and a value of unknown kind (exit 2), saying to use play vault set', async () => {
    const ca = selfSignedCertificate({ commonName: 'Lab CA', names: [] });
    const tls = issuedCertificate({ commonName: 'mail.smknh.sch.id', names: ['mail.smknh.sch.id'] }, ca);
    vaultWith({ tls_certificate: tls.certificate, tls_key: tls.key, admin_password: 'p@ss word!' });
    const before = readFileSync(vault, 'utf8');
    const issued = await playVault(withPass('rotate', vault, 'tls_certificate'));
    expect(issued.code).toBe(2);
    expect(issued.stderr).toContain('is issued by a certificate authority (CN=Lab CA), not self-signed');
    expect(issued.stderr).toContain(`\`play vault set ${vault} tls_certificate\``);
    const unknown = await playVault(withPass('rotate', vault, 'admin_password'));
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain(`store a new value with \`play vault set ${vault} admin_password\``);
    expect(readFileSync(vault, 'utf8')).toBe(before);
  });
});

describe('play vault rekey', () => {
  it('encrypts the vault under the new passphrase from --new-vault-password-file', async () => {
    const values = vaultWith({ tsig_key: 'value-for-rekey-77' });
    const newPass = join(dir, 'new-pass');
    writeFileSync(newPass, 'a new passphrase\n', { mode: 0o600 });
    const done = await playVault(withPass('rekey', vault, '--new-vault-password-file', newPass));
    expect(done).toMatchObject({ code: 0, stdout: `vault ${vault} now opens with the new passphrase (1 secret)\n` });
    expect(readVault(vault, 'a new passphrase')).toEqual(values);
    expect(() => readVault(vault, PASSPHRASE)).toThrow('wrong passphrase');
  });

  it('without a new passphrase and no terminal, says how to give one', async () => {
    vaultWith({ tsig_key: 'value-for-rekey-78' });
    const refused = await playVault(withPass('rekey', vault));
    expect(refused).toMatchObject({
      code: 2,
      stderr: `play vault: give the new passphrase of vault ${vault} with --new-vault-password-file FILE\n`,
    });
  });
});

describe('play vault edit', () => {
  it('stores what the editor changed, and removes the decrypted file and its folder', async () => {
    vaultWith({ tsig_key: 'old-tsig-value-1', kept: 'kept-value-for-edit' });
    SECRETS.add('new-tsig-value-2');
    process.env.EDITOR = editor(`sed -i 's/old-tsig-value-1/new-tsig-value-2/' "$1"`);
    const done = await playVault(withPass('edit', vault));
    expect(done).toMatchObject({ code: 0, stdout: `vault ${vault}: changed "tsig_key"\n`, stderr: '' });
    expect(readVault(vault, PASSPHRASE)).toEqual({ tsig_key: 'new-tsig-value-2', kept: 'kept-value-for-edit' });
    expect(vaultFormat(vault)).toBe('encrypted');
    expect(editedFolder().startsWith('/dev/shm/')).toBe(true);
    expect(existsSync(editedFolder())).toBe(false);
  });

  it('uses $VISUAL before $EDITOR, and writes nothing when nothing changed', async () => {
    vaultWith({ tsig_key: 'unchanged-value-for-edit' });
    const before = readFileSync(vault, 'utf8');
    process.env.VISUAL = editor('true');
    process.env.EDITOR = '/bin/false';
    const done = await playVault(withPass('edit', vault));
    expect(done).toMatchObject({ code: 0, stdout: `no change: vault ${vault} is as it was\n` });
    expect(readFileSync(vault, 'utf8')).toBe(before);
  });

  it.each([
    ['a failing editor', 'exit 1', 1, 'exited with code 1: nothing written'],
    [
      'an edit that is not JSON',
      `printf '{"tsig_key": "half-typed' > "$1"`,
      2,
      `vault VAULT is not a JSON object of strings: invalid JSON at line 1, column 25: the edit is not kept, nothing written`,
    ],
    [
      'an edit with a value that is not a string',
      `printf '{"tsig_key": 42}' > "$1"`,
      2,
      'secret "tsig_key" must be a non-empty string, but it is a number',
    ],
  ])('leaves the vault as it was after %s, and removes the decrypted file', async (_, body, code, message) => {
    vaultWith({ tsig_key: 'value-kept-after-bad-edit' });
    const before = readFileSync(vault, 'utf8');
    process.env.EDITOR = editor(body);
    const done = await playVault(withPass('edit', vault));
    expect(done.code).toBe(code);
    expect(done.stderr).toContain(message.replace('VAULT', vault));
    expect(readFileSync(vault, 'utf8')).toBe(before);
    expect(existsSync(editedFolder())).toBe(false);
  });

  /** `play vault edit` in its own process, under an editor that waits; resolves once the editor has the file. */
  function editInChild(): Promise<{
    child: ReturnType<typeof spawn>;
    exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
  }> {
    const runner = join(dir, 'runner.mts');
    writeFileSync(
      runner,
      `import { vaultCommand } from ${JSON.stringify(join(ROOT, 'src/cli/vault-command.ts'))};\nprocess.exitCode = await vaultCommand(process.argv.slice(2), process);\n`,
    );
    const child = spawn(process.execPath, ['--import', 'tsx', runner, ...withPass('edit', vault)], {
      cwd: ROOT,
      env: { ...process.env, EDITOR: editor('exec sleep 30') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (chunk) => (stderr += chunk));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((done) =>
      child.on('exit', (code, signal) => done({ code, signal, stderr })),
    );
    return new Promise((ready, fail) => {
      const started = Date.now();
      const poll = setInterval(() => {
        if (existsSync(join(dir, 'edited-path'))) {
          clearInterval(poll);
          ready({ child, exited });
        } else if (Date.now() - started > 20_000) {
          clearInterval(poll);
          child.kill('SIGKILL');
          fail(new Error(`the editor never started: ${stderr}`));
        }
      }, 50);
    });
  }

  it('removes the decrypted file and writes nothing when play gets SIGTERM while the editor runs', async () => {
    vaultWith({ tsig_key: 'value-kept-after-sigterm' });
    const before = readFileSync(vault, 'utf8');
    const { child, exited } = await editInChild();
    expect(existsSync(editedFolder())).toBe(true);
    child.kill('SIGTERM');
    expect(await exited).toMatchObject({ code: null, signal: 'SIGTERM' });
    expect(existsSync(editedFolder())).toBe(false);
    expect(readFileSync(vault, 'utf8')).toBe(before);
  }, 30_000);

  it('passes SIGINT to the editor; when it ends by it, the decrypted file is removed and nothing written (exit 130)', async () => {
    vaultWith({ tsig_key: 'value-kept-after-sigint' });
    const before = readFileSync(vault, 'utf8');
    const { child, exited } = await editInChild();
    child.kill('SIGINT');
    const outcome = await exited;
    expect(outcome.code).toBe(130);
    expect(outcome.stderr).toContain('was stopped by SIGINT: nothing written');
    expect(existsSync(editedFolder())).toBe(false);
    expect(readFileSync(vault, 'utf8')).toBe(before);
  }, 30_000);
});

describe('play vault usage', () => {
  it('prints the usage with --help, and refuses unknown commands and options (exit 2)', async () => {
    expect(await playVault(['--help'])).toEqual({ code: 0, stdout: `${VAULT_USAGE}\n`, stderr: '' });
    expect(await playVault(['shred', 'x'])).toMatchObject({
      code: 2,
      stderr:
        'play vault: unknown vault command "shred": create, encrypt, view, edit, set, rotate or rekey (see play vault --help)\n',
    });
    expect((await playVault(['view', 'x', '--colour'])).code).toBe(2);
    expect(await playVault(['view'])).toMatchObject({
      code: 2,
      stderr: 'play vault: usage: play vault view FILE [--reveal]\n',
    });
    expect(await playVault(['set', 'x', 'y', '--reveal'])).toMatchObject({
      code: 2,
      stderr: 'play vault: --reveal is an option of play vault view only\n',
    });
  });
});
