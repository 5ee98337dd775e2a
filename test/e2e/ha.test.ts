import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sh } from '../../src/connection/sh.ts';
import inventory from '../../inventory/lab.ts';
import { LAB_DEBIAN, LAB_HOSTS, LAB_PLATFORM, LAB_VIP } from '../lab/config.ts';
import { raw } from '../../src/connection/sh.ts';
import { REPLICATOR } from '../../roles/dovecot/replicator-status.ts';
import { postfixUnit } from '../../roles/postfix/config-set.ts';
import dovecot, {
  DOVECOT_STOP_SECONDS,
  IMAP_GREETING_PROBE,
  MAILSYNC_UNIT,
  REPLICATION_RETRY_TIMER,
  REPLICATION_RETRY_UNIT,
  REPLICATION_TLS_UNIT,
  RETRY_COMMAND_TEXT,
} from '../../roles/dovecot/index.ts';
import { linkDown, linkUp, powerCut, powerOn, startService, stopService } from '../lab/faults.ts';
import { launchBrowser } from './support/browser.ts';
import { fromClient } from './support/client.ts';
import {
  answersAtVip,
  keepalivedStory,
  onlyHolder,
  untilVip,
  vipUserChecks,
  watchHolders,
} from './support/failover.ts';
import { holdsVip, stdoutOf, vipHolders } from './support/hosts.ts';
import { onHost } from '../lab/faults.ts';
import { freshLab } from './support/lab.ts';
import { password, py, swaks, token } from './support/mail-client.ts';
import { play } from './support/play.ts';
import { until } from './support/wait.ts';
import { webmailLogin } from './support/webmail.ts';

const SITE = ['playbooks/site.ts', '-i', 'inventory/lab.ts'];
const VERIFY = ['verify', ...SITE];
const { domain } = inventory.groups!.servers.vars as { domain: string };
const MAIL = `mail.${domain}`;
const [PRIMARY, BACKUP] = LAB_HOSTS;
/**
 * How long a message postfix has accepted (250) may be on the server that accepted it alone: it is queued, handed
 * to Dovecot over LMTP at once, and replicated to the other server at once (measured by bench:soak; docs/high-availability.md
 * gives the figures). A power cut inside it leaves the message on the dead server until it returns.
 */
const REPLICATION_WINDOW_S = 2;

/** Each copy of a message in kepsek's INBOX on a host: its subject and when an LMTP delivery stored it (its top Received line). */
async function copiesOn(host: string, subject: string): Promise<{ subject: string; deliveredAt?: number }[]> {
  const rows = JSON.parse(
    await stdoutOf(
      host,
      sh`doveadm -f json fetch -u kepsek 'hdr.subject hdr.received' mailbox INBOX header Subject ${subject}`,
    ),
  ) as Record<string, string>[];
  return rows.map((row) => {
    // Dovecot's LMTP puts its line on top: "from … by <host> with LMTP id …; Tue, 01 Dec 2026 20:30:00 +0000".
    const lmtp = /with LMTP[^;]*;\s*([^\n]+)/.exec(row['hdr.received'] ?? '');
    const at = lmtp ? Date.parse(lmtp[1].trim()) / 1000 : Number.NaN;
    return { subject: row['hdr.subject'], ...(Number.isFinite(at) ? { deliveredAt: at } : {}) };
  });
}
const timings: Record<string, number> = {};

interface Health {
  healthy: boolean;
  rows: { check: string; host?: string; ok: boolean; detail: string }[];
}

/** `play verify site --json` against the lab: its exit code and its rows. */
async function verify(): Promise<Health & { code: number | null }> {
  const result = await play([...VERIFY, '--json']);
  try {
    return { code: result.code, ...(JSON.parse(result.stdout) as Health) };
  } catch {
    throw new Error(`play verify printed no JSON (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
  }
}

const failed = (health: Health) =>
  health.rows.filter((r) => !r.ok).map((r) => `${r.check}${r.host ? ` ${r.host}` : ''}: ${r.detail}`);

/** Waits until `play verify` says healthy (replication catching up, a returning primary settling). */
async function untilHealthy(what: string, timeoutMs = 120_000): Promise<Health> {
  let last: Health | undefined;
  const healthy = async () => {
    last = await verify();
    return last.healthy;
  };
  await until(what, healthy, timeoutMs, {
    intervalMs: 2000,
    state: () => failed(last!).join('; '),
  });
  return last!;
}

/**
 * kepsek's row in one server's replicator (`doveadm replicator status kepsek` on Debian 12, `play-mailsync status
 * kepsek` on Debian 13, the same output): the seconds since its last full sync (Infinity before the first) and
 * whether its last sync failed.
 */
async function kepsekReplica(host: string): Promise<{ fullSyncAgo: number; failed: boolean }> {
  const row = (await stdoutOf(host, sh`${raw(REPLICATOR)} status kepsek`))
    .trim()
    .split('\n')
    .at(-1)!
    .trim()
    .split(/\s+/);
  // username priority fast-sync full-sync success-sync failed; a time is hh:mm:ss ago, or - for never.
  const [user, , , full, , failed] = row;
  if (user !== 'kepsek' || failed === undefined)
    throw new Error(`no replicator row for kepsek on ${host}: ${row.join(' ')}`);
  const [h, m, s] = full.split(':').map(Number);
  return { fullSyncAgo: full === '-' ? Number.POSITIVE_INFINITY : h * 3600 + m * 60 + s, failed: failed !== '-' };
}

/** How many messages of kepsek's INBOX on one server have this subject, read there with doveadm. */
async function countOn(host: string, subject: string): Promise<{ total: number; distinct: number }> {
  const out = await stdoutOf(
    host,
    sh`doveadm -f flow fetch -u kepsek hdr.subject mailbox INBOX header Subject ${subject}`,
  );
  const subjects = out.split('\n').filter(Boolean);
  return { total: subjects.length, distinct: new Set(subjects).size };
}

/**
 * Cuts the primary off in some way while lab-client watches the VIP: the milliseconds until the backup holds
 * it and until SMTP, IMAPS and HTTPS answer there again.
 */
async function failover(label: string, fault: () => Promise<void> | void): Promise<void> {
  // Each fault starts from the settled pair (an earlier test that failed may have left the handover under way).
  await untilVip(
    'the primary to hold the VIP alone before the fault',
    onlyHolder(PRIMARY.name),
    120_000,
    performance.now(),
    250,
  );
  const at = performance.now();
  const made = Promise.resolve(fault());
  const [, vip, answers] = await Promise.all([
    made,
    untilVip('the backup to hold the VIP', () => holdsVip(BACKUP.name), 30_000, at),
    answersAtVip(vipUserChecks(domain), at, { after: made }),
  ]);
  timings[`${label} → backup holds the VIP`] = vip;
  for (const [name, ms] of Object.entries(answers)) timings[`${label} → ${name} answers at the VIP`] = ms;
  const holders = await vipHolders();
  if (holders.join() !== BACKUP.name)
    expect(holders, `the VIP after the failover, which should stay on the backup:\n${await keepalivedStory()}`).toEqual(
      [BACKUP.name],
    );
}

/** Logs in to the webmail at the VIP in a real browser (whoever holds it). */
async function webmailWorks(): Promise<void> {
  const browser = await launchBrowser({ hosts: { [MAIL]: LAB_VIP } });
  try {
    await webmailLogin(await browser.newSession(), `https://${MAIL}/`, 'guru1', password('guru1'));
  } finally {
    await browser.close();
  }
}

describe('high availability of the school site: servers killed, nothing lost', () => {
  // Deploying the site takes about 5 minutes on a 2-core machine (when no earlier file left a snapshot); give a busy one room.
  beforeAll(() => freshLab({ from: 'site' }), 1_500_000);

  afterAll(() => {
    console.log(`ha e2e timings (ms): ${JSON.stringify(timings)}`);
  });

  it('play verify: healthy, with the primary holding the VIP, replication idle, serials equal, DHCP HA in hot-standby', async () => {
    const health = await untilHealthy('the deployed pair to be healthy');
    const row = (check: string, host?: string) => health.rows.find((r) => r.check === check && r.host === host);
    expect(row('vip holder')?.detail).toBe('primary');
    const services = ['smtp 25', 'submission 587', 'smtps 465', 'imap 143', 'imaps 993 login', 'webmail 443', 'dns 53'];
    for (const host of ['primary', 'backup']) {
      for (const check of [
        'keepalived',
        'replication',
        'mail queue',
        'disk',
        'quota',
        'sending limits',
        'dhcp ha',
        'certificate',
        ...services,
      ])
        expect(row(check, host), `${check} on ${host}`).toMatchObject({ ok: true });
      expect(row('dhcp ha', host)?.detail).toBe(
        `hot-standby, ${host === 'primary' ? 'primary' : 'standby'}: hot-standby, partner: hot-standby`,
      );
      expect(row('smtp 25', host)?.detail).toMatch(
        /^220 mail\.smknh\.sch\.id ESMTP; EHLO 250 with STARTTLS \(\d+ ms\)$/,
      );
      expect(row('imaps 993 login', host)?.detail).toMatch(/LOGIN as kepsek \(\d+ ms\)$/);
    }
    // In hot-standby only the primary answers DHCP, and both servers see its offer.
    expect(row('dhcp offer')).toMatchObject({
      ok: true,
      detail: expect.stringMatching(/^offers 198\.18\.\d+\.\d+ from primary \(seen from primary, backup\)$/),
    });
    // The VIP, seen from both servers.
    for (const check of services)
      expect(row(check, 'vip')?.detail, check).toMatch(/ms from primary, \d+ ms from backup\)$/);
    expect(row('keepalived', 'primary')?.detail).toBe('MASTER (active), holds the VIP');
    expect(row('keepalived', 'backup')?.detail).toBe('BACKUP (active)');
    const table = await play(VERIFY);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^vip holder +- +OK +primary$/m);
    expect(table.stdout).toMatch(/^healthy: \d+ checks ok$/m);
  });

  it('replication both ways: a message delivered on either server is on the other within seconds', async () => {
    for (const [from, to] of [
      [PRIMARY, BACKUP],
      [BACKUP, PRIMARY],
    ]) {
      const subject = `Replika ${from.name} ${token()}`;
      const sent = await swaks(from.address, [
        '--port',
        '25',
        '--from',
        'kurikulum@dinas.test',
        '--to',
        `kepsek@${domain}`,
        '--header',
        `Subject: ${subject}`,
      ]);
      expect(sent.code, sent.output).toBe(0);
      const at = performance.now();
      await until(
        `the message delivered on ${from.name} to reach ${to.name}`,
        async () => (await countOn(to.name, subject)).total === 1,
        30_000,
      );
      timings[`delivered on ${from.name} → on ${to.name}`] = Math.round(performance.now() - at);
      expect(await countOn(from.name, subject)).toEqual({ total: 1, distinct: 1 });
    }
  });

  // Dovecot 2.3's replicator (Debian 12) retries a failed sync only after 5 minutes: the role's retry unit.
  it.runIf(LAB_DEBIAN === 12)(
    'the retry unit: systemd holds its command as written; with no failed sync it asks for none, after a failed one for the full sync that repairs it',
    async () => {
      for (const host of [PRIMARY.name, BACKUP.name]) {
        // systemd keeps a `$$` as it is until it runs the command, and passes `$` then.
        const execStart = await stdoutOf(host, sh`systemctl show -p ExecStart --value ${REPLICATION_RETRY_UNIT}`);
        expect(execStart).toContain(`argv[]=/bin/sh -c ${RETRY_COMMAND_TEXT.replaceAll('$', '$$$$')} ;`);
      }
      const runRetry = async () => {
        await onHost(PRIMARY.name, sh`systemctl start ${REPLICATION_RETRY_UNIT}`);
        expect(await stdoutOf(PRIMARY.name, sh`systemctl show -p Result --value ${REPLICATION_RETRY_UNIT}`)).toBe(
          'success\n',
        );
      };
      // The timer stays out of it: only the runs this test starts.
      await onHost(PRIMARY.name, sh`systemctl stop ${REPLICATION_RETRY_TIMER}`);
      try {
        await until(
          'kepsek synced on the primary, its last full sync 3 s ago or more',
          async () => {
            const r = await kepsekReplica(PRIMARY.name);
            return !r.failed && r.fullSyncAgo >= 3;
          },
          60_000,
        );
        const before = await kepsekReplica(PRIMARY.name);
        await runRetry();
        // A full sync asked for would start at once; none may have after 2 s.
        await new Promise((resolve) => setTimeout(resolve, 2000));
        expect(
          (await kepsekReplica(PRIMARY.name)).fullSyncAgo,
          'seconds since the last full sync, after the unit ran with nothing failed',
        ).toBeGreaterThanOrEqual(before.fullSyncAgo + 2);

        // The peer's Dovecot down while the primary syncs kepsek: the sync fails, and the replicator itself would try
        // again only in 5 minutes.
        await stopService(BACKUP.name, 'dovecot.service');
        try {
          await onHost(PRIMARY.name, sh`doveadm replicator replicate -f kepsek`);
          await until(
            "kepsek's sync to fail on the primary",
            async () => (await kepsekReplica(PRIMARY.name)).failed,
            60_000,
          );
        } finally {
          await startService(BACKUP.name, 'dovecot.service');
        }
        await runRetry();
        await until(
          'the full sync the unit asked for to succeed',
          async () => !(await kepsekReplica(PRIMARY.name)).failed,
          30_000,
        );
      } finally {
        await onHost(PRIMARY.name, sh`systemctl start ${REPLICATION_RETRY_TIMER}`);
      }
    },
  );

  describe.runIf(LAB_DEBIAN === 13)(
    'play-mailsync (Dovecot 2.4 has no replicator): what it does when things go wrong',
    () => {
      /** Delivers `count` messages to kepsek on port 25 of one server in one SMTP session from lab-client, as an outside server would. */
      const sendTo = async (address: string, subject: string, count: number, paceS: number) => {
        const { sent } = await py<{ sent: { subject: string; at: number }[] }>(
          {
            op: 'send-burst',
            host: address,
            from: 'kurikulum@dinas.test',
            to: `kepsek@${domain}`,
            subject,
            count,
            pace: paceS,
          },
          { timeoutMs: 300_000 },
        );
        expect(sent.length, `messages accepted by ${address}`).toBe(count);
        return sent;
      };

      it('the peer dead while 100 messages arrive: each is accepted at once; once the peer is back it has all 100, without waiting for the periodic pass', async () => {
        await powerCut(BACKUP.name);
        const subject = `Mati ${token()}`;
        try {
          await sendTo(PRIMARY.address, subject, 100, 0.02);
          expect((await countOn(PRIMARY.name, subject)).distinct).toBe(100);
          await until(
            'kepsek marked failed on the primary (the peer is gone)',
            async () => (await kepsekReplica(PRIMARY.name)).failed,
            90_000,
          );
        } finally {
          await powerOn(BACKUP.name);
        }
        const back = performance.now();
        await until(
          'the backup to hold all 100',
          async () => (await countOn(BACKUP.name, subject)).distinct === 100,
          120_000,
        );
        timings['play-mailsync: 100 messages on the backup after it came back (ms)'] = Math.round(
          performance.now() - back,
        );
        await until(
          'no failed sync left on either server',
          async () => !(await kepsekReplica(PRIMARY.name)).failed && !(await kepsekReplica(BACKUP.name)).failed,
          60_000,
        );
      });

      it("a sync that hangs (the peer's doveadm stopped mid-way) is killed and retried, not held: mail delivered meanwhile arrives once the peer moves again", async () => {
        const subject = `Macet ${token()}`;
        // SIGSTOP every doveadm process on the backup: the primary's sync connects and then hears nothing.
        await onHost(BACKUP.name, sh`pkill -STOP -f '^dovecot/doveadm-server'`);
        try {
          await sendTo(PRIMARY.address, subject, 1, 0);
          await until(
            "kepsek's sync on the primary to be killed as hung and marked failed",
            async () => (await kepsekReplica(PRIMARY.name)).failed,
            150_000,
          );
          const journal = await stdoutOf(
            PRIMARY.name,
            sh`journalctl -u ${MAILSYNC_UNIT} --since -5min -o cat --no-pager | grep -F kepsek | tail -n 3`,
          );
          expect(journal).toMatch(/killed after \d+ s|hung/);
        } finally {
          await onHost(BACKUP.name, sh`pkill -CONT -f '^dovecot/doveadm-server'`);
        }
        await until('the message on the backup', async () => (await countOn(BACKUP.name, subject)).total === 1, 90_000);
        await until(
          'kepsek no longer failed on the primary',
          async () => !(await kepsekReplica(PRIMARY.name)).failed,
          60_000,
        );
      });

      it('a flood: 200 deliveries for one user in 10 s, and play-mailsync restarted in the middle: all 200 on the peer, each once', async () => {
        const subject = `Banjir ${token()}`;
        const flood = sendTo(PRIMARY.address, subject, 200, 0.05);
        await until(
          '50 of them on the primary',
          async () => (await countOn(PRIMARY.name, subject)).total >= 50,
          60_000,
        );
        await onHost(PRIMARY.name, sh`systemctl restart ${MAILSYNC_UNIT}`);
        const sent = await flood;
        const took = sent.at(-1)!.at - sent[0].at;
        timings['play-mailsync: seconds the 200 deliveries took'] = Math.round(took * 10) / 10;
        const last = performance.now();
        await until(
          'all 200 on the backup',
          async () => (await countOn(BACKUP.name, subject)).distinct === 200,
          120_000,
        );
        timings['play-mailsync: all 200 on the backup after the last was accepted (ms)'] = Math.round(
          performance.now() - last,
        );
        expect(await countOn(BACKUP.name, subject)).toEqual({ total: 200, distinct: 200 });
        expect(await countOn(PRIMARY.name, subject)).toEqual({ total: 200, distinct: 200 });
      });

      it("stunnel, the replication port's TLS end, killed (SIGKILL) on the backup during 60 deliveries: systemd starts it again, the syncs that failed are retried, all 60 on the backup, each once", async () => {
        const subject = `Terowongan ${token()}`;
        const restartsBefore = Number(
          await stdoutOf(BACKUP.name, sh`systemctl show -p NRestarts --value ${REPLICATION_TLS_UNIT}`),
        );
        const flood = sendTo(PRIMARY.address, subject, 60, 0.05);
        await until(
          '10 of them on the primary',
          async () => (await countOn(PRIMARY.name, subject)).total >= 10,
          60_000,
        );
        await onHost(BACKUP.name, sh`systemctl kill -s KILL ${REPLICATION_TLS_UNIT}`);
        await flood;
        const last = performance.now();
        await until('all 60 on the backup', async () => (await countOn(BACKUP.name, subject)).distinct === 60, 90_000);
        timings['play-mailsync: all 60 on the backup after the last was accepted, stunnel killed mid-way (ms)'] =
          Math.round(performance.now() - last);
        expect(await countOn(BACKUP.name, subject)).toEqual({ total: 60, distinct: 60 });
        expect(
          Number(await stdoutOf(BACKUP.name, sh`systemctl show -p NRestarts --value ${REPLICATION_TLS_UNIT}`)),
          'restarts of stunnel by systemd',
        ).toBe(restartsBefore + 1);
        await until(
          'no failed sync left on the primary',
          async () => !(await kepsekReplica(PRIMARY.name)).failed,
          60_000,
        );
      });
    },
  );

  it('the replication port answers the peer only: lab-client is reset, the other server gets through', async () => {
    for (const [server, peer] of [
      [PRIMARY, BACKUP],
      [BACKUP, PRIMARY],
    ]) {
      const probe = (address: string) =>
        `timeout 3 bash -c 'exec 3<>/dev/tcp/${address}/12345' && echo open || echo closed`;
      expect(fromClient('bash', ['-c', probe(server.address)]).stdout).toBe('closed\n');
      expect(await stdoutOf(peer.name, sh`bash -c ${probe(server.address)}`)).toBe('open\n');
      // Never on the VIP or loopback.
      expect(await stdoutOf(server.name, sh`ss -Hltn 'sport = :12345' | awk '{print $4}'`)).toBe(
        `${server.address}:12345\n`,
      );
    }
  });

  it(`a Dovecot process that ignores SIGTERM (as a doveadm-server serving the peer did) holds a restart up ${DOVECOT_STOP_SECONDS} s, not systemd's 90: then IMAP answers and replication works`, async () => {
    // A process that ignores SIGTERM, in dovecot.service's cgroup (in every hierarchy the host mounts), so
    // systemd's stop sends it SIGTERM with Dovecot's own processes.
    const stubborn = await stdoutOf(
      BACKUP.name,
      sh`cg=$(systemctl show -p ControlGroup --value dovecot)
setsid bash -c 'trap "" TERM; exec sleep 300' </dev/null >/dev/null 2>&1 &
pid=$!
for d in /sys/fs/cgroup /sys/fs/cgroup/unified /sys/fs/cgroup/systemd; do [ -e "$d$cg/cgroup.procs" ] && echo $pid > "$d$cg/cgroup.procs"; done
echo $pid`,
    );
    expect(
      await stdoutOf(BACKUP.name, sh`systemctl status dovecot --no-pager | grep -c ${`${stubborn.trim()} sleep 300`}`),
    ).toBe('1\n');
    const since = await stdoutOf(BACKUP.name, sh`date '+%Y-%m-%d %H:%M:%S'`);
    const started = performance.now();
    await onHost(BACKUP.name, sh`systemctl restart dovecot`);
    const tookMs = performance.now() - started;
    timings['dovecot restart with a process ignoring SIGTERM (ms)'] = Math.round(tookMs);
    // systemd waited for it, then killed it: the bound did the work, not the process.
    const journal = await stdoutOf(BACKUP.name, sh`journalctl -u dovecot --no-pager -o cat --since ${since.trim()}`);
    expect(journal).toContain(`Killing process ${stubborn.trim()} (sleep) with signal SIGKILL`);
    expect(tookMs, 'the restart waited out more than the stop bound').toBeLessThan((DOVECOT_STOP_SECONDS + 15) * 1000);
    expect((await onHost(BACKUP.name, IMAP_GREETING_PROBE)).exitCode).toBe(0);
    // And the restarted server takes part in replication again at once.
    const subject = `Restart ${token()}`;
    const sent = await swaks(PRIMARY.address, [
      '--port',
      '25',
      '--from',
      'kurikulum@dinas.test',
      '--to',
      `kepsek@${domain}`,
      '--header',
      `Subject: ${subject}`,
    ]);
    expect(sent.code, sent.output).toBe(0);
    await until(
      'the message delivered on the primary to reach the restarted backup',
      async () => (await countOn(BACKUP.name, subject)).total === 1,
      30_000,
    );
    await untilHealthy('the pair to be healthy after the restart');
  });

  it('power cut of the primary: SMTP, IMAPS and HTTPS answer from the backup, webmail works there (a user logged in before the cut logs in again), verify names the fault; back, all is healthy', async () => {
    const browser = await launchBrowser({ hosts: { [MAIL]: LAB_VIP } });
    try {
      const before = await browser.newSession();
      await webmailLogin(before, `https://${MAIL}/`, 'kepsek', password('kepsek'));
      await failover('power cut', () => powerCut(PRIMARY.name));
      await webmailWorks();
      // Roundcube's sessions live in the replicated MariaDB (roles/roundcube/README.md): kepsek's session may go on
      // on the backup (its mailbox list comes back), or he gets the login form, and logging in there works.
      await before.goto(`https://${MAIL}/?_task=mail&_mbox=INBOX`);
      await before.waitForSelector('#rcmloginuser, #mailboxlist', { timeout: 30_000 });
      if (await before.locator('#rcmloginuser').isVisible())
        await webmailLogin(before, `https://${MAIL}/`, 'kepsek', password('kepsek'));
    } finally {
      await browser.close();
    }
    const during = await verify();
    expect(during.code).toBe(1);
    expect(failed(during)).toContainEqual(expect.stringMatching(/^reachable primary: /));
    expect(during.rows.find((r) => r.check === 'vip holder')).toMatchObject({ ok: true, detail: 'backup' });

    await powerOn(PRIMARY.name);
    await untilVip('the primary to take the VIP back', onlyHolder(PRIMARY.name), 120_000, performance.now(), 250);
    await untilHealthy('the pair to be healthy after the power cut');
  });

  it('a cut link: the backup serves; when the link returns there is one VIP holder, not two', async () => {
    const watch = watchHolders();
    try {
      await failover('link cut', () => linkDown(PRIMARY.name));
      const during = await verify();
      expect(during.code).toBe(1);
      expect(failed(during)).toContainEqual(expect.stringMatching(/^reachable primary: /));
    } finally {
      linkUp(PRIMARY.name);
    }
    const upAt = performance.now();
    await untilVip('exactly one holder', async () => (await vipHolders()).length === 1, 10_000, upAt);
    await untilVip('the primary to take the VIP back', onlyHolder(PRIMARY.name), 120_000, upAt, 250);
    const { longestDoubleMs } = await watch.stop();
    timings['link cut: longest overlap of two holders'] = longestDoubleMs;
    expect(longestDoubleMs, 'two servers held the VIP for a second or more').toBeLessThan(1000);
    await untilHealthy('the pair to be healthy after the link cut');
  });

  it('postfix stopped on the primary (the host stays up): the VIP moves to the backup; verify names it', async () => {
    try {
      await failover('postfix stopped', () => stopService(PRIMARY.name, `${postfixUnit(LAB_PLATFORM)}.service`));
      const during = await verify();
      expect(during.code).toBe(1);
      expect(failed(during)).toContainEqual(expect.stringMatching(/^keepalived primary: FAULT/));
    } finally {
      await startService(PRIMARY.name, `${postfixUnit(LAB_PLATFORM)}.service`);
    }
    await untilVip('the primary to take the VIP back', onlyHolder(PRIMARY.name), 120_000, performance.now(), 250);
    await untilHealthy('the pair to be healthy after postfix came back');
  });

  it('postfix frozen on the primary (SIGSTOP: TCP still accepted, no banner): the track script moves the VIP; verify names the port and the server', async () => {
    const freeze = (signal: string) =>
      onHost(PRIMARY.name, sh`systemctl kill --signal=${signal} ${`${postfixUnit(LAB_PLATFORM)}.service`}`);
    try {
      await failover('postfix frozen', async () => void (await freeze('SIGSTOP')));
      // A TCP connect would call this server healthy: the kernel still completes the handshake.
      expect(
        fromClient('bash', ['-c', `timeout 3 bash -c 'exec 3<>/dev/tcp/${PRIMARY.address}/25' && echo connected`])
          .stdout,
      ).toBe('connected\n');
      const during = await verify();
      expect(during.code).toBe(1);
      expect(failed(during)).toContainEqual(
        expect.stringMatching(
          new RegExp(
            `^smtp 25 primary: ${PRIMARY.address.replaceAll('.', '\\.')}:25 banner: no answer within the deadline \\(\\d+ ms\\)$`,
          ),
        ),
      );
      expect(failed(during)).toContainEqual(expect.stringMatching(/^keepalived primary: FAULT/));
      // The VIP itself answers: the backup holds it.
      expect(during.rows.find((r) => r.check === 'smtp 25' && r.host === 'vip')).toMatchObject({ ok: true });
      const journal = await stdoutOf(PRIMARY.name, sh`journalctl -t keepalived-check -o cat --no-pager | tail -n 3`);
      expect(journal).toMatch(/smtp 25 127\.0\.0\.1:25: banner: no answer within the deadline/);
    } finally {
      await freeze('SIGCONT');
    }
    await untilVip('the primary to take the VIP back', onlyHolder(PRIMARY.name), 120_000, performance.now(), 250);
    await untilHealthy('the pair to be healthy after postfix thawed');
  });

  it('no mail lost: 100 messages to kepsek through the VIP, the primary power-cut in the middle: all but those of the last moment at the backup at once, all 100 once the primary is back, twice only from the moment of the cut', async () => {
    await untilVip(
      'the primary to hold the VIP alone before the sending',
      onlyHolder(PRIMARY.name),
      120_000,
      performance.now(),
      250,
    );
    const subject = `Absen ${token()}`;
    const sendFrom = Date.now() / 1000;
    const sending = py<{ sent: { subject: string; at: number; took: number; attempts: number }[] }>(
      {
        op: 'send-many',
        host: LAB_VIP,
        user: 'guru1',
        password: password('guru1'),
        from: `guru1@${domain}`,
        to: `kepsek@${domain}`,
        subject,
        count: 100,
        pace: 0.1,
      },
      { timeoutMs: 540_000 },
    );
    // Cut once about a third has gone.
    await until('30 messages on the primary', async () => (await countOn(PRIMARY.name, subject)).total >= 30, 120_000);
    // The replication connections the primary has open on the backup as the power goes (its syncs of kepsek).
    const fromPrimary = sh`ss -Htn state established ${`( sport = :${dovecot.defaults!.replicationPort} )`} | awk '{ print $4 }' | grep -F ${`${PRIMARY.address}:`} || true`;
    const cutAt = Date.now() / 1000;
    await powerCut(PRIMARY.name);
    const openAtCut = (await stdoutOf(BACKUP.name, fromPrimary)).split('\n').filter(Boolean);
    // The cut takes a moment (every process of the host must die): an exchange under way meanwhile may still get
    // its 250 from the primary. Only an attempt that began once the primary was wholly dead was surely the backup's.
    const deadAt = Date.now() / 1000;
    // From when the backup holds the VIP, an exchange is the backup's from its first packet. One begun earlier
    // waits on a SYN to the dead primary (the kernel resends it after 1 s): that is the failover's time, which
    // bench:failover measures, not the backup's answer.
    await untilVip('the backup to take the VIP', onlyHolder(BACKUP.name), 30_000, performance.now(), 50);
    const backupHoldsAt = Date.now() / 1000;
    const { sent } = await sending;
    expect(sent.filter((m) => m.at < cutAt).length, 'messages accepted before the cut').toBeGreaterThan(0);
    expect(sent.filter((m) => m.at > cutAt).length, 'messages accepted after the cut').toBeGreaterThan(0);
    timings['no mail lost: sends retried across the cut'] = sent.filter((m) => m.attempts > 1).length;
    // With the primary dead (the backup's replication peer), the backup still answers each message at once:
    // nothing waits for the peer.
    const afterCut = sent.filter((m) => m.at - m.took > backupHoldsAt);
    expect(afterCut.length, 'exchanges begun once the backup held the VIP').toBeGreaterThan(10);
    timings['no mail lost: slowest accepting exchange with the peer dead (ms)'] = Math.round(
      Math.max(...afterCut.map((m) => m.took)) * 1000,
    );
    for (const m of afterCut)
      expect(m.took, `${m.subject}: connect, STARTTLS, AUTH and DATA to the 250 with the peer dead`).toBeLessThan(2);

    // With the primary down, the backup has every message accepted before the last moment (the replication
    // window) and every one accepted after the cut; what is missing was accepted by the primary just before it died.
    expect(await vipHolders()).toEqual([BACKUP.name]);
    const seen = new Set(
      (
        await py<{ subjects: string[] }>({
          op: 'imaps-subjects',
          host: LAB_VIP,
          user: 'kepsek',
          password: password('kepsek'),
          subject,
        })
      ).subjects,
    );
    const missing = sent.filter((m) => !seen.has(m.subject));
    timings['no mail lost: readable at the VIP with the primary down'] = seen.size;
    timings['no mail lost: missing there, accepted by the primary within (ms) before the cut'] = Math.round(
      Math.max(0, ...missing.map((m) => (cutAt - m.at) * 1000)),
    );
    // Missing though accepted long before the cut: told apart once the primary is back (stored there by LMTP
    // before the cut, so replication lagged, or still in postfix's queue), with what the backup's Dovecot logged.
    const late = missing.filter((m) => cutAt - m.at >= REPLICATION_WINDOW_S);
    const backupLog =
      late.length === 0
        ? ''
        : await stdoutOf(
            BACKUP.name,
            sh`journalctl -u dovecot.service --since ${`@${Math.floor(sendFrom) - 1}`} -p warning -o short-precise --no-pager | tail -n 20`,
          );
    expect(
      missing.filter((m) => m.at - m.took > deadAt),
      'accepted by the backup (the attempt began with the primary dead) but missing there',
    ).toEqual([]);

    // The primary returns (its queue and its mailboxes as they were), catches up and takes the VIP back: both
    // servers then hold all 100. A second copy may only come from the moment of the cut: a message whose sender
    // sent it again (the server died after queueing it, before its 250 arrived), or one the primary had stored
    // but not yet marked delivered in its queue, which its postfix delivers again once the power is back (SMTP
    // allows both). The latter is told by the copy itself: its LMTP Received line is dated after the power-on,
    // when no message was being sent any more.
    const powerOnAt = Math.floor(Date.now() / 1000);
    await powerOn(PRIMARY.name);
    // A sync the cut left half-done holds kepsek's lock on the backup for as long as its connection lives: the
    // kernel's keepalive (the dovecot role's) must end those within about a minute, not Dovecot's 10 minutes.
    const keepaliveFrom = performance.now();
    await until(
      'the replication connections open at the cut to end on the backup',
      async () => {
        const open = (await stdoutOf(BACKUP.name, fromPrimary)).split('\n');
        return !openAtCut.some((peer) => open.includes(peer));
      },
      90_000,
    );
    timings['no mail lost: connections open at the cut'] = openAtCut.length;
    timings['no mail lost: their end after the power came back (ms)'] = Math.round(performance.now() - keepaliveFrom);
    if (late.length > 0) {
      const storedAt = new Map((await copiesOn(PRIMARY.name, subject)).map((c) => [c.subject, c.deliveredAt]));
      const story = late.map((m) => {
        const at = storedAt.get(m.subject);
        return `${m.subject}: accepted ${(cutAt - m.at).toFixed(2)} s before the cut, ${at === undefined ? 'not stored by LMTP on the primary' : `stored on the primary ${(cutAt - at).toFixed(0)} s before the cut`}`;
      });
      const primaryLog = await stdoutOf(
        PRIMARY.name,
        sh`journalctl -b -1 -u dovecot.service -u ${`${postfixUnit(LAB_PLATFORM)}.service`} --since ${`@${Math.floor(sendFrom) - 1}`} -p warning -o short-precise --no-pager | tail -n 20`,
      ).catch((e: Error) => e.message);
      expect(
        story,
        `missing at the backup though accepted ${REPLICATION_WINDOW_S} s or more before the cut; the backup's Dovecot logged:\n${backupLog || '(nothing)'}\nthe primary's Dovecot and postfix, before the cut:\n${primaryLog || '(nothing)'}`,
      ).toEqual([]);
    }
    await untilVip('the primary to take the VIP back', onlyHolder(PRIMARY.name), 180_000, performance.now(), 250);
    await untilHealthy('the pair to be healthy after the last power cut');
    const retried = new Set(sent.filter((m) => m.attempts > 1).map((m) => m.subject));
    for (const host of [PRIMARY.name, BACKUP.name]) {
      await until(`${host} to hold all 100`, async () => (await countOn(host, subject)).distinct === 100, 60_000).catch(
        () => undefined,
      );
      const copies = await copiesOn(host, subject);
      expect(new Set(copies.map((c) => c.subject)).size, `distinct messages in kepsek's INBOX on ${host}`).toBe(100);
      const twice = [...new Set(copies.map((c) => c.subject).filter((x, i, all) => all.indexOf(x) !== i))];
      timings[`no mail lost: twice on ${host}`] = twice.length;
      for (const x of twice) {
        const lmtpDates = copies.filter((c) => c.subject === x).map((c) => c.deliveredAt);
        const redelivered = lmtpDates.some((at) => at !== undefined && at >= powerOnAt - 1);
        expect(
          retried.has(x) || redelivered,
          `${x} is twice on ${host} (LMTP deliveries at ${lmtpDates.map((at) => (at === undefined ? '?' : new Date(at * 1000).toISOString())).join(', ')}; power on at ${new Date(powerOnAt * 1000).toISOString()}), yet it was sent once and not delivered again after the power came back`,
        ).toBe(true);
      }
    }
  });
});
