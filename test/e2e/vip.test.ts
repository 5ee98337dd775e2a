import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { holdsVip, stdoutOf, vipHolders as holders } from './support/hosts.ts';
import { answersAtVip, onlyHolder, untilVip, watchHolders } from './support/failover.ts';
import { probeFromClient } from './support/probe.ts';
import { freshLab } from './support/lab.ts';
import { play, playJson } from './support/play.ts';
import { sh } from '../../src/connection/sh.ts';
import { compileRun } from '../../src/engine/compile.ts';
import { ValidationError } from '../../src/errors.ts';
import { definePlaybook } from '../../src/model/playbook.ts';
import inventory from '../../inventory/lab.ts';
import keepalived from '../../roles/keepalived/index.ts';
import { LAB_CLIENT, LAB_HOSTS, LAB_VIP } from '../lab/config.ts';
import { linkDown, linkUp, onHost, powerCut, powerOn, startService, stopService } from '../lab/faults.ts';

const run = promisify(execFile);

const PLAYBOOK = 'test/e2e/playbooks/vip.ts';
/** Outside the lab's LAN (198.18.N.0/24) and reserved for benchmarks: never contacted, only refused. */
const OUTSIDE_VIP = '198.19.99.254';
const PREEMPT_DELAY_MS = keepalived.defaults!.preemptDelay! * 1000;
const VRID = keepalived.defaults!.virtualRouterId!;
const FORGER = join(import.meta.dirname, 'support/forge-vrrp.py');
const [PRIMARY, BACKUP] = LAB_HOSTS;

/** What each failover took, printed at the end (the next issue benchmarks them; these tests assert none tightly). */
const timings: Record<string, number> = {};

/** Runs a command inside the client namespace. */
function inClient(program: string, args: readonly string[], timeout = 10_000) {
  return run('ip', ['netns', 'exec', LAB_CLIENT.netns, program, ...args], { timeout, encoding: 'utf8' });
}

/** Whether sshd's banner comes from VIP:22, seen from lab-client (a TCP connect alone proves nothing). */
async function vipAnswers(): Promise<boolean> {
  const [ssh] = await probeFromClient({
    timeout: 2,
    checks: [{ kind: 'banner', host: LAB_VIP, port: 22, expect: 'SSH-2.0-' }],
  });
  return ssh.ok;
}

const hostKeys = new Map<string, string>();

/** Which server answers at the VIP, seen from lab-client by the ssh host key it presents (undefined: no answer). */
async function whoAnswers(): Promise<string | undefined> {
  let stdout = '';
  try {
    ({ stdout } = await inClient('ssh-keyscan', ['-T', '1', '-t', 'ed25519', LAB_VIP], 5000));
  } catch {
    return undefined;
  }
  const key = stdout
    .split('\n')
    .find((l) => l.startsWith(`${LAB_VIP} ssh-ed25519 `))
    ?.split(' ')[2];
  if (!key) return undefined;
  return [...hostKeys].find(([, k]) => k === key)?.[0] ?? `an unknown key ${key}`;
}

/** The milliseconds from `since` until sshd's banner (the tracked service here) comes from the VIP, seen from lab-client. */
const firstSshBanner = async (since: number) =>
  (await answersAtVip([{ kind: 'banner', label: 'ssh', host: LAB_VIP, port: 22, expect: 'SSH-2.0-' }], since)).ssh;
const only = onlyHolder;

/** After the primary's power came back, or its service or link: it takes the VIP back once the preempt delay is over. */
async function expectPrimaryBack(label: string, since: number): Promise<void> {
  const watch = watchHolders();
  try {
    timings[label] = await untilVip(
      'the primary to take the VIP back',
      only(PRIMARY.name),
      PREEMPT_DELAY_MS + 60_000,
      since,
      100,
    );
  } finally {
    const { longestDoubleMs } = await watch.stop();
    timings[`${label}: longest overlap of two holders`] = longestDoubleMs;
    expect(longestDoubleMs, 'two servers held the VIP for a second or more').toBeLessThan(1000);
  }
  // Settled: one holder, the primary, and the VIP answers with its key.
  await new Promise((r) => setTimeout(r, 1000));
  expect(await holders()).toEqual([PRIMARY.name]);
  expect(await whoAnswers()).toBe(PRIMARY.name);
}

describe('keepalived: the school VIP on the lab', () => {
  beforeAll(async () => {
    await freshLab();
    for (const host of LAB_HOSTS)
      hostKeys.set(host.name, (await stdoutOf(host.name, sh`cat /etc/ssh/ssh_host_ed25519_key.pub`)).split(' ')[1]);
  });

  afterAll(() => {
    if (Object.keys(timings).length === 0) return;
    console.log(
      `keepalived timings (ms):\n${Object.entries(timings)
        .map(([k, v]) => `  ${k}: ${v}`)
        .join('\n')}`,
    );
  });

  it('refuses a VIP outside the LAN before any host is touched, naming role, host and var', async () => {
    // In the engine: compiling the run (what play does before it connects anywhere) throws.
    const playbook = definePlaybook({
      inventory,
      plays: [{ hosts: 'servers', vars: { vip: OUTSIDE_VIP }, roles: [keepalived] }],
    });
    const error = await compileRun(playbook, inventory).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ValidationError);
    const validation = error as ValidationError;
    expect(validation.place).toMatchObject({ host: 'primary', role: 'keepalived' });
    expect(validation.issues).toContainEqual({
      path: 'vars.vip',
      message: expect.stringContaining(`${OUTSIDE_VIP} is outside the LAN`),
    });

    // Through the real binary: exit 2, and no ssh login reached either host while it ran (the hosts share this
    // machine's clock; a second of margin on both sides keeps the test's own logins out of the window).
    await new Promise((r) => setTimeout(r, 1100));
    const from = Math.floor(Date.now() / 1000);
    const refused = await play([PLAYBOOK], { env: { PLAY_E2E_VIP: OUTSIDE_VIP } });
    const to = Math.ceil(Date.now() / 1000);
    await new Promise((r) => setTimeout(r, 1100));
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/keepalived/);
    expect(refused.stderr).toMatch(/primary/);
    expect(refused.stderr).toContain(`vars.vip: ${OUTSIDE_VIP} is outside the LAN`);
    for (const host of LAB_HOSTS) {
      const window = sh`journalctl -u ssh.service -o cat --no-pager --since ${`@${from}`} --until ${`@${to}`} | grep -c 'Accepted publickey' || true`;
      expect(await stdoutOf(host.name, window)).toBe('0\n');
      // The same query over the last hour sees this test's own earlier logins: the window would have seen play's.
      const hour = sh`journalctl -u ssh.service -o cat --no-pager --since ${`@${from - 3600}`} --until ${`@${to}`} | grep -c 'Accepted publickey' || true`;
      expect(Number(await stdoutOf(host.name, hour))).toBeGreaterThan(0);
    }
    for (const host of LAB_HOSTS)
      expect((await onHost(host.name, sh`test -e /etc/keepalived/keepalived.conf`)).exitCode).toBe(1);
  });

  let convergedAt = 0;

  it('converges both bare servers (exit 0); a second run changes nothing', async () => {
    const first = await playJson([PLAYBOOK]);
    expect(first.code, first.stderr + first.stdout).toBe(0);
    convergedAt = performance.now();
    for (const host of LAB_HOSTS) expect(first.report.hosts[host.name]).toMatchObject({ failed: 0, unreachable: 0 });

    const second = await playJson([PLAYBOOK]);
    expect(second.code).toBe(0);
    for (const host of LAB_HOSTS)
      expect(second.report.hosts[host.name]).toMatchObject({ changed: 0, failed: 0, unreachable: 0 });
    const check = await play([PLAYBOOK, '--check', '--detailed-exitcode']);
    expect(check.code, check.stdout).toBe(0);

    for (const [host, priority, self, peer] of [
      [PRIMARY.name, 150, PRIMARY.address, BACKUP.address],
      [BACKUP.name, 100, BACKUP.address, PRIMARY.address],
    ] as const) {
      const conf = await stdoutOf(host, sh`cat /etc/keepalived/keepalived.conf`);
      expect(conf).toMatch(/^\s*vrrp_version 3$/m);
      expect(conf).toMatch(/^\s*advert_int 0\.3$/m);
      expect(conf).toMatch(new RegExp(`^\\s*priority ${priority}$`, 'm'));
      expect(conf).toMatch(/^\s*state BACKUP$/m);
      expect(conf).toMatch(/^\s*preempt_delay \d+$/m);
      expect(conf).toMatch(new RegExp(`^\\s*unicast_src_ip ${self.replaceAll('.', '\\.')}$`, 'm'));
      expect(conf).toMatch(new RegExp(`unicast_peer \\{\\s*${peer.replaceAll('.', '\\.')}\\s*\\}`));
      expect(conf).toMatch(/^\s*check_unicast_src$/m);
      expect(conf).toMatch(new RegExp(`^\\s*${LAB_VIP.replaceAll('.', '\\.')}/24 dev eth0$`, 'm'));
      expect(conf).not.toMatch(/^\s*(vrrp_strict|authentication\b|auth_type|auth_pass)/m);
      // The VRRP process (keepalived's child) runs SCHED_RR, so a loaded server still adverts on time.
      expect(conf).toMatch(/^\s*vrrp_rt_priority 50$/m);
      expect(conf).toMatch(/^\s*vrrp_lower_prio_no_advert$/m);
      expect(await stdoutOf(host, sh`ps -o cls=,rtprio= --ppid "$(systemctl show -P MainPID keepalived)"`)).toMatch(
        /^\s*RR\s+50\s*$/m,
      );
      expect(
        await stdoutOf(host, sh`stat -c '%U %G %a' /etc/keepalived/check-services.sh /etc/keepalived/notify.sh`),
      ).toBe('root root 755\nroot root 755\n');
      expect(
        await stdoutOf(
          host,
          sh`keepalived --config-test -f /etc/keepalived/keepalived.conf && systemctl is-enabled keepalived && systemctl is-active keepalived`,
        ),
      ).toBe('enabled\nactive\n');
    }
  });

  it('keepalived 2.2.7 itself refuses VRRP authentication with VRRPv3 (why the vault secret is not used)', async () => {
    // The role's configuration with an authentication block added (what the paper had), checked on a copy.
    const script = [
      't=$(mktemp /etc/keepalived/auth-test.XXXXXX) || exit 99',
      'awk \'{ print } /^ *check_unicast_src$/ { print "  authentication {"; print "    auth_type PASS"; print "    auth_pass 12345678"; print "  }" }\' /etc/keepalived/keepalived.conf > "$t"',
      'grep -q auth_pass "$t" || { rm -f "$t"; exit 98; }',
      'keepalived --config-test -f "$t"; status=$?',
      'rm -f "$t"',
      'exit $status',
    ].join('\n');
    const result = await onHost(PRIMARY.name, sh`bash -c ${script}`);
    expect(result.exitCode).not.toBeOneOf([0, 98, 99]);
    expect(result.stdout + result.stderr).toContain('VRRP version 3 does not support authentication');
  });

  it("exactly one server holds the VIP, the primary; from lab-client the VIP answers with the primary's ssh host key", async () => {
    // Started together, the backup may win the first election; the primary takes over after the preempt delay.
    await untilVip(
      'the primary to hold the VIP alone',
      only(PRIMARY.name),
      PREEMPT_DELAY_MS + 60_000,
      convergedAt,
      100,
    );
    for (const host of LAB_HOSTS) {
      const addresses = await stdoutOf(host.name, sh`ip -o addr show dev eth0`);
      if (host === PRIMARY) expect(addresses).toContain(`inet ${LAB_VIP}/24`);
      else expect(addresses).not.toContain(`inet ${LAB_VIP}/`);
    }
    expect(await vipAnswers()).toBe(true);
    expect(await whoAnswers()).toBe(PRIMARY.name);
  });

  it("VRRP only from the peer: forged adverts from lab-client change nothing (the same advert from the peer's address is obeyed)", async () => {
    // Settled first: right after a converge the pair may still be electing (the backup handing over to the primary).
    await untilVip(
      'the primary to hold the VIP alone for 3 s',
      async () => {
        const steady = watchHolders();
        await new Promise((r) => setTimeout(r, 3000));
        return (await steady.stop()).most === 1 && (await holders()).join() === PRIMARY.name;
      },
      60_000,
    );
    const transitions = async (host: string) =>
      (await stdoutOf(host, sh`cat /var/log/keepalived-transitions.log`)).split('\n').filter(Boolean);
    const before = { primary: await transitions(PRIMARY.name), backup: await transitions(BACKUP.name) };
    const watch = watchHolders();
    // 30 adverts over 3 s claiming priority 254 (every configured one is lower) for our VRID, sent to the master:
    // faster than advert_int, so a master whose advert timer each dropped packet restarted would fall silent.
    await inClient(
      '/usr/bin/python3',
      [FORGER, LAB_CLIENT.address, PRIMARY.address, String(VRID), '254', LAB_VIP, '30', '0.1'],
      20_000,
    );
    await new Promise((r) => setTimeout(r, 1000));
    const { most } = await watch.stop();
    expect(most).toBe(1);
    expect(await holders()).toEqual([PRIMARY.name]);
    // Not even for a moment between two samples: neither server changed state while the forger sent.
    expect(
      (await transitions(PRIMARY.name)).slice(before.primary.length),
      "the primary's transitions during the forgery",
    ).toEqual([]);
    expect(
      (await transitions(BACKUP.name)).slice(before.backup.length),
      "the backup's transitions during the forgery",
    ).toEqual([]);
    // The journal may take a moment to have keepalived's lines.
    await untilVip(
      'the primary to log the forged adverts as not from its peer',
      async () =>
        (await stdoutOf(PRIMARY.name, sh`journalctl -u keepalived -o cat --no-pager`)).includes(
          `unicast source address ${LAB_CLIENT.address} not a unicast peer`,
        ),
      10_000,
      performance.now(),
      500,
    );

    // The control: the forger's packets are well-formed. Sent with the backup's address as source (IP_TRANSPARENT),
    // they pass check_unicast_src and the primary yields; a spoofer on the LAN is beyond what VRRP can stop.
    const spoof = [
      'import importlib.util, socket, sys, time',
      'spec = importlib.util.spec_from_file_location("forge", sys.argv[1]); forge = importlib.util.module_from_spec(spec); spec.loader.exec_module(forge)',
      'src, dst, vrid, vip = sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]',
      's = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112); s.setsockopt(socket.SOL_IP, 19, 1); s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 255); s.bind((src, 0))',
      'for _ in range(10): s.sendto(forge.advert(src, dst, vrid, 254, vip), (dst, 0)); time.sleep(0.1)',
    ].join('\n');
    await inClient(
      '/usr/bin/python3',
      ['-c', spoof, FORGER, BACKUP.address, PRIMARY.address, String(VRID), LAB_VIP],
      20_000,
    );
    expect(await stdoutOf(PRIMARY.name, sh`journalctl -u keepalived -o cat --no-pager`)).toContain(
      `received advert from ${BACKUP.address} with higher priority 254`,
    );
    await expectPrimaryBack('spoofed advert → primary holds the VIP again', performance.now());
  });

  it('power cut of the primary: the backup holds the VIP and answers; powered on, the primary takes it back after the preempt delay', async () => {
    expect(await holders()).toEqual([PRIMARY.name]);
    const cutAt = performance.now();
    // powerCut sends its SIGKILL before it first waits; 100 ms later nothing of the primary answers any more.
    const [, takeover, answered] = await Promise.all([
      powerCut(PRIMARY.name),
      untilVip('the backup to hold the VIP', () => holdsVip(BACKUP.name), 30_000, cutAt),
      new Promise((r) => setTimeout(r, 100)).then(() => firstSshBanner(cutAt)),
    ]);
    timings['power cut → backup holds the VIP'] = takeover;
    timings['power cut → VIP:22 answers from lab-client'] = answered;
    expect(await whoAnswers()).toBe(BACKUP.name);
    expect(await holders()).toEqual([BACKUP.name]);
    expect(await vipAnswers()).toBe(true);

    const onAt = performance.now();
    const watch = watchHolders();
    await powerOn(PRIMARY.name);
    timings['power on → primary booted (sshd answers)'] = Math.round(performance.now() - onAt);
    const { most } = await watch.stop();
    expect(most).toBe(1);
    await expectPrimaryBack('power on → primary holds the VIP again', onAt);
  });

  it('a stopped tracked service (sshd) on the primary moves the VIP to the backup; started again, it returns after the delay', async () => {
    expect(await holders()).toEqual([PRIMARY.name]);
    const stopAt = performance.now();
    await stopService(PRIMARY.name, 'ssh.service');
    try {
      const [takeover, answered] = await Promise.all([
        untilVip('the backup to hold the VIP alone', only(BACKUP.name), 30_000, stopAt),
        firstSshBanner(stopAt),
      ]);
      timings['sshd stopped → backup holds the VIP'] = takeover;
      timings['sshd stopped → VIP:22 answers from lab-client'] = answered;
      expect(await whoAnswers()).toBe(BACKUP.name);
    } finally {
      await startService(PRIMARY.name, 'ssh.service');
    }
    const startAt = performance.now();
    await expectPrimaryBack('sshd started → primary holds the VIP again', startAt);
    const log = await stdoutOf(PRIMARY.name, sh`cat /var/log/keepalived-transitions.log`);
    expect(log).toMatch(/ primary INSTANCE school_vip FAULT /);
  });

  it('a cut link: the backup takes the VIP; plugged back in, exactly one holder within a few seconds, then the primary', async () => {
    expect(await holders()).toEqual([PRIMARY.name]);
    const downAt = performance.now();
    linkDown(PRIMARY.name);
    let partition: string[] = [];
    try {
      const [takeover, answered] = await Promise.all([
        untilVip('the backup to hold the VIP', () => holdsVip(BACKUP.name), 30_000, downAt),
        firstSshBanner(downAt),
      ]);
      timings['link cut → backup holds the VIP'] = takeover;
      timings['link cut → VIP:22 answers from lab-client'] = answered;
      expect(await whoAnswers()).toBe(BACKUP.name);
      partition = await holders();
    } finally {
      linkUp(PRIMARY.name);
    }
    const upAt = performance.now();
    // Without carrier the primary's keepalived goes FAULT and drops the VIP, so the cut side holds nothing.
    timings['link cut: servers holding the VIP during the cut (count)'] = partition.length;
    timings['link up → exactly one holder'] = await untilVip(
      'exactly one holder',
      async () => (await holders()).length === 1,
      10_000,
      upAt,
    );
    const watch = watchHolders();
    await new Promise((r) => setTimeout(r, 3000));
    const { longestDoubleMs } = await watch.stop();
    expect(longestDoubleMs).toBeLessThan(1000);
    expect(await holders()).toHaveLength(1);
    await expectPrimaryBack('link up → primary holds the VIP again', upAt);
  });

  it('logs every transition (MASTER, BACKUP, FAULT) on both servers, in its log file and the journal', async () => {
    const primary = await stdoutOf(PRIMARY.name, sh`cat /var/log/keepalived-transitions.log`);
    const backup = await stdoutOf(BACKUP.name, sh`cat /var/log/keepalived-transitions.log`);
    for (const state of ['MASTER', 'BACKUP', 'FAULT'])
      expect(primary).toMatch(new RegExp(`^\\S+Z primary INSTANCE school_vip ${state} priority=150$`, 'm'));
    for (const state of ['MASTER', 'BACKUP'])
      expect(backup).toMatch(new RegExp(`^\\S+Z backup INSTANCE school_vip ${state} priority=100$`, 'm'));
    // The backup took the VIP at least at the power cut, the stopped service and the cut link.
    expect((backup.match(/ MASTER /g) ?? []).length).toBeGreaterThanOrEqual(3);
    expect(await stdoutOf(BACKUP.name, sh`journalctl -t keepalived-notify -o cat --no-pager`)).toContain(
      'backup INSTANCE school_vip MASTER',
    );
  });
});
