import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import {
  ANY_SYNC_FAILED,
  REPLICATOR_USERS,
  SYNC_FAILED,
  systemdShell,
} from '../../../roles/dovecot/replicator-status.ts';

// What Dovecot 2.3's `doveadm replicator status '*'` prints (columns as in the lab's servers).
const HEADER =
  'username                                                 priority fast sync full sync success sync failed';
const row = (user: string, failed: '-' | 'y') =>
  `${user.padEnd(57)}none     00:00:03  00:10:12  00:00:03     ${failed}`;

/** Runs a shell command with `doveadm` answering the given status (real bash, real awk). */
function withStatus(lines: string[], command: string) {
  const script = `doveadm() { printf '%s\\n' "$STATUS"; }\n${command}`;
  return spawnSync('bash', ['-c', script], { encoding: 'utf8', env: { ...process.env, STATUS: lines.join('\n') } });
}

describe('reading the replicator status', () => {
  it('SYNC_FAILED picks the users whose last sync failed, never the header', () => {
    const result = withStatus(
      [HEADER, row('kepsek', '-'), row('guru1', 'y'), row('guru2', '-'), row('guru3', 'y')],
      `${REPLICATOR_USERS} | awk '${SYNC_FAILED} { print $1 }'`,
    );
    expect(result.stdout).toBe('guru1\nguru3\n');
  });

  it('ANY_SYNC_FAILED holds with one failed user and not with none, nor with no user at all', () => {
    expect(withStatus([HEADER, row('kepsek', '-'), row('guru1', 'y')], ANY_SYNC_FAILED).status).toBe(0);
    expect(withStatus([HEADER, row('kepsek', '-'), row('guru1', '-')], ANY_SYNC_FAILED).status).toBe(1);
    expect(withStatus([HEADER], ANY_SYNC_FAILED).status).toBe(1);
  });
});

describe('systemdShell', () => {
  it('doubles $ and %, backslashes " and \\, and wraps the whole in one double-quoted argument of /bin/sh -c', () => {
    expect(systemdShell(`a "$b" 100% \\n`)).toBe('/bin/sh -c "a \\"$$b\\" 100%% \\\\n"');
  });
});
