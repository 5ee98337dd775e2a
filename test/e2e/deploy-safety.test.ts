import { beforeAll, describe, expect, it } from 'vitest';
import { sh } from '../../src/connection/sh.ts';
import { stdoutOf } from './support/hosts.ts';
import { freshLab } from './support/lab.ts';
import { play, playJson, type PlayResult } from './support/play.ts';

// Deploys that cannot leave a server half-done, on the lab's real hosts with a real service (apache2): handlers
// owed across a failed or killed run, and the run lock between two runs. (The health gate is proven on the whole
// site, in site.test.ts.)
const ENGINE = 'test/e2e/playbooks/engine.ts';
const THEN_FAIL = 'test/e2e/playbooks/engine-then-fail.ts';
const CONF = '/etc/apache2/conf-available/play-test.conf';
const PENDING = '/var/lib/play/primary/pending-handlers';

/** How many times systemd has reloaded apache2 on the primary, from its journal. */
const reloads = async () =>
  Number((await stdoutOf('primary', sh`journalctl -u apache2 --no-pager -o cat | grep -c '^Reloaded' || true`)).trim());
const drift = () => stdoutOf('primary', sh`sed -i 's|^Alias /play .*|Alias /play /srv/elsewhere|' ${CONF}`);
const pending = () => stdoutOf('primary', sh`cat ${PENDING} 2>/dev/null || true`);
const until = async (what: string, condition: () => boolean | Promise<boolean>, ms = 120_000) => {
  const end = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

describe('deploy safety on the lab: durable handlers and the run lock', () => {
  beforeAll(async () => {
    await freshLab();
    const first = await playJson([ENGINE]);
    expect(first.code, first.stderr + first.stdout).toBe(0);
  }, 600_000);

  it('a change notifies a reload, then a later task fails: the reload is owed, and the next run runs it first (seen in the journal) though the file no longer changes', async () => {
    await drift();
    await stdoutOf('primary', sh`touch /etc/play-fail-now`);
    const before = await reloads();
    const failed = await play([THEN_FAIL]);
    expect(failed.code, failed.stdout).toBe(1);
    expect(failed.stdout).toMatch(
      /primary \| changed \| engine › template \/etc\/apache2\/conf-available\/play-test\.conf/,
    );
    expect(failed.stdout).toMatch(/primary \| failed \| a later step/);
    expect(await stdoutOf('primary', sh`grep '^Alias' ${CONF}`)).toBe('Alias /play /srv/play\n');
    expect(await reloads()).toBe(before);
    expect(await pending()).toContain('"handler":"reload apache2"');

    await stdoutOf('primary', sh`rm /etc/play-fail-now`);
    const next = await play([THEN_FAIL]);
    expect(next.code, next.stdout).toBe(0);
    expect(next.stdout).toMatch(
      /primary \| changed \| engine › handler reload apache2 \(.*pending from an earlier run\)/,
    );
    expect(next.stdout).toMatch(/primary \| ok \| engine › template \/etc\/apache2\/conf-available\/play-test\.conf/);
    expect(next.stdout.indexOf('primary | changed | engine › handler reload apache2')).toBeLessThan(
      next.stdout.indexOf('primary | ok | engine › template'),
    );
    expect(await reloads()).toBe(before + 1);
    expect(await pending()).toBe('');
  });

  it('the controller killed between the change and its reload: the reload is owed, the lock is free at once, and the next run (--no-wait) reloads first', async () => {
    await drift();
    await stdoutOf('primary', sh`touch /etc/play-hold`);
    const before = await reloads();
    const killed: PlayResult = await play([THEN_FAIL], {
      onStdout: (out, kill) => {
        if (/primary \| changed \| engine › template \/etc\/apache2\/conf-available\/play-test\.conf/.test(out)) kill();
      },
    });
    expect(killed.code).toBeNull();
    expect(await pending()).toContain('"handler":"reload apache2"');
    expect(await reloads()).toBe(before);
    await stdoutOf('primary', sh`rm -f /etc/play-hold`);
    const next = await play([THEN_FAIL, '--no-wait']);
    expect(next.code, next.stdout + next.stderr).toBe(0);
    expect(next.stdout).not.toContain('locked');
    expect(next.stdout).toMatch(
      /primary \| changed \| engine › handler reload apache2 \(.*pending from an earlier run\)/,
    );
    expect(await reloads()).toBe(before + 1);
    expect(await pending()).toBe('');
  });

  it('two runs at once: one holds the lock, --no-wait fails naming the holder, a third waits; the files end as the last run wrote them', async () => {
    await drift();
    await stdoutOf('primary', sh`touch /etc/play-hold`);
    let holding = false;
    const first = play([THEN_FAIL], {
      env: { PLAY_E2E_MOTD: 'written by the first run' },
      onStdout: (out) => (holding ||= /primary \| changed \| engine › file \/etc\/motd/.test(out)),
    });
    await until('the first run to change the primary', () => holding);
    const refused = await play([THEN_FAIL, '--no-wait'], { env: { PLAY_E2E_MOTD: 'written by the refused run' } });
    expect(refused.code, refused.stdout).toBe(1);
    expect(refused.stdout).toMatch(
      /primary is locked by another play run \(root@\S+ pid \d+ since \d{4}-\d\d-\d\dT[\d:.]+Z\); it was not touched \(--no-wait\)/,
    );
    expect(await stdoutOf('primary', sh`cat /etc/motd`)).toBe('written by the first run\n');

    let waiting = '';
    const third = play([THEN_FAIL], {
      env: { PLAY_E2E_MOTD: 'written by the third run' },
      onStdout: (out) => (waiting = out),
    });
    await until('the third run to wait for the lock', () =>
      /primary \| waiting for the run lock, held by root@\S+ pid \d+/.test(waiting),
    );
    expect(await stdoutOf('primary', sh`cat /etc/motd`)).toBe('written by the first run\n');
    await stdoutOf('primary', sh`rm -f /etc/play-hold`);
    expect((await first).code).toBe(0);
    const done = await third;
    expect(done.code, done.stdout).toBe(0);
    expect(await stdoutOf('primary', sh`cat /etc/motd`)).toBe('written by the third run\n');
    expect(await stdoutOf('backup', sh`cat /etc/motd`)).toBe('written by the third run\n');
    // Converged: a plain run changes nothing but the motd back to the default, and takes no lock to find that out.
    const check = await play([ENGINE, '--check']);
    expect(check.stdout).toMatch(/^primary +ok=\d+ changed=1 /m);
  });
});
