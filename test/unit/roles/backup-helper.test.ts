import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

// The backup role's helper (roles/backup/files/play-backup.py), run here as a program against local restic
// repositories: real restic, real sqlite3, real Maildirs in a temp folder. Its paths come from the environment.
const HELPER = join(import.meta.dirname, '../../../roles/backup/files/play-backup.py');

let root: string;
let env: NodeJS.ProcessEnv;

interface Result {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

function helper(...args: string[]): Result {
  const started = performance.now();
  const done = spawnSync('python3', [HELPER, ...args], { env, encoding: 'utf8', timeout: 120_000 });
  return { code: done.status, stdout: done.stdout, stderr: done.stderr, ms: performance.now() - started };
}

function helperAsync(...args: string[]): Promise<Result> {
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

const maildir = (account: string) => join(root, 'home', account, 'Maildir');

/** A message file in a Maildir folder ('' is INBOX), named as Dovecot names them. */
function deliver(account: string, folder: string, name: string, body: string): string {
  const dir = join(maildir(account), folder);
  for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(dir, sub), { recursive: true });
  const path = join(dir, 'cur', `${name}:2,S`);
  writeFileSync(path, `Message-ID: <${name}@test>\nSubject: ${name}\n\n${body}\n`);
  return path;
}

function writeConfig(repositories: Record<string, unknown>[], extra: Record<string, unknown> = {}): void {
  writeFileSync(
    join(root, 'config.json'),
    JSON.stringify({
      host: 'primary',
      passwordFile: join(root, 'password'),
      accounts: ['guru2', 'kepsek'].map((name) => ({ name, maildir: maildir(name) })),
      paths: [join(root, 'dkimkeys')],
      roundcubeDatabase: join(root, 'roundcube.sqlite'),
      retention: { daily: 7, weekly: 4, monthly: 12 },
      checkDays: 30,
      repositories,
      replicate: 'true',
      subscribe: 'true',
      ...extra,
    }),
  );
}

const local = (name: string) => ({ name, url: join(root, `repo-${name}`), exclusive: name === 'peer' });

function restic(repo: string, ...args: string[]) {
  return spawnSync('restic', ['--repo', repo, '--quiet', ...args], {
    env: { ...process.env, RESTIC_PASSWORD_FILE: join(root, 'password') },
    encoding: 'utf8',
  });
}

const status = () => JSON.parse(helper('status').stdout);
const filesOf = (dir: string) => (existsSync(dir) ? readdirSync(dir).sort() : []);

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
  spawnSync('sqlite3', [
    join(root, 'roundcube.sqlite'),
    "create table contacts (name text); insert into contacts values ('Bu Ani');",
  ]);
  deliver('kepsek', '', '1700000000.M1P1.primary', 'for the head');
  deliver('guru2', '', '1700000001.M1P1.primary', 'inbox one');
  deliver('guru2', '', '1700000002.M1P1.primary', 'inbox two');
  deliver('guru2', '.Projects', '1700000003.M1P1.primary', 'a project');
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('play-backup run', { timeout: 180_000 }, () => {
  it('backs up to every repository: the mailboxes, an online copy of Roundcube, the DKIM key; status says so', () => {
    writeConfig([local('peer'), local('offsite')]);
    const run = helper('run');
    expect(run.code, run.stderr).toBe(0);
    for (const name of ['peer', 'offsite']) {
      const files = restic(join(root, `repo-${name}`), 'ls', 'latest').stdout;
      expect(files).toContain(join(maildir('guru2'), '.Projects', 'cur', '1700000003.M1P1.primary:2,S'));
      expect(files).toContain(join(maildir('kepsek'), 'cur', '1700000000.M1P1.primary:2,S'));
      expect(files).toContain(join(root, 'dkimkeys', 'mail.private'));
      expect(files).toContain(join(root, 'state', 'stage', 'roundcube.sqlite'));
      const entry = status().repositories[name];
      expect(entry).toMatchObject({ error: null, check: { ok: true } });
      expect(entry.snapshot).toMatch(/^[0-9a-f]{8}$/);
      expect(entry.repositoryBytes).toBeGreaterThan(0);
    }
    // The staged copy of Roundcube's database is a real database.
    const dump = spawnSync(
      'restic',
      ['--repo', join(root, 'repo-peer'), 'dump', 'latest', join(root, 'state', 'stage', 'roundcube.sqlite')],
      { env: { ...process.env, RESTIC_PASSWORD_FILE: join(root, 'password') } },
    );
    writeFileSync(join(root, 'copy.sqlite'), dump.stdout);
    expect(
      spawnSync('sqlite3', [join(root, 'copy.sqlite'), 'select name from contacts'], { encoding: 'utf8' }).stdout,
    ).toBe('Bu Ani\n');
    expect(status()).toMatchObject({ repositoryNames: ['peer', 'offsite'] });
  });

  it('a dead peer (its ssh fails) is recorded as that repository failing; the off-site one still gets its backup; exit 1', () => {
    writeConfig([
      {
        name: 'peer',
        url: 'sftp:play-backup@peer.invalid:/var/backups/play/primary',
        sftpCommand: "sh -c 'echo ssh: connect to host peer.invalid port 22: No route to host >&2; exit 255'",
      },
      local('offsite'),
    ]);
    const run = helper('run');
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('backup to peer FAILED');
    const now = status();
    expect(now.repositories.peer.error).toMatch(/restic (cat|init)/);
    expect(now.repositories.peer.lastSuccess).toBeUndefined();
    expect(now.repositories.offsite).toMatchObject({ error: null });
  });

  it('a peer that stalls (its sftp never answers) is given up after the short timeout, not waited for', () => {
    writeConfig(
      [{ name: 'peer', url: 'sftp:play-backup@peer.invalid:/srv', sftpCommand: 'sleep 600' }, local('offsite')],
      { timeouts: { short: 3 } },
    );
    // The healthy repository exists already: making one (restic's key derivation) may itself take seconds on a busy
    // machine, and only the stalled peer is under test here.
    expect(restic(join(root, 'repo-offsite'), 'init').status).toBe(0);
    const run = helper('run');
    expect(run.code).toBe(1);
    expect(status().repositories.peer.error).toContain('no end after 3 s');
    expect(status().repositories.offsite.error).toBeNull();
    // Nothing of the stalled one is left running.
    expect(spawnSync('pgrep', ['-f', 'sleep 600']).status).toBe(1);
    expect(run.ms).toBeLessThan(60_000);
  });

  it("a run killed mid-way (power cut) leaves restic's lock; the next run clears it and succeeds", async () => {
    writeConfig([local('peer')]);
    expect(helper('run').code).toBe(0);
    // Enough to back up for a moment, then the run and its restic are killed as a power cut would.
    mkdirSync(join(root, 'dkimkeys', 'big'));
    for (let i = 0; i < 60; i++) writeFileSync(join(root, 'dkimkeys', 'big', `f${i}`), randomBytes(2_000_000));
    const child = spawn('python3', [HELPER, 'run'], { env, detached: true });
    const locks = () => restic(join(root, 'repo-peer'), 'list', 'locks', '--no-lock').stdout.trim();
    // Killed while restic backs up (its lock is in the repository), not between two of its commands.
    const backingUp = () =>
      spawnSync('pgrep', ['-f', `restic --repo ${join(root, 'repo-peer')} --quiet backup`]).status === 0 &&
      locks() !== '';
    for (let waited = 0; !backingUp() && waited < 30_000; waited += 100)
      await new Promise((resolve) => setTimeout(resolve, 100));
    // Everything dies at once, as the service's cgroup does (restic runs in a process group of its own).
    process.kill(-child.pid!, 'SIGKILL');
    spawnSync('pkill', ['-KILL', '-f', `restic --repo ${join(root, 'repo-peer')}`]);
    await new Promise((resolve) => child.on('close', resolve));
    expect(locks()).not.toBe('');
    const again = helper('run');
    expect(again.code, again.stderr).toBe(0);
    expect(restic(join(root, 'repo-peer'), 'list', 'locks').stdout.trim()).toBe('');
  });

  it('two runs at once: the second waits for the first, both succeed, both snapshots kept (the last two days are)', async () => {
    writeConfig([local('peer')]);
    const [a, b] = await Promise.all([helperAsync('run'), helperAsync('run')]);
    expect([a.code, b.code], a.stderr + b.stderr).toEqual([0, 0]);
    const snapshots = JSON.parse(restic(join(root, 'repo-peer'), 'snapshots', '--json').stdout);
    expect(snapshots).toHaveLength(2);
    expect(new Set(snapshots.map((s: { short_id: string }) => s.short_id))).toEqual(
      new Set([a, b].map((r) => /snapshot ([0-9a-f]{8})/.exec(r.stdout)?.[1])),
    );
  });
});

describe('play-backup restore', { timeout: 180_000 }, () => {
  beforeEach(() => writeConfig([local('peer')]));

  it('puts back what was deleted (messages and a whole folder) with their own names; what is there stays single; others untouched', () => {
    expect(helper('run').code).toBe(0);
    const kepsekBefore = readFileSync(join(maildir('kepsek'), 'cur', '1700000000.M1P1.primary:2,S'));
    // guru2 reads one message (its flags change), expunges the other, deletes the Projects folder.
    const inbox = join(maildir('guru2'), 'cur');
    rmSync(join(inbox, '1700000002.M1P1.primary:2,S'));
    spawnSync('mv', [join(inbox, '1700000001.M1P1.primary:2,S'), join(inbox, '1700000001.M1P1.primary:2,RS')]);
    rmSync(join(maildir('guru2'), '.Projects'), { recursive: true });
    const dry = helper('restore', 'guru2', '--dry-run');
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ restored: 2, folders: { INBOX: 1, Projects: 1 }, dryRun: true });
    expect(filesOf(inbox)).toEqual(['1700000001.M1P1.primary:2,RS']);

    const done = helper('restore', 'guru2');
    expect(done.code, done.stderr).toBe(0);
    expect(JSON.parse(done.stdout)).toMatchObject({ account: 'guru2', repository: 'peer', restored: 2 });
    expect(filesOf(inbox)).toEqual(['1700000001.M1P1.primary:2,RS', '1700000002.M1P1.primary:2,S']);
    expect(filesOf(join(maildir('guru2'), '.Projects', 'cur'))).toEqual(['1700000003.M1P1.primary:2,S']);
    expect(readFileSync(join(inbox, '1700000002.M1P1.primary:2,S'), 'utf8')).toContain('inbox two');
    expect(readFileSync(join(maildir('kepsek'), 'cur', '1700000000.M1P1.primary:2,S'))).toEqual(kepsekBefore);
    // Nothing left to restore the second time.
    expect(JSON.parse(helper('restore', 'guru2').stdout)).toMatchObject({ restored: 0 });
  });

  it('--folder restores that folder only; --at takes the newest snapshot at or before that time', async () => {
    expect(helper('run').code).toBe(0);
    const first = new Date();
    await new Promise((resolve) => setTimeout(resolve, 1100));
    deliver('guru2', '', '1700000009.M1P1.primary', 'newer');
    expect(helper('run').code).toBe(0);
    rmSync(join(maildir('guru2'), 'cur'), { recursive: true });
    mkdirSync(join(maildir('guru2'), 'cur'));
    rmSync(join(maildir('guru2'), '.Projects'), { recursive: true });

    const folder = JSON.parse(helper('restore', 'guru2', '--folder', 'Projects').stdout);
    expect(folder).toMatchObject({ restored: 1, folders: { Projects: 1 } });
    expect(filesOf(join(maildir('guru2'), 'cur'))).toEqual([]);

    const older = JSON.parse(helper('restore', 'guru2', '--at', first.toISOString()).stdout);
    expect(older).toMatchObject({ restored: 2, folders: { INBOX: 2 } });
    expect(filesOf(join(maildir('guru2'), 'cur'))).not.toContain('1700000009.M1P1.primary:2,S');
  });

  it('says what is wrong: an unknown account, a time before every snapshot, a bad time', () => {
    expect(helper('run').code).toBe(0);
    expect(helper('restore', 'guru9').stderr).toContain("guru9 is not one of the school's accounts (guru2, kepsek)");
    expect(helper('restore', 'guru2', '--at', '2001-01-01T00:00:00Z').stderr).toContain(
      'no snapshot in peer at or before',
    );
    expect(helper('restore', 'guru2', '--at', 'yesterday').stderr).toContain("'yesterday' is not an ISO time");
  });
});

describe('play-backup drill', { timeout: 180_000 }, () => {
  const canaries = () => filesOf(join(root, 'state', 'canary', 'Maildir', 'cur'));

  it('each run plants a new canary, backs it up and restores it from every repository: status records the drill', () => {
    writeConfig([local('peer'), local('offsite')]);
    expect(helper('run').code).toBe(0);
    const first = canaries();
    expect(first).toHaveLength(1);
    for (const name of ['peer', 'offsite']) {
      const entry = status().repositories[name];
      expect(entry.drill).toMatchObject({ ok: true, snapshot: entry.snapshot, imap: false });
      expect(restic(join(root, `repo-${name}`), 'ls', 'latest').stdout).toContain(first[0]);
    }
    expect(helper('run').code).toBe(0);
    const second = canaries();
    expect(second).toHaveLength(1);
    expect(second[0]).not.toBe(first[0]);
    // The drill alone (as after a repair) restores the newest canary again.
    const alone = helper('drill');
    expect(alone.code, alone.stderr).toBe(0);
    expect(status().repositories.peer.drill).toMatchObject({ ok: true, snapshot: status().repositories.peer.snapshot });
  });

  it("a damaged repository fails the drill (exit 1, the journal's line and the status say which); the other passes", () => {
    writeConfig([local('peer'), local('offsite')]);
    expect(helper('run').code).toBe(0);
    // Every pack of the peer's repository zeroed, as a failing disk returns them (its size kept).
    const data = join(root, 'repo-peer', 'data');
    for (const dir of readdirSync(data)) {
      for (const pack of readdirSync(join(data, dir))) {
        const path = join(data, dir, pack);
        writeFileSync(path, Buffer.alloc(readFileSync(path).length));
      }
    }
    const drill = helper('drill');
    expect(drill.code).toBe(1);
    expect(drill.stderr).toMatch(/restore drill from peer FAILED: /);
    expect(status().repositories.peer.drill).toMatchObject({ ok: false });
    expect(status().repositories.peer.drill.error).toBeTruthy();
    expect(status().repositories.offsite.drill).toMatchObject({ ok: true });
  });

  it('before any run there is no canary: the drill says so and fails', () => {
    writeConfig([local('peer')]);
    const drill = helper('drill');
    expect(drill.code).toBe(1);
    expect(status().repositories.peer.drill).toMatchObject({ ok: false, error: expect.stringContaining('no canary') });
  });

  it('reads the restored canary over IMAP with the configured command, and fails when it cannot', () => {
    // The command here stands in for Dovecot's preauth imap (the lab's e2e runs the real one): it serves the one
    // message of the Maildir it is given, as imap answers FETCH BODY[], with CRLF line ends.
    const server = join(root, 'imap.py');
    writeFileSync(
      server,
      [
        'import os, sys',
        'cur = os.path.join(sys.argv[1], "cur")',
        'body = open(os.path.join(cur, os.listdir(cur)[0]), "rb").read().replace(b"\\n", b"\\r\\n")',
        'sys.stdin.buffer.read()',
        'sys.stdout.buffer.write(b"* PREAUTH\\r\\n* 1 FETCH (BODY[] {%d}\\r\\n" % len(body) + body + b")\\r\\nb OK\\r\\n")',
      ].join('\n'),
    );
    writeConfig([local('peer')], { imapCommand: ['python3', server, '{maildir}'] });
    const run = helper('run');
    expect(run.code, run.stderr).toBe(0);
    expect(status().repositories.peer.drill).toMatchObject({ ok: true, imap: true });
    writeConfig([local('peer')], { imapCommand: ['false', '{maildir}'] });
    expect(helper('drill').code).toBe(1);
    expect(status().repositories.peer.drill.error).toMatch(/IMAP read found no message/);
  });
});
