import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { compileRun } from '../../src/engine/compile.ts';
import { ValidationError } from '../../src/errors.ts';
import {
  SecretType,
  Type,
  defineInventory,
  definePlaybook,
  defineRole,
  file,
  MaskTable,
  secret,
} from '../../src/index.ts';
import { openVault as openVaultAlone, vaultsUsedBy } from '../../src/vault/index.ts';
import { addSecretCommand } from '../../src/vault/random-secret.ts';
import {
  FileVault,
  SecretUnavailableError,
  TamperedVaultError,
  VaultLockedError,
  VaultSession,
  WrongVaultPassphraseError,
  readVault,
  vaultFormat,
  writeVault,
  type VaultOptions,
} from '../../src/vault.ts';

let dir: string;
let warnings: string[];
/** The session of the run these tests stand for: its warnings go to `warnings`. */
let session: VaultSession;
const envPasswordFile = process.env.PLAY_VAULT_PASSWORD_FILE;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'play-vault-'));
  warnings = [];
  session = new VaultSession({ warn: (line) => warnings.push(line) });
  delete process.env.PLAY_VAULT_PASSWORD_FILE;
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
  if (envPasswordFile === undefined) delete process.env.PLAY_VAULT_PASSWORD_FILE;
  else process.env.PLAY_VAULT_PASSWORD_FILE = envPasswordFile;
});

/** Opens a vault as an inventory does, and gives it to this test's run, as the CLI does with the vaults a run uses. */
function openVault(path: string, options?: VaultOptions): FileVault {
  const vault = openVaultAlone(path, options);
  expect(vault).toBeInstanceOf(FileVault);
  return (vault as FileVault).useSession(session);
}

/** A password file of mode 0600 holding `passphrase` and a newline. */
function passwordFile(name: string, passphrase: string): string {
  const path = join(dir, name);
  writeFileSync(path, `${passphrase}\n`, { mode: 0o600 });
  return path;
}

/** The error a function throws. */
function thrown(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    return error as Error;
  }
  throw new Error('nothing thrown');
}

describe('openVault', () => {
  it('reads a secret only when it is revealed, and masks it from then on', () => {
    const path = join(dir, 'vault.json');
    const vault = openVault(path);
    const later = vault.secret('tsig_key');
    writeFileSync(path, JSON.stringify({ tsig_key: 'vault-value-7731' }), { mode: 0o600 });
    expect(String(later)).toBe('********');
    const masks = new MaskTable().add(later);
    expect(masks.mask('key is vault-value-7731')).toBe('key is vault-value-7731');
    expect(later.reveal()).toBe('vault-value-7731');
    expect(masks.mask('key is vault-value-7731')).toBe('key is ********');
  });

  it('names the file and the secret when either is missing', () => {
    expect(() => openVault(join(dir, 'none.json')).secret('a').reveal()).toThrow(/vault .*none\.json does not exist/);
    writeFileSync(join(dir, 'v.json'), '{}', { mode: 0o600 });
    expect(() => openVault(join(dir, 'v.json')).secret('keepalived').reveal()).toThrow(
      new SecretUnavailableError(
        `secret "keepalived" is not in vault ${join(dir, 'v.json')} (a vault made by an older play lacks what newer roles use): add a random one with \`tr -dc A-Za-z0-9 </dev/urandom | head -c 24 | npx play vault set ${join(dir, 'v.json')} keepalived\``,
      ),
    );
    // The random half of the line it gives makes a value of the shape asked for, with no newline.
    for (const [shape, value] of [
      [{ base64Bytes: 32 }, /^[A-Za-z0-9+/]{43}=$/],
      [{ length: 32 }, /^[A-Za-z0-9]{32}$/],
    ] as const) {
      const [random, set] = addSecretCommand('v.vault', 'backup_password', shape).split(' | npx ');
      expect(set).toBe('play vault set v.vault backup_password');
      expect(execFileSync('bash', ['-c', random], { encoding: 'utf8' })).toMatch(value);
    }
  });

  it('refuses a vault others may read or change, naming the file, its mode and the fix', () => {
    for (const mode of [0o644, 0o640, 0o604, 0o620]) {
      const path = join(dir, `open-${mode.toString(8)}.json`);
      writeFileSync(path, '{"a": "b"}');
      chmodSync(path, mode);
      expect(() => openVault(path).secret('a').reveal()).toThrow(
        new ValidationError(
          `vault ${path} is open to others (mode 0${mode.toString(8)}): only its owner may read it (chmod 600 ${path})`,
        ),
      );
    }
  });

  it('refuses a vault that belongs to another user', () => {
    const path = join(dir, 'theirs.json');
    writeFileSync(path, '{"a": "b"}', { mode: 0o600 });
    chownSync(path, 65534, 65534);
    expect(() => openVault(path).secret('a').reveal()).toThrow(
      `vault ${path} belongs to uid 65534, not to uid ${process.getuid!()} who runs play`,
    );
  });

  it.each([
    ['null', 'is not a JSON object of strings: it holds null'],
    ['[1]', 'is not a JSON object of strings: it holds an array'],
    ['"text"', 'is not a JSON object of strings: it holds a string'],
    ['{"a": null}', 'secret "a" must be a non-empty string, but it is null'],
    ['{"a": 42}', 'secret "a" must be a non-empty string, but it is a number'],
    ['{"a": ""}', 'secret "a" must be a non-empty string, but it is an empty string'],
    ['{"a": {"b": "c"}}', 'secret "a" must be a non-empty string, but it is an object'],
    ['{"ok": "x", "a": true}', 'secret "a" must be a non-empty string, but it is a boolean'],
    ['{not json', 'is not a JSON object of strings: '],
  ])('refuses a vault holding %s, naming the file and the secret', (text, message) => {
    const path = join(dir, 'bad.json');
    writeFileSync(path, text, { mode: 0o600 });
    const error = (() => {
      try {
        openVault(path).secret('ok').reveal();
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error).toBeInstanceOf(ValidationError);
    expect(error!.message).toContain(`vault ${path}`);
    expect(error!.message).toContain(message);
  });

  it('with generate, makes a missing secret once, in a file only root can read, and keeps it', () => {
    const path = join(dir, 'sub', 'vault.json');
    const first = openVault(path, { generate: true }).secret('des_key', { length: 24 }).reveal();
    expect(first).toMatch(/^[A-Za-z0-9]{24}$/);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const key = openVault(path, { generate: true }).secret('tsig', { base64Bytes: 32 }).reveal();
    expect(Buffer.from(key, 'base64')).toHaveLength(32);
    expect(openVault(path).secret('des_key').reveal()).toBe(first);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ des_key: first, tsig: key });
  });
});

describe('openVault on an encrypted vault', () => {
  it('reads it with the passphrase from PLAY_VAULT_PASSWORD_FILE, lazily, and masks the secret', () => {
    const path = join(dir, 'smknh.vault');
    const vault = openVault(path);
    const later = vault.secret('tsig_key');
    writeVault(path, { tsig_key: 'encrypted-value-5521' }, 'school passphrase');
    process.env.PLAY_VAULT_PASSWORD_FILE = passwordFile('pass', 'school passphrase');
    const masks = new MaskTable().add(later);
    expect(later.reveal()).toBe('encrypted-value-5521');
    expect(masks.mask('key is encrypted-value-5521')).toBe('key is ********');
    expect(warnings).toEqual([]);
  });

  it('outside any run (a script of its own), reads it the same with a session of its own', () => {
    const path = join(dir, 'smknh.vault');
    const vault = openVaultAlone(path);
    const later = vault.secret('tsig_key');
    writeVault(path, { tsig_key: 'encrypted-value-5521' }, 'school passphrase');
    process.env.PLAY_VAULT_PASSWORD_FILE = passwordFile('pass', 'school passphrase');
    const masks = new MaskTable().add(later);
    expect(later.reveal()).toBe('encrypted-value-5521');
    expect(masks.mask('key is encrypted-value-5521')).toBe('key is ********');
    expect(warnings).toEqual([]);
  });

  it('takes the passphrase file from --vault-password-file, then PLAY_VAULT_PASSWORD_FILE, then its own setting', () => {
    const path = join(dir, 'smknh.vault');
    writeVault(path, { a: 'value-a' }, 'right');
    const [right, wrong] = [passwordFile('right', 'right'), passwordFile('wrong', 'wrong')];
    expect(openVault(path, { passwordFile: right }).secret('a').reveal()).toBe('value-a');
    process.env.PLAY_VAULT_PASSWORD_FILE = wrong;
    expect(() => openVault(path, { passwordFile: right }).secret('a').reveal()).toThrow(WrongVaultPassphraseError);
    process.env.PLAY_VAULT_PASSWORD_FILE = right;
    session = new VaultSession({ passwordFile: wrong });
    expect(() => openVault(path, { passwordFile: right }).secret('a').reveal()).toThrow(WrongVaultPassphraseError);
    session = new VaultSession({ passwordFile: right });
    process.env.PLAY_VAULT_PASSWORD_FILE = wrong;
    expect(openVault(path, { passwordFile: wrong }).secret('a').reveal()).toBe('value-a');
  });

  it('without a passphrase, says how to give one (exit code 2)', () => {
    const path = join(dir, 'smknh.vault');
    writeVault(path, { a: 'value-a' }, 'right');
    const error = thrown(() => openVault(path).secret('a').reveal());
    expect(error).toBeInstanceOf(VaultLockedError);
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.message).toBe(
      `vault ${path} is encrypted: give its passphrase with --vault-password-file FILE or PLAY_VAULT_PASSWORD_FILE`,
    );
  });

  it('a wrong passphrase and a changed file are invalid input naming the file, and quote no secret', () => {
    const path = join(dir, 'smknh.vault');
    writeVault(path, { a: 'value-a-7781' }, 'right');
    const wrong = thrown(() =>
      openVault(path, { passwordFile: passwordFile('wrong', 'wrong') })
        .secret('a')
        .reveal(),
    );
    expect(wrong).toEqual(new WrongVaultPassphraseError(path));
    const envelope = JSON.parse(readFileSync(path, 'utf8'));
    envelope.data = `${envelope.data.slice(0, -4)}${envelope.data.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
    writeFileSync(path, JSON.stringify(envelope), { mode: 0o600 });
    const tampered = thrown(() =>
      openVault(path, { passwordFile: passwordFile('right', 'right') })
        .secret('a')
        .reveal(),
    );
    expect(tampered).toBeInstanceOf(TamperedVaultError);
    expect(tampered.message).toBe(`vault ${path} was changed since it was written (authentication failed)`);
  });

  it('refuses a password file others may read, as it refuses such a vault', () => {
    const path = join(dir, 'smknh.vault');
    writeVault(path, { a: 'value-a' }, 'right');
    const open = passwordFile('open', 'right');
    chmodSync(open, 0o644);
    expect(() => openVault(path, { passwordFile: open }).secret('a').reveal()).toThrow(
      `vault password file ${open} is open to others (mode 0644)`,
    );
  });

  it('with generate, writes new secrets back encrypted, under the same passphrase', () => {
    const path = join(dir, 'smknh.vault');
    writeVault(path, { kept: 'kept-value-1' }, 'right');
    const pass = passwordFile('pass', 'right');
    const made = openVault(path, { generate: true, passwordFile: pass })
      .secret('doveadm_password', { length: 32 })
      .reveal();
    expect(made).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(vaultFormat(path)).toBe('encrypted');
    expect(readFileSync(path, 'utf8')).not.toContain(made);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readVault(path, 'right')).toEqual({ kept: 'kept-value-1', doveadm_password: made });
  });

  it('with generate and a passphrase at hand, makes a new vault encrypted', () => {
    const path = join(dir, 'new', 'smknh.vault');
    openVault(path, { generate: true, passwordFile: passwordFile('pass', 'right') })
      .secret('tsig_key', { base64Bytes: 32 })
      .reveal();
    expect(vaultFormat(path)).toBe('encrypted');
    expect(Object.keys(readVault(path, 'right'))).toEqual(['tsig_key']);
    expect(warnings).toEqual([]);
  });
});

describe('openVault on a plain-text vault', () => {
  it('still reads it, and warns once per vault how to encrypt it', () => {
    const path = join(dir, 'plain.json');
    writeFileSync(path, JSON.stringify({ a: 'plain-a', b: 'plain-b' }), { mode: 0o600 });
    expect(openVault(path).secret('a').reveal()).toBe('plain-a');
    expect(openVault(path).secret('b').reveal()).toBe('plain-b');
    expect(warnings).toEqual([
      `play: warning: vault ${path} is plain text: encrypt it with \`play vault encrypt ${path}\``,
    ]);
  });

  it('with generate, keeps it plain text', () => {
    const path = join(dir, 'plain.json');
    writeFileSync(path, JSON.stringify({ a: 'plain-a' }), { mode: 0o600 });
    process.env.PLAY_VAULT_PASSWORD_FILE = passwordFile('pass', 'unused');
    const made = openVault(path, { generate: true }).secret('b', { length: 8 }).reveal();
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ a: 'plain-a', b: made });
  });
});

describe("a run's vault session", () => {
  const encrypted = (name: string, passphrase: string) => {
    const path = join(dir, name);
    writeVault(path, { [`${name}_secret`]: `value-of-${name}` }, passphrase);
    return path;
  };

  it('asks once for the vaults that need a passphrase, tries it on the next, and keeps it for reveal()', async () => {
    const [a, b, c, withFile] = [
      encrypted('a', 'one'),
      encrypted('b', 'one'),
      encrypted('c', 'two'),
      encrypted('d', 'three'),
    ];
    const plain = join(dir, 'plain.json');
    writeFileSync(plain, '{"p": "q"}', { mode: 0o600 });
    const secrets = [
      openVault(a).secret('a_secret'),
      openVault(b).secret('b_secret'),
      openVault(c).secret('c_secret'),
      openVault(withFile, { passwordFile: passwordFile('pass', 'three') }).secret('d_secret'),
    ];
    const vaults = [...vaultsUsedBy(secrets), openVault(plain)];
    const answers = ['one', 'wrong', 'two'];
    const asked: string[] = [];
    let stderr = '';
    await session.unlock(vaults, {
      interactive: true,
      ask: async (question) => {
        asked.push(question);
        return answers.shift()!;
      },
      stderr: { write: (t: string) => (stderr += t) },
    });
    expect(asked).toEqual([
      `Vault passphrase for ${a}: `,
      `Vault passphrase for ${c}: `,
      `Vault passphrase for ${c}: `,
    ]);
    expect(stderr).toBe(`play: wrong passphrase for vault ${c}, try again\n`);
    expect(secrets.map((s) => s.reveal())).toEqual(['value-of-a', 'value-of-b', 'value-of-c', 'value-of-d']);
    // Typed passphrases stay in memory for vaults opened again this run.
    expect(openVault(c).secret('c_secret').reveal()).toBe('value-of-c');
  });

  it('reads only the vaults it is given: one opened but not used by the run is never read nor asked for', async () => {
    const [used, unused] = [encrypted('used', 'one'), encrypted('unused', 'two')];
    const inventory = {
      hosts: {
        a: {
          vars: { key: openVault(used).secret('used_secret'), list: [{ deep: openVault(used).secret('used_secret') }] },
        },
      },
    };
    const otherInventory = { vars: { key: openVault(unused).secret('unused_secret') } };
    const vaults = vaultsUsedBy(inventory, [{ vars: { plain: secret('given-as-is'), text: 'x' } }]);
    expect(vaults.map((v) => v.path)).toEqual([used, used]);
    expect(vaultsUsedBy(otherInventory).map((v) => v.path)).toEqual([unused]);
    const asked: string[] = [];
    await session.unlock(vaults, {
      interactive: true,
      ask: async (question) => {
        asked.push(question);
        return 'one';
      },
    });
    expect(asked).toEqual([`Vault passphrase for ${used}: `]);
  });

  it('gives up after three wrong passphrases', async () => {
    const a = encrypted('a', 'one');
    await expect(
      session.unlock([openVault(a)], { interactive: true, ask: async () => 'wrong', stderr: { write: () => true } }),
    ).rejects.toThrow(new WrongVaultPassphraseError(a));
  });

  it('asks nothing when not interactive (or stdin is no terminal): reading the vault then says how to give the passphrase', async () => {
    const a = encrypted('a', 'one');
    const vault = openVault(a);
    const secret = vault.secret('a_secret');
    let asked = 0;
    await session.unlock([vault], {
      interactive: false,
      ask: async () => {
        asked++;
        return 'one';
      },
    });
    await session.unlock([vault], { interactive: true, stdin: Object.assign(Readable.from([]), { isTTY: false }) });
    expect(asked).toBe(0);
    expect(() => secret.reveal()).toThrow(new VaultLockedError(a));
  });
});

describe('secrets in vars', () => {
  const role = defineRole({
    name: 'keepalived',
    schema: Type.Object({ authPass: SecretType() }),
    tasks: ({ vars }) => [file({ path: '/tmp/never', content: vars.authPass })],
  });
  const playbookWith = (path: string) => {
    const inventory = defineInventory({
      hosts: {
        primary: { address: 'localhost', connection: 'local', vars: { authPass: openVault(path).secret('auth_pass') } },
      },
    });
    return definePlaybook({ inventory, plays: [{ hosts: 'all', roles: [role] }] });
  };

  it('a secret missing from the vault is invalid input naming role, host and var', async () => {
    const playbook = playbookWith(join(dir, 'missing.json'));
    const error = await compileRun(playbook, playbook.inventory).catch((e) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.message).toContain('role keepalived on host primary');
    expect(error.message).toContain('vars.authPass');
    expect(error.message).toContain('missing.json does not exist');
  });

  it('listing hosts and tasks needs no vault', async () => {
    const playbook = playbookWith(join(dir, 'missing.json'));
    const run = await compileRun(playbook, playbook.inventory, { render: false });
    expect(run.plays[0].work.get('primary')!.works[0].tasks).toHaveLength(1);
  });
});
