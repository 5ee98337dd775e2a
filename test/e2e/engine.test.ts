import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { stdoutOf } from './support/hosts.ts';
import { freshLab } from './support/lab.ts';
import { sh } from '../../src/connection/sh.ts';
import { powerCut, powerOn } from '../lab/faults.ts';
import { hostPaths } from '../lab/config.ts';
import { manyFilesContent } from './playbooks/many-files.ts';
import { play, playJson } from './support/play.ts';

const ENGINE = 'test/e2e/playbooks/engine.ts';
const MANY = 'test/e2e/playbooks/many-files.ts';

describe('the engine on the lab hosts', () => {
  beforeAll(() => freshLab());

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
      expect(await stdoutOf(host, sh`apache2ctl -t -D DUMP_INCLUDES >/dev/null && cat /srv/play/index.html`)).toContain(
        `play on ${host}`,
      );
      expect(await stdoutOf(host, sh`id -nG guru1`)).toContain('teachers');
    }
  });

  it('--check on converged hosts reports 0 changes; after a hand edit it shows the diff and changes nothing', async () => {
    const clean = await play([ENGINE, '--check', '--detailed-exitcode']);
    expect(clean.code, clean.stdout).toBe(0);

    await stdoutOf(
      'primary',
      sh`sed -i 's|^Alias /play .*|Alias /play /srv/elsewhere|' /etc/apache2/conf-available/play-test.conf`,
    );
    const handlersBefore = await stdoutOf('primary', sh`wc -l < /var/log/play-handlers.log`);
    const check = await play([ENGINE, '--check', '--detailed-exitcode']);
    expect(check.code, check.stdout).toBe(3);
    expect(check.stdout).toContain('-Alias /play /srv/elsewhere');
    expect(check.stdout).toContain('+Alias /play /srv/play');
    expect(check.stdout).toMatch(/primary \| would run \| engine › handler log reload/);
    expect(check.stdout).not.toMatch(/backup \| would change/);
    expect(await stdoutOf('primary', sh`grep '^Alias' /etc/apache2/conf-available/play-test.conf`)).toBe(
      'Alias /play /srv/elsewhere\n',
    );
    expect(await stdoutOf('primary', sh`wc -l < /var/log/play-handlers.log`)).toBe(handlersBefore);

    const fix = await playJson([ENGINE]);
    expect(fix.code).toBe(0);
    expect(fix.report.hosts.primary.changed).toBe(1 + 2);
    expect(fix.report.hosts.backup.changed).toBe(0);
    expect(await stdoutOf('primary', sh`grep '^Alias' /etc/apache2/conf-available/play-test.conf`)).toBe(
      'Alias /play /srv/play\n',
    );
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

  it('play killed in the middle of a write batch on both servers: every file is old or new, the next run converges and leaves no temp file', async () => {
    const first = await playJson([MANY], { PLAY_E2E_VERSION: 'A' });
    expect(first.code, first.stderr).toBe(0);
    // The 150 files of each server travel in one batch: the controller is killed once 20 of them are new on both
    // servers (read in the hosts' own roots from this machine), while the rest are still on their way.
    const newOn = (host: string) =>
      Array.from({ length: 150 }, (_, i) => {
        try {
          return readFileSync(join(hostPaths(host).root, `srv/many/file-${i}.txt`), 'utf8').startsWith('B:');
        } catch {
          return false;
        }
      }).filter(Boolean).length;
    let kill: (() => void) | undefined;
    const killed = play([MANY], {
      env: { PLAY_E2E_VERSION: 'B', PLAY_E2E_SLOW_CHECK: '1' },
      onStdout: (_, k) => (kill = k),
    });
    const deadline = Date.now() + 120_000;
    while (!(newOn('primary') >= 20 && newOn('backup') >= 20)) {
      if (Date.now() > deadline)
        throw new Error(
          `timed out waiting for 20 new files on both servers (primary ${newOn('primary')}, backup ${newOn('backup')})`,
        );
      await new Promise((r) => setTimeout(r, 20));
    }
    kill!();
    expect((await killed).code).toBeNull();

    const expected = (index: number, v: string) =>
      createHash('sha256').update(manyFilesContent(index, v)).digest('hex');
    for (const host of ['primary', 'backup']) {
      const sums = await stdoutOf(host, sh`cd /srv/many && sha256sum file-*.txt`);
      let versionA = 0;
      let versionB = 0;
      for (const line of sums.trim().split('\n')) {
        const [sum, name] = line.split(/\s+/);
        const index = Number(/file-(\d+)\.txt/.exec(name)![1]);
        if (sum === expected(index, 'A')) versionA++;
        else if (sum === expected(index, 'B')) versionB++;
        else throw new Error(`${host}: ${name} is neither the old nor the new content`);
      }
      expect(versionA + versionB, host).toBe(150);
      expect(versionB, host).toBeGreaterThanOrEqual(20);
      expect(versionA, `${host}: some files were still old when the controller died`).toBeGreaterThan(0);
    }

    const next = await playJson([MANY], { PLAY_E2E_VERSION: 'B' });
    expect(next.code).toBe(0);
    for (const host of ['primary', 'backup'])
      expect(await stdoutOf(host, sh`ls -A /srv/many | grep -c '\.play-' || true`), host).toBe('0\n');
    const again = await playJson([MANY], { PLAY_E2E_VERSION: 'B' });
    expect(again.report.hosts.primary.changed).toBe(0);
    expect(again.report.hosts.backup.changed).toBe(0);
  });
});

describe('a reboot in a run, on a lab host', () => {
  const REBOOT = 'test/e2e/playbooks/reboot.ts';
  beforeAll(() => freshLab());
  const bootId = () => stdoutOf('backup', sh`cat /proc/sys/kernel/random/boot_id`);

  it('--check shows the reboot and reboots nothing', async () => {
    const before = await bootId();
    const check = await play([REBOOT, '--check']);
    expect(check.code, check.stdout).toBe(0);
    expect(check.stdout).toMatch(/backup \| would change \| reboot\b.*reboot, and wait up to 120 s/);
    expect(await bootId()).toBe(before);
  });

  it('the backup reboots mid-play; the tasks after it and the next play run on the new boot', async () => {
    const before = await bootId();
    const run = await playJson([REBOOT]);
    expect(run.code, run.stderr + run.stdout).toBe(0);
    expect(run.report.tasks.map((t) => `${(t as { play?: string }).play}: ${t.task} ${t.status}`)).toEqual([
      'reboot: file /srv/before-reboot changed',
      'reboot: reboot changed',
      'reboot: after the reboot changed',
      'the next play: file /srv/next-play changed',
    ]);
    const after = await bootId();
    expect(after).not.toBe(before);
    expect(await stdoutOf('backup', sh`cat /srv/after-reboot`)).toBe(after);
    expect(await stdoutOf('backup', sh`systemctl is-system-running`)).toMatch(/^(running|degraded)\n$/);
    // The run lock of the new boot was taken and is released: a second run takes it without waiting.
    const again = await playJson([REBOOT, '--no-wait']);
    expect(again.code, again.stderr).toBe(0);
  });

  it('a host that does not come back in time is unreachable, and the run stops there for it (exit 1)', async () => {
    // The host halts instead of rebooting (its reboot.target made a poweroff), as a server that does not come back.
    await stdoutOf(
      'backup',
      sh`ln -sf /lib/systemd/system/poweroff.target /etc/systemd/system/reboot.target && systemctl daemon-reload`,
    );
    try {
      const run = await playJson([REBOOT], { PLAY_E2E_REBOOT_TIMEOUT: '15' });
      expect(run.code).toBe(1);
      const reboot = run.report.tasks.find((t) => t.task === 'reboot');
      expect(reboot).toMatchObject({ status: 'unreachable' });
      expect(reboot?.error).toContain('backup did not come back within 15 s of the reboot');
      expect(run.report.tasks.map((t) => t.task)).not.toContain('after the reboot');
    } finally {
      await powerOn('backup');
      await stdoutOf('backup', sh`rm -f /etc/systemd/system/reboot.target`);
    }
  });
});
