import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { LAB_CLIENT, LAB_VIP } from '../../lab/config.ts';
import { vipHolders } from './hosts.ts';
import { until } from './wait.ts';

const run = promisify(execFile);

/**
 * Resolves once a TCP connection from lab-client to VIP:port succeeds (an attempt every ~20 ms, each given
 * 200 ms), with the milliseconds since `since`. Start it once the old holder cannot answer any more.
 */
export async function firstAnswerAtVip(port: number, since: number, timeoutMs = 30_000): Promise<number> {
  const loop = `until timeout 0.2 bash -c 'exec 3<>/dev/tcp/${LAB_VIP}/${port}' 2>/dev/null; do sleep 0.02; done`;
  await run('ip', ['netns', 'exec', LAB_CLIENT.netns, 'bash', '-c', loop], { timeout: timeoutMs });
  return Math.round(performance.now() - since);
}

/** Polls (every `intervalMs`) until the condition holds; the milliseconds since `since`. A timeout names the holders. */
export function untilVip(what: string, condition: () => Promise<boolean>, timeoutMs: number, since = performance.now(), intervalMs = 20): Promise<number> {
  return until(what, condition, timeoutMs, { since, intervalMs, state: async () => `holders now: ${(await vipHolders()).join(', ') || 'none'}` });
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
