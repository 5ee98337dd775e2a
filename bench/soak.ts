/**
 * A soak of the school site in the lab: for `minutes` (default 10) a LAN client (lab-client) probes the SMTP banner
 * and EHLO on both servers and on the VIP every 100 ms (each probe given 2 s) and sends a message every second
 * through the VIP (587, STARTTLS and AUTH as guru1, to each account in turn, every fifth with a 100 kB attachment,
 * retrying what is refused as a mail client does), while the pair is put through what a school year does to it:
 *
 *   - a redeploy with a forced change (main.cf, dovecot.conf and the web site edited on both servers beforehand, so
 *     `play site` restores them and its handlers reload postfix, restart dovecot and reload apache on each);
 *   - a power cut of the primary, and its return (it takes the VIP back once caught up);
 *   - a cut of the primary's link, and its return;
 *   - postfix and dovecot restarted on each server in turn (as a security update does);
 *   - a second redeploy.
 *
 * Then it waits for the pair to settle and every queue to drain, reads each account's INBOX at the VIP, and prints:
 * probes without a banner within 2 s (per target, and how many fell outside the windows of the events above; the
 * goal is 0 outside a failover), p50 and p99 banner latency, the longest stretch without SMTP at the VIP, and the
 * messages accepted, lost and duplicated (goal 0 and 0).
 *
 *   npm run bench:soak [-- minutes]
 */
import { sh } from '../src/connection/sh.ts';
import { LAB_HOSTS, LAB_VIP } from '../test/lab/config.ts';
import { linkDown, linkUp, onHost, powerCut, powerOn } from '../test/lab/faults.ts';
import { inLab } from './lab-session.ts';
import { onlyHolder, untilVip } from '../test/e2e/support/failover.ts';
import { ACCOUNTS, password, py, token } from '../test/e2e/support/mail-client.ts';
import { play } from '../test/e2e/support/play.ts';
import { percentile } from '../test/e2e/support/percentile.ts';
import { watchFromClient } from '../test/e2e/support/probe.ts';
import { until } from '../test/e2e/support/wait.ts';
import type { ProbeResult } from '../roles/common/service-probe.ts';
import { settle, SITE } from './settle.ts';

const minutes = Number(process.argv[2] ?? 10);
const DURATION_S = Math.round(minutes * 60);
const DOMAIN = 'smknh.sch.id';
const [PRIMARY, BACKUP] = LAB_HOSTS;
const TARGETS = { primary: PRIMARY.address, backup: BACKUP.address, vip: LAB_VIP } as const;
/** A probe whose banner and EHLO take longer than this failed (the bound for any banner). */
const BANNER_TIMEOUT_S = 2;

/** One thing done to the pair, and the stretch of time it may disturb (Unix ms). */
interface Event {
  readonly what: string;
  readonly kind: 'failover' | 'restart' | 'deploy';
  readonly from: number;
  to: number;
}
const events: Event[] = [];

async function event(what: string, kind: Event['kind'], body: () => Promise<void>): Promise<void> {
  const record: Event = { what, kind, from: Date.now(), to: 0 };
  events.push(record);
  console.log(`${new Date().toISOString()} ${what}`);
  try {
    await body();
  } finally {
    record.to = Date.now();
    console.log(`${new Date().toISOString()} ${what}: done in ${((record.to - record.from) / 1000).toFixed(1)} s`);
  }
}

/** Edits the files a redeploy must restore on both servers, so that its handlers reload or restart every mail service. */
async function forceChange(): Promise<void> {
  for (const host of LAB_HOSTS) {
    const drift = sh`for f in /etc/postfix/main.cf /etc/dovecot/dovecot.conf /etc/apache2/sites-available/mail.conf; do echo '# soak drift' >> "$f"; done`;
    const result = await onHost(host.name, drift);
    if (result.exitCode !== 0) throw new Error(`drifting ${host.name}: ${result.stderr}`);
  }
}

async function redeploy(): Promise<void> {
  await forceChange();
  const result = await play(SITE);
  if (result.code !== 0) throw new Error(`play site exited ${result.code}:\n${result.stdout.slice(-3000)}`);
  const changed = result.stdout.match(/^(primary|backup) +ok=\d+ changed=(\d+)/gm);
  console.log(`  play site: ${changed?.join('; ')}`);
}

const sleepUntil = (second: number, start: number) =>
  new Promise((r) => setTimeout(r, Math.max(0, start + second * 1000 - Date.now())));

/** When a probe of the watch started (ms): a watch's probes always say (`at`). */
function startedMs(r: ProbeResult): number {
  if (r.at === undefined) throw new Error(`a probe of the watch without its start time: ${r.label} ${r.detail}`);
  return r.at * 1000;
}

/** The longest stretch (ms) from a failed probe's start until a later probe of the same target answered. */
function longestGap(results: readonly ProbeResult[]): { ms: number; at: number } {
  const sorted = [...results].sort((a, b) => startedMs(a) - startedMs(b));
  let longest = { ms: 0, at: 0 };
  let since: number | undefined;
  for (const r of sorted) {
    if (!r.ok) since ??= startedMs(r);
    else if (since !== undefined) {
      const ms = startedMs(r) + r.ms - since;
      if (ms > longest.ms) longest = { ms, at: since };
      since = undefined;
    }
  }
  return longest;
}

await inLab(async () => {
  const deployed = await play(SITE);
  if (deployed.code !== 0)
    throw new Error(`deploying the site failed (exit ${deployed.code}):\n${deployed.stdout.slice(-3000)}`);
  await settle();

  const soak = token();
  const start = Date.now();
  const checks = Object.entries(TARGETS).map(([label, host]) => ({ kind: 'smtp' as const, label, host, port: 25 }));
  const probes = watchFromClient(checks, { every: 0.1, timeout: BANNER_TIMEOUT_S, forSeconds: DURATION_S });
  const recipients = ACCOUNTS.map((a) => `${a}@${DOMAIN}`);
  const sending = py<{ sent: { subject: string; to: string; at: number; attempts: number }[] }>(
    {
      op: 'send-many',
      host: LAB_VIP,
      user: 'guru1',
      password: password('guru1'),
      from: `guru1@${DOMAIN}`,
      to: recipients,
      subject: `Soak ${soak}`,
      count: DURATION_S - 5,
      interval: 1,
      attach_every: 5,
      attach_bytes: 100_000,
    },
    { timeoutMs: (DURATION_S + 600) * 1000 },
  );

  // The year, compressed: each event at its second (scaled to the soak's length), each waiting for the last.
  const at = (fraction: number) => sleepUntil(Math.round(DURATION_S * fraction), start);
  await at(0.05);
  await event(
    'redeploy with a forced change (postfix reload, dovecot restart, apache reload on each server)',
    'deploy',
    redeploy,
  );
  await at(0.2);
  await event('power cut of the primary, 20 s off, until it holds the VIP again', 'failover', async () => {
    await powerCut(PRIMARY.name);
    await new Promise((r) => setTimeout(r, 20_000));
    await powerOn(PRIMARY.name);
    await untilVip('the primary to take the VIP back', onlyHolder(PRIMARY.name), 240_000, performance.now(), 250);
  });
  await at(0.45);
  await event('link cut of the primary, 15 s, until it holds the VIP again', 'failover', async () => {
    linkDown(PRIMARY.name);
    await new Promise((r) => setTimeout(r, 15_000));
    linkUp(PRIMARY.name);
    await untilVip('the primary to take the VIP back', onlyHolder(PRIMARY.name), 240_000, performance.now(), 250);
  });
  await at(0.65);
  for (const host of [BACKUP, PRIMARY]) {
    await event(`postfix and dovecot restarted on ${host.name}`, 'restart', async () => {
      const result = await onHost(host.name, sh`systemctl restart postfix dovecot`);
      if (result.exitCode !== 0) throw new Error(`restart on ${host.name}: ${result.stderr}`);
      await new Promise((r) => setTimeout(r, 3000));
    });
    await new Promise((r) => setTimeout(r, 20_000));
  }
  await at(0.8);
  await event('redeploy with a forced change, again', 'deploy', redeploy);

  const { sent } = await sending;
  const results = await probes.stop();
  const ended = Date.now();
  console.log(`${new Date().toISOString()} soak over after ${((ended - start) / 1000).toFixed(0)} s; settling`);
  await settle();

  // Every accepted message, read at the VIP once the queues have drained.
  const inboxes = new Map<string, string[]>();
  const readAll = async () => {
    for (const account of ACCOUNTS)
      inboxes.set(
        account,
        (
          await py<{ subjects: string[] }>({
            op: 'imaps-subjects',
            host: LAB_VIP,
            user: account,
            password: password(account),
            subject: `Soak ${soak}`,
          })
        ).subjects,
      );
    return [...inboxes.values()].reduce((n, s) => n + new Set(s).size, 0);
  };
  await until('every accepted message at the VIP', async () => (await readAll()) >= sent.length, 180_000).catch(
    () => undefined,
  );
  const found = [...inboxes.entries()].flatMap(([account, subjects]) => subjects.map((s) => `${account} ${s}`));
  const expected = sent.map((m) => `${m.to.split('@')[0]} ${m.subject}`);
  const lost = expected.filter((e) => !found.includes(e));
  const twice = found.filter((f, i) => found.indexOf(f) !== i);

  console.log(
    `\nsoak of the school site in the lab: ${minutes} min, probes every 100 ms (2 s each), a message every second\n`,
  );
  const windows = events.map((e) => ({ ...e, to: e.to + 3000 }));
  const inside = (r: ProbeResult, kinds: Event['kind'][]) =>
    windows.some((w) => kinds.includes(w.kind) && startedMs(r) >= w.from && startedMs(r) <= w.to);
  console.log(
    '| target | probes | no banner within 2 s | of those outside any event | outside failovers | banner + EHLO p50 (ms) | p99 (ms) | longest without SMTP (ms) |',
  );
  console.log('|---|---|---|---|---|---|---|---|');
  for (const label of Object.keys(TARGETS)) {
    const mine = results.filter((r) => r.label === label);
    const failed = mine.filter((r) => !r.ok);
    const ms = mine
      .filter((r) => r.ok)
      .map((r) => r.ms)
      .sort((a, b) => a - b);
    const gap = longestGap(mine);
    console.log(
      `| ${label} | ${mine.length} | ${failed.length} | ${failed.filter((r) => !inside(r, ['failover', 'restart', 'deploy'])).length} | ${failed.filter((r) => !inside(r, ['failover'])).length} | ${Math.round(percentile(ms, 50))} | ${Math.round(percentile(ms, 99))} | ${Math.round(gap.ms)} |`,
    );
  }
  console.log('\nfailed probes by event:');
  for (const w of windows) {
    const hit = results.filter((r) => !r.ok && startedMs(r) >= w.from && startedMs(r) <= w.to);
    const byTarget = Object.keys(TARGETS)
      .map((t) => `${t} ${hit.filter((r) => r.label === t).length}`)
      .join(', ');
    console.log(`  ${w.what} (${((w.to - w.from) / 1000).toFixed(0)} s): ${byTarget}`);
  }
  const stray = results.filter((r) => !r.ok && !inside(r, ['failover', 'restart', 'deploy']));
  for (const r of stray.slice(0, 20))
    console.log(`  outside any event: ${new Date(startedMs(r)).toISOString()} ${r.label}: ${r.detail} (${r.ms} ms)`);
  console.log(
    `\nmessages: ${sent.length} accepted (${sent.filter((m) => m.attempts > 1).length} after retries), ${lost.length} lost, ${twice.length} twice`,
  );
  for (const l of lost.slice(0, 20)) console.log(`  lost: ${l}`);
  for (const t of twice.slice(0, 20)) console.log(`  twice: ${t}`);
});
