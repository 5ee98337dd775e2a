import { execFile } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadInventory, loadPlaybook } from '../../../src/cli/load.ts';
import { compileRun } from '../../../src/engine/compile.ts';
import { Secret } from '../../../src/index.ts';
import { selfSignedCertificate } from '../../../src/vault/index.ts';
import { readVault } from '../../../src/vault.ts';
import { initCommand, type InitStreams } from '../../../roles/school/init.ts';
import { schoolSecretNames } from '../../../roles/school/secrets.ts';

const ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const BIN = join(ROOT, 'dist/src/cli/play.js');

const SITE_FLAGS: Record<string, string> = {
  '--school': 'SMA Harapan Bangsa',
  '--domain': 'smahb.sch.id',
  '--lan': '10.20.0.0/24',
  '--interface': 'ens18',
  '--primary': '10.20.0.1',
  '--backup': '10.20.0.2',
  '--vip': '10.20.0.254',
  '--router': '10.20.0.10',
  '--dhcp-range': '10.20.0.100-10.20.0.200',
  '--accounts': 'kepsek=Kepala Sekolah,guru1,guru.mtk',
};
const ACCOUNTS = [{ name: 'kepsek' }, { name: 'guru1' }, { name: 'guru.mtk' }];
const FILES = [
  'package.json',
  'tsconfig.json',
  'inventory/smahb.ts',
  'inventory/smahb.vault',
  'playbooks/site.ts',
  'playbooks/backup.ts',
  'playbooks/restore.ts',
  'playbooks/upgrade.ts',
  '.gitignore',
  'README.md',
  '.vault-password',
];

/** The flags of the test school with some changed (a value of undefined drops the flag). */
function flags(changes: Record<string, string | undefined> = {}): string[] {
  return Object.entries({ ...SITE_FLAGS, ...changes }).flatMap(([flag, value]) =>
    value === undefined ? [] : [flag, value],
  );
}

interface Outcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `play init` in this process, without a terminal unless one is given. */
async function init(args: readonly string[], io: Partial<InitStreams> = {}): Promise<Outcome> {
  let stdout = '';
  let stderr = '';
  const code = await initCommand(args, {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    isTTY: false,
    ...io,
  });
  return { code, stdout, stderr };
}

/** Every file under a folder, relative to it. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => !entry.isDirectory())
    .map((entry) => join(entry.parentPath, entry.name).slice(dir.length + 1))
    .sort();
}

/** Whether any secret (or one line of a multi-line one) shows up in a text. */
function leakedSecrets(text: string, values: Readonly<Record<string, string>>, passphrase: string): string[] {
  const lines = Object.entries(values).flatMap(([name, value]) => [
    [name, value],
    ...value
      .split('\n')
      .filter((l) => l.length >= 16 && !l.startsWith('-----'))
      .map((l) => [name, l]),
  ]);
  return [
    ...lines.filter(([, value]) => text.includes(value)).map(([name]) => name),
    ...(text.includes(passphrase) ? ['the passphrase'] : []),
  ];
}

let work: string;
let savedPasswordFile: string | undefined;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'play-init-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));
beforeEach(() => {
  savedPasswordFile = process.env.PLAY_VAULT_PASSWORD_FILE;
  delete process.env.PLAY_VAULT_PASSWORD_FILE;
});
afterEach(() => {
  if (savedPasswordFile === undefined) delete process.env.PLAY_VAULT_PASSWORD_FILE;
  else process.env.PLAY_VAULT_PASSWORD_FILE = savedPasswordFile;
});

describe("play init: a new school's project", () => {
  let project: string;
  let outcome: Outcome;
  beforeAll(async () => {
    project = join(work, 'smahb');
    outcome = await init([project, ...flags()]);
  });

  it('writes every file, with the vault and its random passphrase (0600), and says so on stdout', () => {
    expect(outcome.stderr).toBe('');
    expect(outcome.code).toBe(0);
    expect(filesUnder(project)).toEqual([...FILES].sort());
    expect(statSync(join(project, '.vault-password')).mode & 0o777).toBe(0o600);
    expect(statSync(join(project, 'inventory/smahb.vault')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(project, '.vault-password'), 'utf8')).toMatch(/^[A-Za-z0-9_-]{32}\n$/);
    for (const file of FILES) expect(outcome.stdout).toContain(join(project, file));
    expect(outcome.stdout).toContain('npx play site --check');
    expect(outcome.stdout).toMatch(/passphrase is a new random one, in .*\.vault-password/);
  });

  it('encrypts every secret of the catalog in the vault, and none reaches stdout or stderr', () => {
    const passphrase = readFileSync(join(project, '.vault-password'), 'utf8').trimEnd();
    expect(readFileSync(join(project, 'inventory/smahb.vault'), 'utf8')).toContain('"play-vault": 1');
    const values = readVault(join(project, 'inventory/smahb.vault'), passphrase);
    expect(Object.keys(values).sort()).toEqual(schoolSecretNames(ACCOUNTS).sort());
    expect(leakedSecrets(outcome.stdout + outcome.stderr, values, passphrase)).toEqual([]);
    for (const file of FILES.filter((f) => !f.includes('vault'))) {
      expect(leakedSecrets(readFileSync(join(project, file), 'utf8'), values, passphrase), file).toEqual([]);
    }
  });

  it('writes the site into the inventory, imported from play, play/vault and play/school, with the vault beside it', () => {
    const inventory = readFileSync(join(project, 'inventory/smahb.ts'), 'utf8');
    expect(inventory).toContain("import { defineInventory } from 'play';\nimport { openVault } from 'play/vault';");
    expect(inventory).toContain("from 'play/school';");
    for (const value of [
      'SMA Harapan Bangsa',
      'smahb.sch.id',
      'ens18',
      '10.20.0.0/24',
      '10.20.0.1',
      '10.20.0.2',
      '10.20.0.254',
      '10.20.0.10',
      '10.20.0.100',
      '10.20.0.200',
    ]) {
      expect(inventory).toContain(`'${value}'`);
    }
    expect(inventory).toContain("{ name: 'kepsek', fullName: 'Kepala Sekolah' }");
    expect(inventory).toContain("{ name: 'guru1', fullName: 'guru1' }");
    expect(inventory).toContain("{ name: 'guru.mtk', fullName: 'guru.mtk' }");
    expect(inventory).toContain(
      "openVault(join(import.meta.dirname, 'smahb.vault'), { passwordFile: join(import.meta.dirname, '../.vault-password') })",
    );
    expect(inventory).toContain("ssh: { user: 'root' }");
    expect(readFileSync(join(project, 'playbooks/site.ts'), 'utf8')).toBe(
      "import { schoolPlaybook } from 'play/school';\nimport inventory from '../inventory/smahb.ts';\n\n/** The school's webmail on its two servers: `npx play site` (`--check` first), `npx play verify site` after. */\nexport default schoolPlaybook(inventory);\n",
    );
  });

  it('writes package.json, tsconfig.json, .gitignore and a README for the school', () => {
    const pkg = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8'));
    const own = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    expect(pkg).toMatchObject({
      name: 'sma-harapan-bangsa-webmail',
      private: true,
      type: 'module',
      scripts: { site: 'play site', check: 'play site --check', verify: 'play verify site' },
    });
    expect(pkg.dependencies).toEqual({ play: `^${own.version}` });
    expect(pkg.devDependencies).toEqual({
      '@types/node': own.devDependencies['@types/node'],
      typescript: own.devDependencies.typescript,
    });
    expect(JSON.parse(readFileSync(join(project, 'tsconfig.json'), 'utf8')).compilerOptions).toMatchObject({
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      allowImportingTsExtensions: true,
      noEmit: true,
      strict: true,
      types: ['node'],
    });
    expect(readFileSync(join(project, '.gitignore'), 'utf8').split('\n')).toEqual(
      expect.arrayContaining(['node_modules/', '.vault-password']),
    );
    const readme = readFileSync(join(project, 'README.md'), 'utf8');
    for (const text of [
      'npm install',
      'npx play site --check',
      'npx play site',
      'npx play verify site',
      'npx play vault view inventory/smahb.vault',
      'npx play vault rotate inventory/smahb.vault account_kepsek',
      '**is\ncommitted**',
      '`.vault-password` **is not**',
      '10.20.0.254',
    ]) {
      expect(readme).toContain(text);
    }
    for (const name of schoolSecretNames(ACCOUNTS)) expect(readme).toContain(`\`${name}\``);
  });

  it("is an inventory and a playbook the repo's loader opens: play and play/school resolve, the vault opens with the project's passphrase", async () => {
    // As an installed play would be: node_modules/play is this checkout (its `play-source` export condition
    // resolves play and play/school to the sources under the unit tests).
    mkdirSync(join(project, 'node_modules'), { recursive: true });
    symlinkSync(ROOT, join(project, 'node_modules/play'));
    try {
      const inventory = await loadInventory(join(project, 'inventory/smahb.ts'));
      expect(Object.fromEntries(Object.entries(inventory.hosts).map(([name, host]) => [name, host.address]))).toEqual({
        primary: '10.20.0.1',
        backup: '10.20.0.2',
      });
      const vars = inventory.groups!.servers.vars!;
      expect(vars).toMatchObject({
        schoolName: 'SMA Harapan Bangsa',
        domain: 'smahb.sch.id',
        vip: '10.20.0.254',
        sshAdmins: ['root'],
      });
      const secrets = Object.values(vars).flatMap((v) =>
        v instanceof Secret
          ? [v]
          : Array.isArray(v)
            ? v.flatMap((a) => (a?.password instanceof Secret ? [a.password] : []))
            : [],
      );
      expect(secrets.length).toBe(schoolSecretNames(ACCOUNTS).length);
      for (const secret of secrets) expect(secret.reveal()).not.toBe('');
      const playbook = await loadPlaybook(join(project, 'playbooks/site.ts'));
      const run = await compileRun(playbook, playbook.inventory);
      expect(run.plays[0].batches).toEqual([['primary'], ['backup']]);
    } finally {
      rmSync(join(project, 'node_modules'), { recursive: true, force: true });
    }
  });

  it('works with the built play as a school installs it: tsc type-checks the project and `play site --list-hosts` lists both servers', async () => {
    const copy = join(work, 'installed');
    await init([copy, ...flags()]);
    mkdirSync(join(copy, 'node_modules'));
    symlinkSync(ROOT, join(copy, 'node_modules/play'));
    symlinkSync(join(ROOT, 'node_modules/@types'), join(copy, 'node_modules/@types'));
    const tsc = await run(join(ROOT, 'node_modules/.bin/tsc'), ['-p', '.'], copy);
    expect(tsc.stdout + tsc.stderr).toBe('');
    expect(tsc.code).toBe(0);
    const listed = await run(process.execPath, [BIN, 'site', '--list-hosts'], copy);
    expect(listed.stderr).toBe('');
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain('batch 1: primary');
    expect(listed.stdout).toContain('batch 2: backup');
  }, 60_000);
});

function run(file: string, args: readonly string[], cwd: string): Promise<Outcome> {
  return new Promise((done) => {
    execFile(file, args, { cwd, env: { ...process.env, CI: '1' }, timeout: 60_000 }, (error, stdout, stderr) => {
      done({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

describe('play init refuses invalid input, naming the flag, and writes nothing', () => {
  let certificates: string;
  beforeAll(() => {
    certificates = join(work, 'certificates');
    mkdirSync(certificates);
    const own = selfSignedCertificate({
      commonName: 'mail.smahb.sch.id',
      names: ['mail.smahb.sch.id', 'webmail.smahb.sch.id'],
      days: 30,
    });
    const other = selfSignedCertificate({
      commonName: 'mail.smahb.sch.id',
      names: ['mail.smahb.sch.id', 'webmail.smahb.sch.id'],
      days: 30,
    });
    const elsewhere = selfSignedCertificate({ commonName: 'mail.example.org', names: ['mail.example.org'], days: 30 });
    writeFileSync(join(certificates, 'mail.pem'), own.certificate);
    writeFileSync(join(certificates, 'mail.key'), own.key);
    writeFileSync(join(certificates, 'other.key'), other.key);
    writeFileSync(join(certificates, 'elsewhere.pem'), elsewhere.certificate);
    writeFileSync(join(certificates, 'elsewhere.key'), elsewhere.key);
  });

  it.each([
    ['a VIP outside the LAN', { '--vip': '10.21.0.254' }, '--vip', 'outside the LAN 10.20.0.0/24'],
    ['the VIP equal to the primary', { '--vip': '10.20.0.1' }, '--vip', 'must differ from both servers'],
    ['a router outside the LAN', { '--router': '192.168.1.1' }, '--router', 'outside the LAN'],
    ['a primary outside the LAN', { '--primary': '10.30.0.1' }, '--primary', 'outside the LAN'],
    ['a backup outside the LAN', { '--backup': '10.30.0.2' }, '--backup', 'outside the LAN'],
    ['both servers on one address', { '--backup': '10.20.0.1' }, '--backup', 'must differ from the primary'],
    ['a bad CIDR', { '--lan': '10.20.0.0/33' }, '--lan', 'the LAN in CIDR form'],
    ['a LAN with host bits', { '--lan': '10.20.0.5/24' }, '--lan', 'host bits'],
    ['a LAN the reverse zone cannot hold', { '--lan': '10.20.0.0/23' }, '--lan', 'a /8, /16 or /24 LAN'],
    ['a bad address', { '--vip': '10.20.0.300' }, '--vip', 'an IPv4 address'],
    ['a bad domain', { '--domain': 'smahb sch id' }, '--domain', 'the school mail domain'],
    ['a one-label domain', { '--domain': 'smahb' }, '--domain', 'the school mail domain'],
    ['a bad interface', { '--interface': 'ens 18' }, '--interface', 'Linux interface name'],
    ['a reserved account name', { '--accounts': 'kepsek,postmaster' }, '--accounts', 'role address in /etc/aliases'],
    ['a system user as account', { '--accounts': 'root' }, '--accounts', 'Debian system user'],
    ['a malformed account name', { '--accounts': 'Guru 1' }, '--accounts', 'login and mailbox name'],
    ['an account listed twice', { '--accounts': 'guru1,guru2,guru1=Guru Satu' }, '--accounts', 'guru1 is listed twice'],
    ['no account', { '--accounts': ' , ' }, '--accounts', 'at least one account'],
    ['a full name with a colon', { '--accounts': 'guru1=Guru: Satu' }, '--accounts', "without ':'"],
    [
      'a pool holding the VIP',
      { '--vip': '10.20.0.150' },
      '--dhcp-range',
      'the VIP: 10.20.0.150 lies in the DHCP pool',
    ],
    [
      'a pool holding the primary',
      { '--dhcp-range': '10.20.0.1-10.20.0.5' },
      '--dhcp-range',
      'the primary: 10.20.0.1 lies in the DHCP pool',
    ],
    [
      'a pool ending before it starts',
      { '--dhcp-range': '10.20.0.200-10.20.0.100' },
      '--dhcp-range',
      'comes after end',
    ],
    ['a pool outside the LAN', { '--dhcp-range': '10.20.0.100-10.20.1.20' }, '--dhcp-range', 'outside the LAN'],
    ['a pool that is not FROM-TO', { '--dhcp-range': '10.20.0.100' }, '--dhcp-range', 'is not FROM-TO'],
    ['an ssh user who is a mail account', { '--ssh-user': 'guru1' }, '--ssh-user', 'school mail account'],
  ])('%s', async (_what, changes, flag, message) => {
    const dir = join(work, `refused-${flag.slice(2)}-${Math.random().toString(36).slice(2)}`);
    const outcome = await init([dir, ...flags(changes)]);
    expect(outcome.code).toBe(2);
    expect(outcome.stdout).toBe('');
    expect(outcome.stderr).toMatch(new RegExp(`^play init: ${flag}\\b`));
    expect(outcome.stderr).toContain(message);
    expect(outcome.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(existsSync(dir)).toBe(false);
  });

  it.each([
    [
      'a certificate without its key',
      () => ['--certificate', join(certificates, 'mail.pem')],
      '--certificate',
      'needs --key',
    ],
    ['a key without its certificate', () => ['--key', join(certificates, 'mail.key')], '--key', 'needs --certificate'],
    [
      'a certificate that cannot be read',
      () => ['--certificate', join(certificates, 'missing.pem'), '--key', join(certificates, 'mail.key')],
      '--certificate',
      'cannot be read: ENOENT',
    ],
    [
      "a key that is not the certificate's",
      () => ['--certificate', join(certificates, 'mail.pem'), '--key', join(certificates, 'other.key')],
      '--key',
      "the key is not the certificate's key",
    ],
    [
      'a certificate for another domain',
      () => ['--certificate', join(certificates, 'elsewhere.pem'), '--key', join(certificates, 'elsewhere.key')],
      '--certificate',
      'does not name mail.smahb.sch.id',
    ],
    [
      'an ssh key that cannot be read',
      () => ['--ssh-key', join(certificates, 'missing_ed25519')],
      '--ssh-key',
      'cannot be read',
    ],
  ])('%s', async (_what, extra, flag, message) => {
    const dir = join(work, `refused-${Math.random().toString(36).slice(2)}`);
    const outcome = await init([dir, ...flags(), ...extra()]);
    expect(outcome.code).toBe(2);
    expect(outcome.stderr).toMatch(new RegExp(`^play init: ${flag}\\b`));
    expect(outcome.stderr).toContain(message);
    expect(existsSync(dir)).toBe(false);
  });

  it('refuses a folder holding any file it would write, naming the file, and adds nothing', async () => {
    const dir = join(work, 'existing');
    mkdirSync(join(dir, 'playbooks'), { recursive: true });
    writeFileSync(join(dir, 'playbooks/site.ts'), "// the school's own\n");
    writeFileSync(join(dir, 'notes.txt'), 'keep\n');
    const outcome = await init([dir, ...flags()]);
    expect(outcome.code).toBe(2);
    expect(outcome.stderr).toContain(`${join(dir, 'playbooks/site.ts')} already exists`);
    expect(filesUnder(dir)).toEqual(['notes.txt', 'playbooks/site.ts']);
    expect(readFileSync(join(dir, 'playbooks/site.ts'), 'utf8')).toBe("// the school's own\n");
  });

  it('refuses missing flags without a terminal, naming every one', async () => {
    const dir = join(work, 'missing');
    const outcome = await init([dir, ...flags({ '--lan': undefined, '--vip': undefined })]);
    expect(outcome.code).toBe(2);
    expect(outcome.stderr).toBe(
      'play init: missing --lan, --vip (give them, or run play init on a terminal to be asked)\n',
    );
    expect(existsSync(dir)).toBe(false);
    const noDir = await init(flags());
    expect(noDir.code).toBe(2);
    expect(noDir.stderr).toContain('missing DIR');
  });

  it('refuses an unknown flag', async () => {
    const outcome = await init([join(work, 'unknown'), ...flags(), '--colour', 'blue']);
    expect(outcome.code).toBe(2);
    expect(outcome.stderr).toContain("Unknown option '--colour'");
    expect(existsSync(join(work, 'unknown'))).toBe(false);
  });

  it('refuses a vault password file others may read, naming the flag', async () => {
    const file = join(work, 'open-pass');
    writeFileSync(file, 'a passphrase\n', { mode: 0o644 });
    chmodSync(file, 0o644);
    const dir = join(work, 'open-pass-project');
    const outcome = await init([dir, ...flags(), '--vault-password-file', file]);
    expect(outcome.code).toBe(2);
    expect(outcome.stderr).toMatch(/^play init: --vault-password-file: .*open to others \(mode 0644\)/);
    expect(existsSync(dir)).toBe(false);
  });

  it('removes what it wrote when writing fails midway, and answers 1', async () => {
    const dir = join(work, 'half');
    mkdirSync(dir);
    // A dangling link where the playbooks folder would go: the folder cannot be made, after three files are written.
    symlinkSync(join(work, 'nowhere'), join(dir, 'playbooks'));
    const outcome = await init([dir, ...flags()]);
    expect(outcome.code).toBe(1);
    expect(outcome.stderr).toBe(
      `play init: writing the project in ${dir} failed (EEXIST at ${join(dir, 'playbooks')}): what was written is removed again\n`,
    );
    expect(readdirSync(dir)).toEqual(['playbooks']);
  });
});

describe('play init with what the admin gives', () => {
  it("keeps the school's own certificate, and the passphrase of a given password file (then no .vault-password)", async () => {
    const own = selfSignedCertificate({
      commonName: 'mail.smahb.sch.id',
      names: ['mail.smahb.sch.id', 'webmail.smahb.sch.id', 'www.smahb.sch.id'],
      days: 90,
    });
    writeFileSync(join(work, 'own.pem'), own.certificate);
    writeFileSync(join(work, 'own.key'), own.key, { mode: 0o600 });
    writeFileSync(join(work, 'pass'), 'correct horse battery staple\n', { mode: 0o600 });
    const dir = join(work, 'own');
    const outcome = await init([
      dir,
      ...flags({ '--ssh-user': 'admin' }),
      '--certificate',
      join(work, 'own.pem'),
      '--key',
      join(work, 'own.key'),
      '--vault-password-file',
      join(work, 'pass'),
      '--ssh-key',
      join(work, 'own.key'),
      '--known-hosts',
      join(work, 'known_hosts'),
    ]);
    expect(outcome.stderr).toBe('');
    expect(outcome.code).toBe(0);
    expect(existsSync(join(dir, '.vault-password'))).toBe(false);
    const values = readVault(join(dir, 'inventory/smahb.vault'), 'correct horse battery staple');
    expect(values.tls_certificate).toBe(own.certificate);
    expect(values.tls_key).toBe(own.key);
    expect(leakedSecrets(outcome.stdout, values, 'correct horse battery staple')).toEqual([]);
    const inventory = readFileSync(join(dir, 'inventory/smahb.ts'), 'utf8');
    expect(inventory).toContain(
      `ssh: { user: 'admin', identityFile: '${join(work, 'own.key')}', knownHostsFile: '${join(work, 'known_hosts')}' }`,
    );
    expect(inventory).toContain("sshAdmins: ['admin']");
    expect(readFileSync(join(dir, 'README.md'), 'utf8')).toContain('the one given to `play init`');
  });

  it('takes the password file from PLAY_VAULT_PASSWORD_FILE', async () => {
    writeFileSync(join(work, 'env-pass'), 'from the environment\n', { mode: 0o600 });
    process.env.PLAY_VAULT_PASSWORD_FILE = join(work, 'env-pass');
    const dir = join(work, 'env');
    const outcome = await init([dir, ...flags()]);
    expect(outcome.code).toBe(0);
    expect(existsSync(join(dir, '.vault-password'))).toBe(false);
    expect(Object.keys(readVault(join(dir, 'inventory/smahb.vault'), 'from the environment')).length).toBe(
      schoolSecretNames(ACCOUNTS).length,
    );
  });

  it('asks for the missing values on a terminal', async () => {
    const stdin = Object.assign(new PassThrough(), { isTTY: true });
    const dir = join(work, 'asked');
    stdin.end(`${dir}\n10.20.0.0/24\n\n10.20.0.254\nkepsek=Kepala Sekolah, guru1\n`);
    const outcome = await init(flags({ '--lan': undefined, '--vip': undefined, '--accounts': undefined }), {
      stdin,
      isTTY: true,
    });
    expect(outcome.code).toBe(0);
    // Questions go to stderr; an empty answer is asked again.
    expect(outcome.stderr).toBe(
      'Project folder: LAN in CIDR form (e.g. 192.168.10.0/24): Virtual address (VIP) of mail. and webmail.: Virtual address (VIP) of mail. and webmail.: Accounts, comma-separated, LOGIN or LOGIN=Full Name (e.g. kepsek=Kepala Sekolah,guru1): ',
    );
    const inventory = readFileSync(join(dir, 'inventory/smahb.ts'), 'utf8');
    expect(inventory).toContain("lanNetwork: '10.20.0.0/24'");
    expect(inventory).toContain("vip: '10.20.0.254'");
    expect(inventory).toContain("{ name: 'guru1', fullName: 'guru1' }");
    // No raw-mode terminal to ask the passphrase twice on: a random one in .vault-password.
    expect(existsSync(join(dir, '.vault-password'))).toBe(true);
  });

  /** A terminal that can go raw (no echo), answering each passphrase question as it is asked. */
  function passphraseTerminal(answers: string[]) {
    const stdin = Object.assign(new PassThrough(), {
      isTTY: true,
      isRaw: false,
      setRawMode(raw: boolean) {
        stdin.isRaw = raw;
      },
    });
    let stderr = '';
    const write = (text: string) => {
      stderr += text;
      if (/passphrase.*: $/.test(text)) setImmediate(() => stdin.write(`${answers.shift()}\r`));
    };
    return { io: { stdin, isTTY: true, stderr: { write } }, stderr: () => stderr };
  }

  it('asks for the passphrase twice on a terminal that can hide it, and then writes no .vault-password', async () => {
    const terminal = passphraseTerminal(['typed at the terminal', 'typed at the terminal']);
    const dir = join(work, 'typed');
    const outcome = await init([dir, ...flags()], terminal.io);
    expect(outcome.code).toBe(0);
    expect(terminal.stderr()).toBe('New vault passphrase: \nNew vault passphrase (again): \n');
    expect(existsSync(join(dir, '.vault-password'))).toBe(false);
    expect(Object.keys(readVault(join(dir, 'inventory/smahb.vault'), 'typed at the terminal')).length).toBe(
      schoolSecretNames(ACCOUNTS).length,
    );
    expect(outcome.stdout).toContain('every run asks for it');
  });

  it('refuses two passphrases that differ, writing nothing', async () => {
    const terminal = passphraseTerminal(['one passphrase', 'another one']);
    const dir = join(work, 'typed-twice');
    const outcome = await init([dir, ...flags()], terminal.io);
    expect(outcome.code).toBe(2);
    expect(terminal.stderr()).toContain('play init: the two passphrases differ: nothing written');
    expect(existsSync(dir)).toBe(false);
  });

  it('refuses when the terminal closes before every value is given', async () => {
    const stdin = Object.assign(new PassThrough(), { isTTY: true });
    stdin.end(`${join(work, 'closed')}\n`);
    const outcome = await init(flags({ '--vip': undefined }), { stdin, isTTY: true });
    expect(outcome.code).toBe(2);
    expect(outcome.stderr).toContain('play init: missing --vip (the terminal closed before it was given)');
    expect(existsSync(join(work, 'closed'))).toBe(false);
  });

  it('prints its usage with --help', async () => {
    const outcome = await init(['--help']);
    expect(outcome.code).toBe(0);
    expect(outcome.stdout).toContain('Usage: play init DIR');
  });
});
