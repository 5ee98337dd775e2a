import fs, { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import fsPromises from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.ts';
import type { Inventory, Playbook } from '../../../src/index.ts';
import { vaultsUsedBy, writeVault } from '../../../src/vault/index.ts';
import { projectVaultPath, schoolProjectFiles } from '../../../roles/school/project-files.ts';
import { LAB_VAULT, LAB_VAULT_PASSWORD_FILE } from '../../lab/config.ts';

// Importing a playbook or an inventory must do nothing by itself: no vault is read (nor its password file) until a
// run reveals one of its secrets, and only the run that uses a vault reads it. Every read, stat or open of a file
// through node:fs is recorded while the project's playbooks and inventories (and those `play init` writes) are
// imported; the vaults they name exist, with their passphrase at hand, so that any read would succeed and be seen.

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const FS_FUNCTIONS = [
  'readFileSync',
  'existsSync',
  'statSync',
  'lstatSync',
  'openSync',
  'accessSync',
  'readFile',
  'stat',
  'open',
  'createReadStream',
] as const;
const PROMISE_FUNCTIONS = ['readFile', 'stat', 'open', 'access'] as const;

const OTHER_INVENTORY = `import { join } from 'node:path';
import { defineInventory } from 'play';
import { openVault } from 'play/vault';

const vault = openVault(join(import.meta.dirname, 'other.vault'));
export default defineInventory({ hosts: { primary: { address: '127.0.0.1', connection: 'local', vars: { otherKey: vault.secret('other_key') } } } });
`;

let dir: string;
let initProject: string;
let vaultFiles: string[];
const touched: string[] = [];
const restore: (() => void)[] = [];
const savedEnv = { PLAY_VAULT: process.env.PLAY_VAULT, PLAY_VAULT_PASSWORD_FILE: process.env.PLAY_VAULT_PASSWORD_FILE };

/** Wraps one function of a module object so that its first argument, a path, is recorded when it names a vault file. */
function record(target: Record<string, unknown>, name: string): void {
  const original = target[name] as (...args: unknown[]) => unknown;
  target[name] = function recorded(this: unknown, ...args: unknown[]) {
    const path =
      args[0] instanceof URL ? fileURLToPath(args[0]) : typeof args[0] === 'string' ? resolve(args[0]) : undefined;
    if (path && vaultFiles.includes(path)) touched.push(`${name} ${path}`);
    return original.apply(this, args);
  };
  restore.push(() => (target[name] = original));
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'play-import-'));
  // The school's own inventory reads its vault's path from PLAY_VAULT; PLAY_VAULT_PASSWORD_FILE opens any vault.
  const smknhVault = join(dir, 'smknh.vault');
  const passwordFile = join(dir, 'pass');
  writeFileSync(passwordFile, 'import test passphrase\n', { mode: 0o600 });
  writeVault(smknhVault, { tsig_key: 'import-test-tsig-key-5521' }, 'import test passphrase');
  process.env.PLAY_VAULT = smknhVault;
  process.env.PLAY_VAULT_PASSWORD_FILE = passwordFile;
  // The project `play init` writes, its inventory and playbook as they are (its vault and password file beside).
  initProject = mkdtempSync(join(ROOT, 'test', 'unit', 'playbooks', '.init-project-'));
  const files = schoolProjectFiles({
    site: {
      schoolName: 'Import Test School',
      domain: 'import.test',
      lanInterface: 'eth0',
      lanNetwork: '10.9.0.0/24',
      primaryAddress: '10.9.0.1',
      backupAddress: '10.9.0.2',
      vip: '10.9.0.254',
      router: '10.9.0.254',
      dhcpRange: { start: '10.9.0.100', end: '10.9.0.200' },
      accounts: [{ name: 'guru1', fullName: 'Guru 1' }],
    },
    ssh: { user: 'root' },
    playVersion: '0.1.0',
    passphrase: 'project-file',
    certificate: 'self-signed',
  }).filter((file) => file.path.endsWith('.ts'));
  for (const file of files) {
    mkdirSync(join(initProject, file.path, '..'), { recursive: true });
    writeFileSync(join(initProject, file.path), file.content);
  }
  // An inventory of its own, for a run that replaces the playbook's inventory with it (-i).
  writeFileSync(join(initProject, 'inventory', 'other.ts'), OTHER_INVENTORY);
  writeVault(
    join(initProject, 'inventory', 'other.vault'),
    { other_key: 'import-test-other-key-4410' },
    'import test passphrase',
  );
  const initVault = join(initProject, projectVaultPath('import.test'));
  writeVault(initVault, { tsig_key: 'import-test-init-key-7731' }, 'import test passphrase');
  writeFileSync(join(initProject, '.vault-password'), 'import test passphrase\n', { mode: 0o600 });
  vaultFiles = [
    smknhVault,
    passwordFile,
    initVault,
    join(initProject, '.vault-password'),
    join(initProject, 'inventory', 'other.vault'),
    LAB_VAULT,
    LAB_VAULT_PASSWORD_FILE,
  ].map((p) => resolve(p));
  for (const name of FS_FUNCTIONS) record(fs as unknown as Record<string, unknown>, name);
  for (const name of PROMISE_FUNCTIONS) record(fsPromises as unknown as Record<string, unknown>, name);
  // `import { readFileSync } from 'node:fs'` in src sees the recording functions too.
  syncBuiltinESMExports();
});

afterAll(() => {
  for (const undo of restore) undo();
  syncBuiltinESMExports();
  rmSync(dir, { recursive: true, force: true });
  rmSync(initProject, { recursive: true, force: true });
  for (const [name, value] of Object.entries(savedEnv)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

/** The .ts files of a folder of the repository (or of the init project), as absolute paths. */
const tsFiles = (folder: string) =>
  readdirSync(folder)
    .filter((name) => name.endsWith('.ts'))
    .map((name) => join(folder, name));

describe('importing playbooks and inventories', () => {
  it('reads no vault and no password file: every playbook and inventory of the project, and those play init writes', async () => {
    const files = [
      ...tsFiles(join(ROOT, 'playbooks')),
      ...tsFiles(join(ROOT, 'inventory')),
      ...tsFiles(join(initProject, 'inventory')),
      ...tsFiles(join(initProject, 'playbooks')),
    ];
    expect(files.map((f) => f.slice(ROOT.length))).toEqual(
      expect.arrayContaining(['playbooks/site.ts', 'inventory/lab.ts', 'inventory/smknh.ts']),
    );
    expect(files.length).toBeGreaterThanOrEqual(5);
    const vaults = [];
    for (const file of files) {
      const loaded = ((await import(pathToFileURL(file).href)) as { default: Playbook | Inventory }).default;
      vaults.push(...vaultsUsedBy('plays' in loaded ? [loaded.inventory, loaded.plays] : loaded));
    }
    expect(touched).toEqual([]);
    // They do name the vaults: the school's, the lab's and the init project's (and the other), described but not read.
    const named = [
      process.env.PLAY_VAULT!,
      LAB_VAULT,
      join(initProject, projectVaultPath('import.test')),
      join(initProject, 'inventory', 'other.vault'),
    ];
    expect(new Set(vaults.map((v) => resolve(v.path)))).toEqual(new Set(named.map((p) => resolve(p))));
  });

  it('reads a vault when a secret of it is revealed, and only that one: the recording sees what it must', async () => {
    const inventory = ((await import('../../../inventory/smknh.ts')) as { default: Inventory }).default;
    const [vault] = vaultsUsedBy(inventory);
    expect(vault.secret('tsig_key').reveal()).toBe('import-test-tsig-key-5521');
    const vaultPath = resolve(process.env.PLAY_VAULT!);
    expect(touched.some((t) => t.endsWith(` ${vaultPath}`))).toBe(true);
    expect(
      touched.filter(
        (t) => !t.endsWith(` ${vaultPath}`) && !t.endsWith(` ${resolve(process.env.PLAY_VAULT_PASSWORD_FILE!)}`),
      ),
    ).toEqual([]);
  });

  it('a run with -i opens the vault of the inventory it uses, not the one the playbook imported', async () => {
    await import('../../../playbooks/site.ts');
    touched.length = 0;
    let output = '';
    const streams = {
      stdout: { write: (t: string) => (output += t) },
      stderr: { write: (t: string) => (output += t) },
    };
    // The school's roles refuse this inventory's vars (exit 2): the vaults are unlocked before, which is what is seen.
    const code = await main(
      [join(ROOT, 'playbooks', 'site.ts'), '-i', join(initProject, 'inventory', 'other.ts'), '--check'],
      streams,
    );
    expect(code, output).toBe(2);
    const other = resolve(join(initProject, 'inventory', 'other.vault'));
    expect(touched.some((t) => t.endsWith(` ${other}`))).toBe(true);
    expect(touched.filter((t) => t.includes(resolve(process.env.PLAY_VAULT!)))).toEqual([]);
  });
});
