import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { deliver, filesOf, helper, local, maildir, root, useScratchServer, writeConfig } from './scratch-server.ts';

useScratchServer();

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

  it("with the peer's repository gone, takes the off-site one and says so; asked for the peer's alone, says why it cannot", () => {
    writeConfig([local('peer'), local('offsite')]);
    expect(helper('run').code).toBe(0);
    rmSync(join(root, 'repo-peer'), { recursive: true });
    const inbox = join(maildir('guru2'), 'cur');
    rmSync(join(inbox, '1700000002.M1P1.primary:2,S'));
    const done = helper('restore', 'guru2');
    expect(done.code, done.stderr).toBe(0);
    expect(JSON.parse(done.stdout)).toMatchObject({ account: 'guru2', repository: 'offsite', restored: 1 });
    expect(filesOf(inbox)).toEqual(['1700000001.M1P1.primary:2,S', '1700000002.M1P1.primary:2,S']);
    const peerOnly = helper('restore', 'guru2', '--repository', 'peer');
    expect(peerOnly.code).toBe(1);
    expect(peerOnly.stderr).toMatch(/nothing to restore from: peer: restic snapshots: exit \d+/);
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
