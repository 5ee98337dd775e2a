import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';

/**
 * The scratch server the backup role's helper (roles/backup/files/play-backup.py) runs against in these tests: real
 * restic, real sqlite3, real Maildirs in a temp folder, local restic repositories. The helper takes its paths from
 * the environment. One file per subcommand (run, restore, drill), so that vitest runs them side by side.
 */
/** The helper under test, run with python3. */
export const HELPER = join(import.meta.dirname, '../../../../roles/backup/files/play-backup.py');

/** The scratch server's root folder, new for each test. */
export let root: string;
/** The helper's environment: its config, state and lock under root. */
export let env: NodeJS.ProcessEnv;

/** How a helper run ended. */
export interface Result {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** Runs the helper to its end. */
export function helper(...args: string[]): Result {
  const started = performance.now();
  const done = spawnSync('python3', [HELPER, ...args], { env, encoding: 'utf8', timeout: 120_000 });
  return { code: done.status, stdout: done.stdout, stderr: done.stderr, ms: performance.now() - started };
}

/** Starts the helper; resolves when it ends. */
export function helperAsync(...args: string[]): Promise<Result> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn('python3', [HELPER, ...args], { env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr, ms: performance.now() - started }));
  });
}

/** An account's Maildir on the scratch server. */
export const maildir = (account: string) => join(root, 'home', account, 'Maildir');

/** A message file in a Maildir folder ('' is INBOX), named as Dovecot names them. */
export function deliver(account: string, folder: string, name: string, body: string): string {
  const dir = join(maildir(account), folder);
  for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(dir, sub), { recursive: true });
  const path = join(dir, 'cur', `${name}:2,S`);
  writeFileSync(path, `Message-ID: <${name}@test>\nSubject: ${name}\n\n${body}\n`);
  return path;
}

/** Writes the helper's config.json (what the role renders) with these repositories. */
export function writeConfig(repositories: Record<string, unknown>[], extra: Record<string, unknown> = {}): void {
  writeFileSync(
    join(root, 'config.json'),
    JSON.stringify({
      host: 'primary',
      passwordFile: join(root, 'password'),
      accounts: ['guru2', 'kepsek'].map((name) => ({ name, maildir: maildir(name) })),
      paths: [join(root, 'dkimkeys')],
      roundcubeDatabase: 'roundcube',
      roundcubeDump: [join(root, 'mariadb-dump')],
      retention: { daily: 7, weekly: 4, monthly: 12 },
      checkDays: 30,
      repositories,
      replicate: 'true',
      subscribe: 'true',
      ...extra,
    }),
  );
}

/**
 * Makes the scratch server's `mariadb-dump` (no MariaDB here): it prints `dump` and its arguments, then exits with
 * `exitCode`.
 */
export function fakeDump(dump: string, exitCode = 0): void {
  writeFileSync(join(root, 'dump.sql'), `${dump}\n`);
  writeFileSync(
    join(root, 'mariadb-dump'),
    `#!/bin/sh\ncat "$(dirname "$0")/dump.sql"\necho "-- args: $*"\nexit ${exitCode}\n`,
    { mode: 0o755 },
  );
}

/** A local repository named as the role names them (the peer's is exclusive). */
export const local = (name: string) => ({ name, url: join(root, `repo-${name}`), exclusive: name === 'peer' });

/** Runs restic against a repository with the scratch server's password. */
export function restic(repo: string, ...args: string[]) {
  return spawnSync('restic', ['--repo', repo, '--quiet', ...args], {
    env: { ...process.env, RESTIC_PASSWORD_FILE: join(root, 'password') },
    encoding: 'utf8',
  });
}

/** What `play-backup status` says, parsed. */
export const status = () => JSON.parse(helper('status').stdout);
/** The sorted names in a folder, none if it is missing. */
export const filesOf = (dir: string) => (existsSync(dir) ? readdirSync(dir).sort() : []);

/** Gives each test of the calling file a fresh scratch server: two accounts' mail, a DKIM key, a Roundcube database (a fake mariadb-dump). */
export function useScratchServer(): void {
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'play-backup-'));
    env = {
      ...process.env,
      PLAY_BACKUP_CONFIG: join(root, 'config.json'),
      PLAY_BACKUP_STATE: join(root, 'state'),
      PLAY_BACKUP_LOCK: join(root, 'lock'),
    };
    writeFileSync(join(root, 'password'), 'correct horse battery staple\n', { mode: 0o600 });
    mkdirSync(join(root, 'dkimkeys'));
    writeFileSync(join(root, 'dkimkeys', 'mail.private'), 'KEY\n');
    fakeDump("-- MariaDB dump\nINSERT INTO `contacts` VALUES ('Bu Ani');");
    deliver('kepsek', '', '1700000000.M1P1.primary', 'for the head');
    deliver('guru2', '', '1700000001.M1P1.primary', 'inbox one');
    deliver('guru2', '', '1700000002.M1P1.primary', 'inbox two');
    deliver('guru2', '.Projects', '1700000003.M1P1.primary', 'a project');
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));
}
