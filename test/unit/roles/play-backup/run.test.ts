import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  env,
  fakeDump,
  HELPER,
  helper,
  helperAsync,
  local,
  maildir,
  restic,
  root,
  status,
  useScratchServer,
  writeConfig,
} from './scratch-server.ts';

useScratchServer();

describe('play-backup run', { timeout: 180_000 }, () => {
  it('backs up to every repository: the mailboxes, a dump of Roundcube, the DKIM key; status says so', () => {
    writeConfig([local('peer'), local('offsite')]);
    const run = helper('run');
    expect(run.code, run.stderr).toBe(0);
    for (const name of ['peer', 'offsite']) {
      const files = restic(join(root, `repo-${name}`), 'ls', 'latest').stdout;
      expect(files).toContain(join(maildir('guru2'), '.Projects', 'cur', '1700000003.M1P1.primary:2,S'));
      expect(files).toContain(join(maildir('kepsek'), 'cur', '1700000000.M1P1.primary:2,S'));
      expect(files).toContain(join(root, 'dkimkeys', 'mail.private'));
      expect(files).toContain(join(root, 'state', 'stage', 'roundcube.sql'));
      const entry = status().repositories[name];
      expect(entry).toMatchObject({ error: null, check: { ok: true } });
      expect(entry.snapshot).toMatch(/^[0-9a-f]{8}$/);
      expect(entry.repositoryBytes).toBeGreaterThan(0);
    }
    // The staged dump is mariadb-dump's output, made as one consistent snapshot of the database.
    const dump = restic(join(root, 'repo-peer'), 'dump', 'latest', join(root, 'state', 'stage', 'roundcube.sql'));
    expect(dump.stdout).toContain("INSERT INTO `contacts` VALUES ('Bu Ani');");
    expect(dump.stdout).toContain('-- args: --single-transaction --databases roundcube');
    expect(status()).toMatchObject({ repositoryNames: ['peer', 'offsite'] });
  });

  it('a failed dump of Roundcube fails the run, naming it, and leaves the last good dump in place', () => {
    writeConfig([local('peer')]);
    expect(helper('run').code).toBe(0);
    fakeDump('-- half a dump', 2);
    const run = helper('run');
    expect(run.code).not.toBe(0);
    expect(run.stderr + JSON.stringify(status())).toContain("dumping Roundcube's database");
    expect(readFileSync(join(root, 'state', 'stage', 'roundcube.sql'), 'utf8')).toContain('Bu Ani');
    expect(existsSync(join(root, 'state', 'stage', 'roundcube.sql.partial'))).toBe(false);
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
