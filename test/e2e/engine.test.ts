import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { stdoutOf } from './support/hosts.ts';
import { freshLab } from './support/lab.ts';
import { sh } from '../../src/connection/sh.ts';
import { onHost, powerCut, powerOn } from '../lab/faults.ts';
import { manyFilesContent } from './playbooks/many-files.ts';
import { play, playJson } from './support/play.ts';

const ENGINE = 'test/e2e/playbooks/engine.ts';
const MANY = 'test/e2e/playbooks/many-files.ts';

describe('the engine on the lab hosts', () => {
  beforeAll(freshLab);

  it('takes both bare hosts to the wanted state, then a second run changes nothing', async () => {
    const first = await playJson([ENGINE]);
    expect(first.code, first.stderr + first.stdout).toBe(0);
    for (const host of ['primary', 'backup']) {
      expect(first.report.hosts[host].changed).toBeGreaterThanOrEqual(12);
      expect(first.report.hosts[host].failed).toBe(0);
    }
    const second = await playJson([ENGINE]);
    expect(second.code).toBe(0);
    for (const host of ['primary', 'backup']) {
      expect(second.report.hosts[host]).toMatchObject({ changed: 0, failed: 0, unreachable: 0 });
      expect(second.report.hosts[host].commands).toBeLessThanOrEqual(2);
    }
  });

  it('installs a package and starts and enables its service through systemd', async () => {
    for (const host of ['primary', 'backup']) {
      expect(await stdoutOf(host, sh`cat /proc/1/comm`)).toBe('systemd\n');
      expect(await stdoutOf(host, sh`systemctl is-enabled apache2`)).toBe('enabled\n');
      expect(await stdoutOf(host, sh`systemctl is-active apache2`)).toBe('active\n');
      // The site the role configured answers through the service it started.
      expect(await stdoutOf(host, sh`apache2ctl -t -D DUMP_INCLUDES >/dev/null && cat /srv/play/index.html`)).toContain(`play on ${host}`);
      expect(await stdoutOf(host, sh`id -nG guru1`)).toContain('teachers');
    }
  });

  it('--check on converged hosts reports 0 changes; after a hand edit it shows the diff and changes nothing', async () => {
    const clean = await play([ENGINE, '--check', '--detailed-exitcode']);
    expect(clean.code, clean.stdout).toBe(0);

    await stdoutOf('primary', sh`sed -i 's|^Alias /play .*|Alias /play /srv/elsewhere|' /etc/apache2/conf-available/play-test.conf`);
    const handlersBefore = await stdoutOf('primary', sh`wc -l < /var/log/play-handlers.log`);
    const check = await play([ENGINE, '--check', '--detailed-exitcode']);
    expect(check.code, check.stdout).toBe(3);
    expect(check.stdout).toContain('-Alias /play /srv/elsewhere');
    expect(check.stdout).toContain('+Alias /play /srv/play');
    expect(check.stdout).toMatch(/primary \| would run \| engine › handler log reload/);
    expect(check.stdout).not.toMatch(/backup \| would change/);
    expect(await stdoutOf('primary', sh`grep '^Alias' /etc/apache2/conf-available/play-test.conf`)).toBe('Alias /play /srv/elsewhere\n');
    expect(await stdoutOf('primary', sh`wc -l < /var/log/play-handlers.log`)).toBe(handlersBefore);

    const fix = await playJson([ENGINE]);
    expect(fix.code).toBe(0);
    expect(fix.report.hosts.primary.changed).toBe(1 + 2);
    expect(fix.report.hosts.backup.changed).toBe(0);
    expect(await stdoutOf('primary', sh`grep '^Alias' /etc/apache2/conf-available/play-test.conf`)).toBe('Alias /play /srv/play\n');
    expect(Number(await stdoutOf('primary', sh`wc -l < /var/log/play-handlers.log`))).toBe(Number(handlersBefore) + 1);
  });

  it('a power-cut backup is reported unreachable while the primary still converges (exit 1)', async () => {
    await stdoutOf('primary', sh`echo drift > /etc/motd`);
    await powerCut('backup');
    try {
      const run = await playJson([ENGINE]);
      expect(run.code).toBe(1);
      expect(run.report.hosts.backup.unreachable).toBe(1);
      expect(run.report.hosts.primary).toMatchObject({ failed: 0, unreachable: 0, changed: 1 });
      expect(await stdoutOf('primary', sh`cat /etc/motd`)).toBe('Managed by play\n');
    } finally {
      await powerOn('backup');
    }
    const after = await playJson([ENGINE]);
    expect(after.code).toBe(0);
    expect(after.report.hosts.backup.changed).toBe(0);
  });

  it('play killed while writing files: no file is half-written, the next run converges and leaves no temp file', async () => {
    const first = await playJson([MANY], { PLAY_E2E_VERSION: 'A' });
    expect(first.code, first.stderr).toBe(0);
    let changedLines = 0;
    const killed = await play([MANY], {
      env: { PLAY_E2E_VERSION: 'B' },
      onStdout: (text, kill) => {
        changedLines = (text.match(/\| changed \|/g) ?? []).length;
        if (changedLines >= 20) kill();
      },
    });
    expect(killed.code).toBeNull();
    expect(changedLines).toBeGreaterThanOrEqual(20);

    const sums = await stdoutOf('primary', sh`cd /srv/many && sha256sum file-*.txt`);
    const expected = (index: number, v: string) => createHash('sha256').update(manyFilesContent(index, v)).digest('hex');
    let versionA = 0;
    let versionB = 0;
    for (const line of sums.trim().split('\n')) {
      const [sum, name] = line.split(/\s+/);
      const index = Number(/file-(\d+)\.txt/.exec(name)![1]);
      if (sum === expected(index, 'A')) versionA++;
      else if (sum === expected(index, 'B')) versionB++;
      else throw new Error(`${name} is neither the old nor the new content`);
    }
    expect(versionA + versionB).toBe(150);
    expect(versionB).toBeGreaterThanOrEqual(20);
    expect(versionA).toBeGreaterThan(0);

    const next = await playJson([MANY], { PLAY_E2E_VERSION: 'B' });
    expect(next.code).toBe(0);
    expect(await stdoutOf('primary', sh`ls -A /srv/many | grep -c '\.play-' || true`)).toBe('0\n');
    const again = await playJson([MANY], { PLAY_E2E_VERSION: 'B' });
    expect(again.report.hosts.primary.changed).toBe(0);
  });
});
