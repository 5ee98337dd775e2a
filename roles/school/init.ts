import { randomBytes, X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { type InitStreams, PlayError, playPackage, ValidationError } from 'play';
import {
  askNewPassphrase,
  canAskHidden,
  certificateProblems,
  readVaultPasswordFile,
  writeVault,
  type CertificatePair,
} from 'play/vault';
import type { SchoolSite } from './inventory.ts';
import {
  PROJECT_PASSPHRASE_FILE,
  projectVaultPath,
  schoolProjectFiles,
  type ProjectPassphrase,
} from './project-files.ts';
import { schoolSecrets } from './secrets.ts';
import {
  schoolDeployProblems,
  schoolSiteProblems,
  type SchoolSiteField,
  type SchoolSiteProblem,
} from './site-problems.ts';

export type { InitStreams };

/**
 * The usage of `play init` (its `--help`).
 *
 * @example
 * io.stdout.write(`${INIT_USAGE}\n`);
 */
export const INIT_USAGE = `Usage: play init DIR --school NAME --domain DOMAIN --lan CIDR --interface IF
                 --primary ADDR --backup ADDR --vip ADDR --router ADDR --dhcp-range FROM-TO
                 --accounts LOGIN[=FULL NAME],… [--certificate FILE --key FILE]
                 [--ssh-user USER] [--ssh-key FILE] [--known-hosts FILE] [--vault-password-file FILE]

Starts a school's project in DIR: package.json, tsconfig.json, inventory/<school>.ts, playbooks/site.ts, an
encrypted vault with every secret the site needs, .gitignore and a README. Missing values are asked for on a
terminal. Nothing is written unless every value is right and no file of the project exists yet.

Options:
  --school NAME             the school's name, e.g. "SMA Harapan Bangsa"
  --domain DOMAIN           its mail domain, e.g. smahb.sch.id
  --lan CIDR                the LAN, e.g. 192.168.10.0/24 (a /8, /16 or /24)
  --interface IF            the servers' LAN interface, e.g. ens18
  --primary ADDR            the primary server's address
  --backup ADDR             the backup server's address
  --vip ADDR                the virtual address mail. and webmail. point at
  --router ADDR             the LAN's gateway
  --dhcp-range FROM-TO      the DHCP pool, e.g. 192.168.10.100-192.168.10.200
  --accounts LIST           the accounts: "kepsek=Kepala Sekolah,guru1,guru.mtk" (the full name defaults to the login)
  --certificate FILE        the school's TLS certificate (PEM, chain after it); with --key (default: self-signed)
  --key FILE                its private key (PEM)
  --ssh-user USER           who play logs in as, the servers' only ssh user (default root)
  --ssh-key FILE            the identity file play logs in with
  --known-hosts FILE        the known_hosts file of the servers
  --vault-password-file FILE  the vault's passphrase (else PLAY_VAULT_PASSWORD_FILE, else asked twice on a
                            terminal, else a random one written to DIR/${PROJECT_PASSPHRASE_FILE})
  -h, --help                this help

Exit codes: 0 written; 1 writing failed (nothing left behind); 2 invalid input (nothing written).`;

/** The flags a site needs, in the order they are asked for, with the question and the site field each fills. */
const SITE_FLAGS = [
  { flag: 'school', field: 'schoolName', question: 'School name (e.g. SMA Harapan Bangsa)' },
  { flag: 'domain', field: 'domain', question: 'Mail domain (e.g. smahb.sch.id)' },
  { flag: 'lan', field: 'lanNetwork', question: 'LAN in CIDR form (e.g. 192.168.10.0/24)' },
  { flag: 'interface', field: 'lanInterface', question: 'LAN interface of both servers (e.g. ens18)' },
  { flag: 'primary', field: 'primaryAddress', question: 'Primary server address' },
  { flag: 'backup', field: 'backupAddress', question: 'Backup server address' },
  { flag: 'vip', field: 'vip', question: 'Virtual address (VIP) of mail. and webmail.' },
  { flag: 'router', field: 'router', question: "Router (the LAN's gateway)" },
  { flag: 'dhcp-range', field: 'dhcpRange', question: 'DHCP pool FROM-TO (e.g. 192.168.10.100-192.168.10.200)' },
  {
    flag: 'accounts',
    field: 'accounts',
    question: 'Accounts, comma-separated, LOGIN or LOGIN=Full Name (e.g. kepsek=Kepala Sekolah,guru1)',
  },
] as const satisfies readonly { flag: string; field: SchoolSiteField; question: string }[];

type SiteFlag = (typeof SITE_FLAGS)[number]['flag'];

const FLAG_OF_FIELD: Record<SchoolSiteField, string> = {
  ...(Object.fromEntries(SITE_FLAGS.map((f) => [f.field, `--${f.flag}`])) as Record<
    (typeof SITE_FLAGS)[number]['field'],
    string
  >),
  sshAdmins: '--ssh-user',
  tlsCertificate: '--certificate',
  // Not asked by play init: written into the inventory by hand (roles/backup/README.md, roles/dovecot/README.md).
  backup: 'backup',
  mailQuota: 'mailQuota',
  expungedMailDays: 'expungedMailDays',
  rateLimitExceptions: 'rateLimitExceptions',
  sendingLimits: 'sendingLimits',
};

const OPTIONS = {
  ...(Object.fromEntries(SITE_FLAGS.map((f) => [f.flag, { type: 'string' }])) as Record<SiteFlag, { type: 'string' }>),
  certificate: { type: 'string' },
  key: { type: 'string' },
  'ssh-user': { type: 'string' },
  'ssh-key': { type: 'string' },
  'known-hosts': { type: 'string' },
  'vault-password-file': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Invalid input to `play init`: one message, exit code 2, nothing written. */
class InitRefusal extends Error {}

/** The options and folder given to `play init`; a bad option is refused (exit code 2). */
function parseInitArgs(argv: readonly string[]) {
  try {
    return parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new InitRefusal(`${(error as Error).message} (play init --help)`);
  }
}

/**
 * `play init DIR`: starts another school's project. Checks every value the way a deploy would (the school vars,
 * the DHCP pool, the reverse zone, the accounts, the certificate) before anything is written; then writes
 * package.json, tsconfig.json, `inventory/<slug>.ts`, the encrypted `inventory/<slug>.vault` with every secret of
 * the site, `playbooks/site.ts`, `.gitignore`, a README and, unless a passphrase was given or typed,
 * `.vault-password` (mode 0600). Refuses (exit 2, writing nothing) when any of those files exists. Prints what it
 * wrote and the next commands, never a secret. Returns the exit code.
 *
 * @example
 * process.exitCode = await initCommand(['smahb', '--school', 'SMA Harapan Bangsa', '--domain', 'smahb.sch.id', …], process);
 */
export async function initCommand(argv: readonly string[], io: InitStreams): Promise<number> {
  try {
    const { values, positionals } = parseInitArgs(argv);
    if (values.help) {
      io.stdout.write(`${INIT_USAGE}\n`);
      return 0;
    }
    if (positionals.length > 1)
      throw new InitRefusal(`one project folder, not ${positionals.length}: ${positionals.join(' ')}`);
    const given = await askForMissing(positionals[0], values, io);
    const sshUser = values['ssh-user']?.trim() || 'root';
    const site = siteOf(given.values, sshUser);
    refuseProblems(schoolSiteProblems(site));
    const certificate = readCertificate(values.certificate, values.key, site);
    const ssh = {
      user: sshUser,
      identityFile: values['ssh-key'] === undefined ? undefined : readableFile(values['ssh-key'], '--ssh-key'),
      knownHostsFile: values['known-hosts'] === undefined ? undefined : knownHostsFile(values['known-hosts']),
    };
    const dir = resolve(given.dir);
    const passphraseSource = passphraseFile(values['vault-password-file']);
    const passphrase: ProjectPassphrase = passphraseSource
      ? 'own-file'
      : canAsk(io) && canAskHidden(io.stdin)
        ? 'typed'
        : 'project-file';
    const files = schoolProjectFiles({
      site,
      ssh,
      ...playVersions(),
      passphrase,
      certificate: certificate ? 'own' : 'self-signed',
    });
    const vaultFile = projectVaultPath(site.domain);
    const targets = [
      ...files.map((f) => f.path),
      vaultFile,
      ...(passphrase === 'project-file' ? [PROJECT_PASSPHRASE_FILE] : []),
    ];
    refuseExisting(dir, targets);
    const passphraseText = passphraseSource
      ? readPassphrase(passphraseSource)
      : passphrase === 'typed'
        ? await askNewPassphrase({ stdin: io.stdin, stderr: io.stderr }).catch((error: Error) => {
            throw new InitRefusal(error.message);
          })
        : randomBytes(24).toString('base64url');
    const secrets = schoolSecrets(site, { certificate });
    refuseProblems(await schoolDeployProblems(site, secrets));
    writeProject(dir, [
      ...files.map((f) => ({ path: f.path, write: (path: string) => writeFileSync(path, f.content, { flag: 'wx' }) })),
      { path: vaultFile, write: (path: string) => writeVault(path, secrets, passphraseText) },
      ...(passphrase === 'project-file'
        ? [
            {
              path: PROJECT_PASSPHRASE_FILE,
              write: (path: string) => writeFileSync(path, `${passphraseText}\n`, { flag: 'wx', mode: 0o600 }),
            },
          ]
        : []),
    ]);
    io.stdout.write(report(given.dir, site, targets, Object.keys(secrets).length, passphrase));
    return 0;
  } catch (error) {
    if (error instanceof InitRefusal) {
      io.stderr.write(`play init: ${error.message}\n`);
      return 2;
    }
    const message =
      error instanceof PlayError ? error.describe() : error instanceof Error ? error.message : String(error);
    io.stderr.write(`play init: ${message}\n`);
    return error instanceof ValidationError ? 2 : 1;
  }
}

function canAsk(io: InitStreams): boolean {
  return (io.isTTY ?? io.stdin?.isTTY === true) && io.stdin !== undefined;
}

/** The project folder and every site flag: as given, else asked for on a terminal, else refused naming them all. */
async function askForMissing(
  dir: string | undefined,
  values: Partial<Record<SiteFlag, string>>,
  io: InitStreams,
): Promise<{ dir: string; values: Record<SiteFlag, string> }> {
  const missing = SITE_FLAGS.filter((f) => (values[f.flag] ?? '').trim() === '');
  if (dir !== undefined && missing.length === 0) return { dir, values: values as Record<SiteFlag, string> };
  const names = [...(dir === undefined ? ['DIR (the project folder)'] : []), ...missing.map((f) => `--${f.flag}`)];
  const input = io.stdin;
  if (!canAsk(io) || input === undefined)
    throw new InitRefusal(
      `missing ${names.join(', ')} (give ${names.length > 1 ? 'them' : 'it'}, or run play init on a terminal to be asked)`,
    );
  // Closed when done, or its listener would keep reading the terminal (and the passphrase typed next).
  const reader = createInterface({ input, terminal: false });
  const lines = reader[Symbol.asyncIterator]();
  const ask = async (question: string, what: string): Promise<string> => {
    for (;;) {
      io.stderr.write(`${question}: `);
      const next = await lines.next();
      if (next.done) throw new InitRefusal(`missing ${what} (the terminal closed before it was given)`);
      if (next.value.trim() !== '') return next.value.trim();
    }
  };
  try {
    const answered = { ...values } as Record<SiteFlag, string>;
    const folder = dir ?? (await ask('Project folder', 'DIR (the project folder)'));
    for (const f of missing) answered[f.flag] = await ask(f.question, `--${f.flag}`);
    return { dir: folder, values: answered };
  } finally {
    reader.close();
  }
}

/** The site the flags describe. Their shapes are checked later, all in one place ({@link schoolSiteProblems}). */
function siteOf(values: Record<SiteFlag, string>, sshUser: string): SchoolSite {
  const range = values['dhcp-range'].split('-').map((end) => end.trim());
  if (range.length !== 2)
    throw new InitRefusal(
      `--dhcp-range: "${values['dhcp-range']}" is not FROM-TO (e.g. 192.168.10.100-192.168.10.200)`,
    );
  const accounts = values.accounts
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
    .map((entry) => {
      const at = entry.indexOf('=');
      const name = (at < 0 ? entry : entry.slice(0, at)).trim();
      return { name, fullName: at < 0 ? name : entry.slice(at + 1).trim() };
    });
  return {
    schoolName: values.school.trim(),
    // Domain names are case-insensitive; the zone and the certificate use lower case.
    domain: values.domain.trim().toLowerCase(),
    lanInterface: values.interface.trim(),
    lanNetwork: values.lan.trim(),
    primaryAddress: values.primary.trim(),
    backupAddress: values.backup.trim(),
    vip: values.vip.trim(),
    router: values.router.trim(),
    dhcpRange: { start: range[0], end: range[1] },
    accounts,
    sshAdmins: [sshUser],
  };
}

/** play's version, and the TypeScript tools it is built with (for the project's editor and tsc). */
function playVersions(): { playVersion: string; typeScript?: { typescript: string; typesNode: string } } {
  const { root, version } = playPackage();
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    devDependencies?: Record<string, string>;
  };
  const typescript = pkg.devDependencies?.typescript;
  const typesNode = pkg.devDependencies?.['@types/node'];
  return { playVersion: version, ...(typescript && typesNode ? { typeScript: { typescript, typesNode } } : {}) };
}

/** Refuses the first problem, naming its flag. */
function refuseProblems(problems: readonly SchoolSiteProblem[]): void {
  const [first] = problems;
  if (first) throw new InitRefusal(first.field ? `${FLAG_OF_FIELD[first.field]}: ${first.message}` : first.message);
}

/** The school's own certificate and key, readable, a pair, valid now and naming mail. and webmail.; none when not given. */
function readCertificate(
  certificateFile: string | undefined,
  keyFile: string | undefined,
  site: SchoolSite,
): CertificatePair | undefined {
  if (certificateFile === undefined && keyFile === undefined) return undefined;
  if (keyFile === undefined) throw new InitRefusal('--certificate needs --key FILE, its private key');
  if (certificateFile === undefined)
    throw new InitRefusal('--key needs --certificate FILE, the certificate it belongs to');
  const pair = { certificate: readText(certificateFile, '--certificate'), key: readText(keyFile, '--key') };
  const [problem] = certificateProblems(pair, []);
  if (problem)
    throw new InitRefusal(
      `${/\bkey\b/.test(problem) ? `--key ${keyFile}` : `--certificate ${certificateFile}`}: ${problem}`,
    );
  const certificate = new X509Certificate(pair.certificate);
  if (new Date(certificate.validFrom) > new Date())
    throw new InitRefusal(
      `--certificate ${certificateFile}: the certificate is valid only from ${certificate.validFrom}`,
    );
  for (const name of [`mail.${site.domain}`, `webmail.${site.domain}`]) {
    if (certificate.checkHost(name) === undefined)
      throw new InitRefusal(
        `--certificate ${certificateFile}: the certificate does not name ${name} (subjectAltName DNS:${name})`,
      );
  }
  return pair;
}

function readText(file: string, flag: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new InitRefusal(
      `${flag} ${file} cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
}

/** An identity file that exists and can be read, as an absolute path (the project is run from anywhere). */
function readableFile(file: string, flag: string): string {
  readText(file, flag);
  return resolve(file);
}

/** A known_hosts file: absolute; it may not exist yet (play records keys there), but it cannot be a folder. */
function knownHostsFile(file: string): string {
  if (statSync(file, { throwIfNoEntry: false })?.isDirectory())
    throw new InitRefusal(`--known-hosts ${file} is a folder, not a known_hosts file`);
  return resolve(file);
}

/** The passphrase file given by flag or environment, or none. */
function passphraseFile(
  flag: string | undefined,
): { path: string; source: '--vault-password-file' | 'PLAY_VAULT_PASSWORD_FILE' } | undefined {
  if (flag !== undefined) return { path: flag, source: '--vault-password-file' };
  const fromEnv = process.env.PLAY_VAULT_PASSWORD_FILE;
  return fromEnv ? { path: fromEnv, source: 'PLAY_VAULT_PASSWORD_FILE' } : undefined;
}

function readPassphrase(file: { path: string; source: '--vault-password-file' | 'PLAY_VAULT_PASSWORD_FILE' }): string {
  try {
    return readVaultPasswordFile(file);
  } catch (error) {
    throw new InitRefusal(`${file.source}: ${(error as Error).message}`);
  }
}

/** Refuses a project folder that is a file, or that holds any file the project would write. */
function refuseExisting(dir: string, paths: readonly string[]): void {
  const stat = statSync(dir, { throwIfNoEntry: false });
  if (stat && !stat.isDirectory()) throw new InitRefusal(`${dir} is a file, not a folder`);
  for (const path of paths) {
    if (existsWritable(join(dir, path)))
      throw new InitRefusal(`${join(dir, path)} already exists: play init writes only new files (nothing written)`);
  }
}

/** Whether a path exists; a path that cannot even be looked at (a file where a folder should be, no permission) is refused. */
function existsWritable(path: string): boolean {
  try {
    return statSync(path, { throwIfNoEntry: false }) !== undefined;
  } catch (error) {
    throw new InitRefusal(
      `${path} cannot be written: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
}

/**
 * Writes the project's files, each created new; when one fails, removes every file and folder written so far, so a
 * failed init leaves the folder as it was.
 */
function writeProject(dir: string, files: readonly { path: string; write(path: string): void }[]): void {
  const createdFolders: string[] = [];
  const written: string[] = [];
  const ensureFolder = (folder: string) => {
    if (statSync(folder, { throwIfNoEntry: false })) return;
    ensureFolder(dirname(folder));
    mkdirSync(folder);
    createdFolders.push(folder);
  };
  try {
    for (const file of files) {
      const path = join(dir, file.path);
      ensureFolder(dirname(path));
      file.write(path);
      written.push(path);
    }
  } catch (error) {
    for (const path of written.reverse()) rmSync(path, { force: true });
    for (const folder of createdFolders.reverse()) {
      try {
        rmdirSync(folder);
      } catch {
        // Someone else put a file there meanwhile: theirs to keep.
      }
    }
    const reason = (error as NodeJS.ErrnoException).code
      ? `${(error as NodeJS.ErrnoException).code} at ${(error as NodeJS.ErrnoException).path ?? dir}`
      : (error as Error).message;
    throw new Error(`writing the project in ${dir} failed (${reason}): what was written is removed again`, {
      cause: error,
    });
  }
}

/** What init tells the admin: the files, the passphrase's place and the next commands; never a secret. */
function report(
  dir: string,
  site: SchoolSite,
  paths: readonly string[],
  secretCount: number,
  passphrase: ProjectPassphrase,
): string {
  const notes: Record<string, string> = {
    [projectVaultPath(site.domain)]: `encrypted: ${secretCount} secrets (commit it)`,
    [PROJECT_PASSPHRASE_FILE]: "the vault's passphrase, mode 0600: never commit it, keep a copy somewhere safe",
  };
  const width = Math.max(...paths.map((p) => join(dir, p).length));
  const lines = [
    `play init: the project of ${site.schoolName} (${site.domain}) in ${dir}:`,
    ...paths.map((p) => (notes[p] ? `  ${join(dir, p).padEnd(width)}  ${notes[p]}` : `  ${join(dir, p)}`)),
    '',
    {
      'project-file': `The vault's passphrase is a new random one, in ${join(dir, PROJECT_PASSPHRASE_FILE)}.`,
      'own-file':
        "The vault's passphrase is the one in the file given: pass it to every run (--vault-password-file or PLAY_VAULT_PASSWORD_FILE).",
      typed: "The vault's passphrase is the one typed: every run asks for it.",
    }[passphrase],
    '',
    'Next:',
    `  cd ${dir}`,
    '  git init && git add . && git commit -m "play init"',
    '  npm install',
    '  npx play site --check',
    '  npx play site',
    '  npx play verify site',
    `  npx play vault view ${projectVaultPath(site.domain)}`,
  ];
  return `${lines.join('\n')}\n`;
}
