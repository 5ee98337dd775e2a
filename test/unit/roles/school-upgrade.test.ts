import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { PlayError } from '../../../src/errors.ts';
import { schoolUpgradePlaybook, BOOKWORM_TO_TRIXIE } from '../../../roles/school/upgrade-playbook.ts';
import { preflightScript, upgradePreflight } from '../../../roles/school/upgrade/preflight.ts';
import { aptToNextRelease, sourcesOfNextRelease } from '../../../roles/school/upgrade/move.ts';
import { UPGRADE_UNDER_WAY } from '../../../roles/school/upgrade/state.ts';
import inventory from '../../../inventory/lab.ts';
import { FakeHost } from '../support/fake-host.ts';

const move = BOOKWORM_TO_TRIXIE;
const preflightSays = (stdout: string, exitCode = 0) =>
  new FakeHost({
    onCommand: (c) => (c.text === preflightScript(move).text ? { exitCode, stdout } : undefined),
  });

describe('the upgrade preflight', () => {
  it('names every problem it found, and fails (nothing is changed)', async () => {
    const host = preflightSays(
      'release 12 bookworm\nproblem: only 50 MB free in /var/cache/apt/archives (the upgrade needs 2000 MB)\nproblem: held packages would block the upgrade: dovecot-core (apt-mark unhold them, or upgrade by hand)\n',
    );
    const error = await host.plan(upgradePreflight(move)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PlayError);
    expect((error as PlayError).message).toBe(
      'fake cannot move to Debian 13 yet (nothing was changed): only 50 MB free in /var/cache/apt/archives (the upgrade needs 2000 MB); held packages would block the upgrade: dovecot-core (apt-mark unhold them, or upgrade by hand)',
    );
  });

  it('passes a ready server, one under way (it resumes) and one on Debian 13 already, saying which', async () => {
    expect(await preflightSays('release 12 bookworm\n').plan(upgradePreflight(move))).toEqual({
      changed: false,
      reason: 'Debian 12 bookworm: enough free space, no held or foreign packages, Debian 13 reachable',
    });
    expect(await preflightSays('release 12 bookworm\nunder way\n').plan(upgradePreflight(move))).toEqual({
      changed: false,
      reason: 'its move to Debian 13 is under way: it resumes',
    });
    expect(await preflightSays('release 13 trixie\n').plan(upgradePreflight(move))).toEqual({
      changed: false,
      reason: 'runs Debian 13 already',
    });
  });

  it('a check that itself fails is a problem, not a pass', async () => {
    const error = await preflightSays('release 12 bookworm\n', 2)
      .plan(upgradePreflight(move))
      .catch((e) => e);
    expect((error as Error).message).toContain('the preflight check itself failed (exit 2)');
  });

  it('is a valid sh script', () => {
    expect(spawnSync('sh', ['-n'], { input: preflightScript(move).text }).status).toBe(0);
  });
});

describe("the server's move", () => {
  it('apt runs from a script file in a unit of its own: no service started by packages, libssl3t64 first, then full-upgrade, then the marker', async () => {
    const notYet = new FakeHost({ onCommand: (c) => (c.text.startsWith('test -e ') ? { exitCode: 1 } : undefined) });
    const plan = await notYet.plan(aptToNextRelease(move));
    if (!plan.changed) throw new Error('expected a change');
    const [step] = plan.steps;
    if (step.kind !== 'exec') throw new Error('expected a command');
    const script = String(step.stdin);
    expect(spawnSync('sh', ['-n'], { input: script }).status).toBe(0);
    expect(spawnSync('sh', ['-n'], { input: step.command.text }).status).toBe(0);
    const order = [
      'exit 101\\n\' "$mark" > $policy',
      'step dpkg --force-confdef --force-confold --configure -a',
      'upgrade --without-new-pkgs',
      'install libssl3t64',
      'full-upgrade',
      'grep -qxF "$mark" $policy && rm -f $policy',
      '/var/lib/play/release-upgrade/trixie.apt-done',
    ].map((needle) => script.indexOf(needle));
    expect(order.every((at) => at >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    // The script is never on systemd's command line (it would expand $$ there).
    expect(step.command.text).toContain('/bin/sh /var/lib/play/release-upgrade/steps.sh');
    expect(step.command.text).not.toContain('$$');
    expect(step.failure).toBe('the move to Debian 13 failed: apt did not finish');
  });

  it("apt's sources: every bookworm suite becomes trixie's, nothing else", async () => {
    const stillBookworm = new FakeHost({
      onCommand: (c) => (c.text.startsWith('! grep') ? { exitCode: 1 } : undefined),
    });
    const plan = await stillBookworm.plan(sourcesOfNextRelease(move));
    if (!plan.changed || plan.steps[0].kind !== 'exec') throw new Error('expected a command');
    const sed = /sed -i -E '([^']+)'/.exec(plan.steps[0].command.text);
    expect(sed).not.toBeNull();
    const lines = [
      'deb http://deb.debian.org/debian bookworm main',
      'deb http://deb.debian.org/debian bookworm-updates main',
      'deb http://security.debian.org/debian-security bookworm-security main',
      'Suites: bookworm bookworm-updates',
      'deb http://example.org/bookworm-tools stable main',
    ].join('\n');
    const out = spawnSync('sed', ['-E', sed![1]], { input: lines, encoding: 'utf8' }).stdout;
    expect(out.split('\n')).toEqual([
      'deb http://deb.debian.org/debian trixie main',
      'deb http://deb.debian.org/debian trixie-updates main',
      'deb http://security.debian.org/debian-security trixie-security main',
      'Suites: trixie trixie-updates',
      'deb http://example.org/bookworm-tools stable main',
    ]);
  });
});

describe('schoolUpgradePlaybook', () => {
  it('preflight, backup, replication across releases, then the backup server and the primary, each to Debian 13, the site, done; then the VIP', () => {
    const playbook = schoolUpgradePlaybook(inventory);
    expect(playbook.plays.map((p) => [p.name, p.hosts])).toEqual([
      ['preflight', ['primary', 'backup']],
      ['back up both servers', ['primary', 'backup']],
      ['replication across releases', ['primary', 'backup']],
      ['backup: to Debian 13', ['backup']],
      ['backup: the site on Debian 13', ['backup']],
      ['backup: moved to Debian 13', ['backup']],
      ['primary: to Debian 13', ['primary']],
      ['primary: the site on Debian 13', ['primary']],
      ['primary: moved to Debian 13', ['primary']],
      ['the VIP back on the primary', ['primary']],
    ]);
    const [preflight] = playbook.plays;
    expect(preflight.checkHealthFirst).toEqual({ unless: UPGRADE_UNDER_WAY });
    // Every play of a server's turn stops the run when it fails; the move itself is out of the health gate.
    for (const play of playbook.plays.slice(0, -1)) expect(play.anyErrorsFatal, play.name).toBe(true);
    expect(playbook.plays.filter((p) => p.healthGate === false).map((p) => p.name)).toEqual([
      'backup: to Debian 13',
      'primary: to Debian 13',
    ]);
  });
});
