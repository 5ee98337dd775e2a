import { WEBMAIL_LOGIN_MARKER, type ProbeCheck } from '../../../roles/common/service-probe.ts';
import { sh, type ShellCommand } from '../../../src/connection/sh.ts';
import { LAB_HOSTS, LAB_VIP } from '../../lab/config.ts';
import { onHost } from '../../lab/faults.ts';
import { vipHolders } from './hosts.ts';
import { password } from './mail-client.ts';
import { watchFromClient } from './probe.ts';
import { until } from './wait.ts';

/**
 * What a teacher needs at the VIP of the lab school, probed as their programs use it: the SMTP banner and EHLO on
 * 25, a login over IMAPS (guru1), the webmail's login page over HTTPS.
 */
export function vipUserChecks(domain: string): (ProbeCheck & { label: string })[] {
  return [
    { kind: 'smtp', label: 'smtp', host: LAB_VIP, port: 25 },
    { kind: 'imap', label: 'imaps', host: LAB_VIP, port: 993, tls: true, user: 'guru1', password: password('guru1') },
    {
      kind: 'https',
      label: 'https',
      host: LAB_VIP,
      port: 443,
      servername: `mail.${domain}`,
      expect: WEBMAIL_LOGIN_MARKER,
    },
  ];
}

/**
 * Seconds between two starts of each check at the VIP. An IMAPS login or a webmail page costs the server about
 * 0.1 s of CPU: started every 50 ms (every 0.1 s too), they alone saturated both cores of the 2-core lab machine
 * (CPU pressure 90-97 %, nine probes in ten failing on a healthy pair), starved keepalived's own checks on both
 * servers and so made the very failures they were to time. Every 0.2 s all pass (median 130 ms).
 */
export const PROBE_EVERY_S = 0.2;

/**
 * The milliseconds from `since` (a `performance.now()` time, the fault) until each check answers at the protocol
 * level from lab-client: an SMTP banner and EHLO, an IMAPS login, the webmail page, an SSH banner. A new probe of
 * each starts every PROBE_EVERY_S, each with 1 s for all its steps; only probes started `settleMs` after the fault,
 * and after `after` (the fault being made) resolves, count (before that the old holder may still answer one). Per
 * `label`.
 */
export async function answersAtVip(
  checks: readonly (ProbeCheck & { label: string })[],
  since: number,
  options: { timeoutMs?: number; settleMs?: number; after?: Promise<unknown> } = {},
): Promise<Record<string, number>> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const sinceWall = Date.now() - (performance.now() - since);
  const watch = watchFromClient(checks, { every: PROBE_EVERY_S, timeout: 1, forSeconds: timeoutMs / 1000 });
  try {
    // A fault that takes a moment to make (a service stopped or frozen over ssh): count only probes started once
    // it is made, or the old holder's last answers would count.
    const made = options.after ? await options.after.then(() => Date.now()) : 0;
    const from = Math.max(sinceWall + (options.settleMs ?? 100), made);
    const ends = await Promise.all(checks.map((c) => watch.firstAnswer(c.label, from, timeoutMs)));
    return Object.fromEntries(checks.map((c, i) => [c.label, Math.round(ends[i] - sinceWall)]));
  } finally {
    await watch.stop();
  }
}

/**
 * Polls (every `intervalMs`) until the condition holds; the milliseconds since `since`. A timeout names the holders
 * and tells what keepalived did on each server ({@link keepalivedStory}).
 */
export function untilVip(
  what: string,
  condition: () => Promise<boolean>,
  timeoutMs: number,
  since = performance.now(),
  intervalMs = 20,
): Promise<number> {
  return until(what, condition, timeoutMs, {
    since,
    intervalMs,
    state: async () => `holders now: ${(await vipHolders()).join(', ') || 'none'}\n${await keepalivedStory()}`,
  });
}

/** A condition: this server, and only it, holds the VIP. */
export const onlyHolder = (name: string) => async (): Promise<boolean> => {
  const now = await vipHolders();
  return now.length === 1 && now[0] === name;
};

/**
 * Samples the holders every 50 ms until stopped: the most holders seen at once and the longest stretch with two
 * (a master handing over adds the VIP a moment before the old one removes it; a split brain lasts).
 */
export function watchHolders() {
  let stopped = false;
  let most = 0;
  let longestDouble = 0;
  let doubleSince: number | undefined;
  const done = (async () => {
    while (!stopped) {
      const count = (await vipHolders()).length;
      const now = performance.now();
      most = Math.max(most, count);
      if (count > 1) doubleSince ??= now;
      else doubleSince = undefined;
      if (doubleSince !== undefined) longestDouble = Math.max(longestDouble, now - doubleSince);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await done;
      return { most, longestDoubleMs: Math.round(longestDouble) };
    },
  };
}

/**
 * What keepalived did on each lab server that is up, for a failure's message: its transitions, its own journal,
 * the track script's failed checks and the replication gate's view (Dovecot's replicator status and its last
 * warnings and errors, such as a sync that keeps failing).
 */
export async function keepalivedStory(): Promise<string> {
  return eachLabHostSays(
    sh`tail -n 8 /var/log/keepalived-transitions.log; journalctl -u keepalived -o short-precise --no-pager -n 30; journalctl -t keepalived-check -o short-precise --no-pager -n 5; doveadm replicator status '*' 2>&1 | head -n 8; journalctl -u dovecot -p warning -o short-precise --no-pager -n 15`,
  );
}

/** What a command printed on each lab server, under the server's name (`unreachable: …` for one that is down), for a failure's message. */
export async function eachLabHostSays(command: ShellCommand, heading = ''): Promise<string> {
  const parts: string[] = [];
  for (const { name } of LAB_HOSTS) {
    const said = await onHost(name, command).catch((e: Error) => ({ stdout: `unreachable: ${e.message}` }));
    parts.push(`--- ${name}${heading}\n${said.stdout}`);
  }
  return parts.join('\n');
}
