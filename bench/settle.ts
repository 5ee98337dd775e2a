/**
 * What the benchmarks of the school site wait for between faults: the primary holding the VIP and `play verify`
 * saying healthy (replication caught up, DHCP failover normal, every service answering at the protocol level).
 */
import { LAB_HOSTS } from '../test/lab/config.ts';
import { onlyHolder, untilVip } from '../test/e2e/support/failover.ts';
import { play } from '../test/e2e/support/play.ts';
import { until } from '../test/e2e/support/wait.ts';

/** The site playbook against the lab's inventory, as the benchmarks run it. */
export const SITE = ['playbooks/site.ts', '-i', 'inventory/lab.ts'];

/** The rows `play verify` does not pass, as text; empty when the pair is healthy. */
export async function unhealthy(): Promise<string> {
  const result = await play(['verify', ...SITE, '--json']);
  if (result.code === 0) return '';
  try {
    const rows = (
      JSON.parse(result.stdout) as { rows: { check: string; host?: string; ok: boolean; detail: string }[] }
    ).rows;
    return rows
      .filter((r) => !r.ok)
      .map((r) => `${r.check}${r.host ? ` ${r.host}` : ''}: ${r.detail}`)
      .join('; ');
  } catch {
    return `play verify exited ${result.code}`;
  }
}

/** Waits for the primary to hold the VIP and for `play verify` to say healthy (what was unhealthy names the wait). */
export async function settle(): Promise<void> {
  await untilVip('the primary to hold the VIP', onlyHolder(LAB_HOSTS[0].name), 180_000, performance.now(), 250);
  let last = '';
  const healthy = async () => {
    last = await unhealthy();
    return last === '';
  };
  await until('play verify to say healthy', healthy, 300_000, {
    intervalMs: 2000,
    state: () => last,
  });
}
