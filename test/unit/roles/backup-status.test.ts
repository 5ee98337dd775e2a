import { describe, expect, it } from 'vitest';
import { backupRow, parseBackupStatus, type BackupStatus } from '../../../roles/backup/status.ts';

const status = (repositories: BackupStatus['repositories'], installedAt = '2026-12-01T00:00:00Z'): BackupStatus => ({
  now: '2026-12-07T04:00:00Z',
  installedAt,
  repositoryNames: ['peer', 'offsite'],
  repositories,
});

const good = { lastSuccess: '2026-12-07T01:42:00Z', error: null, snapshot: '1a2b3c4d', repositoryBytes: 2_500_000_000 };

describe('the backup row of play verify', () => {
  it('ok with every repository backed up in the last 26 h: the age, snapshot and size of each', () => {
    expect(backupRow('primary', status({ peer: good, offsite: { ...good, repositoryBytes: 900 } }))).toEqual({
      check: 'backup',
      host: 'primary',
      gate: false,
      ok: true,
      detail:
        'peer: newest 2 h ago (snapshot 1a2b3c4d, 2.5 GB stored); offsite: newest 2 h ago (snapshot 1a2b3c4d, 900 B stored)',
    });
  });

  it('red for a backup older than 26 h, a failed last run, a failed check, or none since it was set up a day ago', () => {
    const row = (repositories: BackupStatus['repositories'], installedAt?: string) =>
      backupRow('backup', status(repositories, installedAt));
    expect(row({ peer: { ...good, lastSuccess: '2026-12-06T01:00:00Z' }, offsite: good })).toMatchObject({
      ok: false,
      detail: expect.stringContaining('peer: newest 27 h ago (snapshot 1a2b3c4d, 2.5 GB stored), older than 26 h'),
    });
    expect(row({ peer: { ...good, error: 'restic backup: exit 1: no space left' }, offsite: good })).toMatchObject({
      ok: false,
      detail: expect.stringContaining('peer: last run failed: restic backup: exit 1: no space left'),
    });
    expect(
      row({
        peer: good,
        offsite: { ...good, check: { at: '', subset: '7/30', ok: false, error: 'pack abc: hash mismatch' } },
      }),
    ).toMatchObject({
      ok: false,
      detail: expect.stringContaining('offsite: check of 7/30 failed: pack abc: hash mismatch'),
    });
    expect(row({})).toMatchObject({
      ok: false,
      detail: expect.stringContaining('peer: no backup in the 148 h since it was set up'),
    });
    expect(row({ peer: { error: 'restic init: exit 1' } }, '2026-12-07T03:00:00Z')).toMatchObject({
      ok: false,
      detail: expect.stringContaining('peer: never succeeded: restic init: exit 1'),
    });
  });

  it('shows the last restore drill: its age when it passed, red with its error when it failed', () => {
    const drilled = { ...good, drill: { at: '2026-12-07T01:45:00Z', ok: true, snapshot: '1a2b3c4d' } };
    expect(backupRow('primary', status({ peer: drilled, offsite: good })).detail).toBe(
      'peer: newest 2 h ago (snapshot 1a2b3c4d, 2.5 GB stored), drill ok 2 h ago; offsite: newest 2 h ago (snapshot 1a2b3c4d, 2.5 GB stored)',
    );
    const failed = { ...good, drill: { at: '2026-12-07T01:45:00Z', ok: false, error: 'restic restore: exit 1' } };
    expect(backupRow('primary', status({ peer: good, offsite: failed }))).toMatchObject({
      ok: false,
      detail: expect.stringContaining('offsite: restore drill failed: restic restore: exit 1'),
    });
  });

  it('fine before the first night: none yet within 26 h of the first deploy', () => {
    expect(backupRow('primary', status({}, '2026-12-07T03:00:00Z'))).toMatchObject({
      ok: true,
      detail:
        'peer: none yet (the first runs tonight, or now with play backup); offsite: none yet (the first runs tonight, or now with play backup)',
    });
  });

  it('red when the helper does not answer', () => {
    expect(parseBackupStatus('')).toBeUndefined();
    expect(parseBackupStatus('{"not": "a status"}')).toBeUndefined();
    expect(backupRow('primary', undefined)).toMatchObject({
      ok: false,
      detail: expect.stringContaining('did not answer'),
    });
  });
});
