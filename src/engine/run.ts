import type { CompiledRun } from './compile.ts';
import type { RunListener } from './events.ts';
import { HostRun, type HostRunOptions } from './host-run.ts';
import { emptyRecap, type RunReport } from './report.ts';

/** How to run a compiled playbook. */
export interface RunOptions extends HostRunOptions {
  /** How many hosts run at once. */
  readonly forks: number;
  readonly onEvent?: RunListener;
}

/** Runs `work` for every item, at most `limit` at a time. */
async function eachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * Runs a compiled playbook: plays in order, each play's host batches in order, the hosts of a batch in
 * parallel (up to `forks`), tasks in order on each host (see {@link HostRun}: the lock, durable handlers). Each
 * task is planned just before it runs (facts for the rest of the host's tasks gathered in the same round trip),
 * its diff shown, then applied unless `check`. A failed or unreachable host never stops the others.
 *
 * @example
 * const report = await executeRun(await compileRun(playbook, inventory), { check: true, forks: 10, connect });
 */
export async function executeRun(run: CompiledRun, options: RunOptions): Promise<RunReport> {
  const started = performance.now();
  const report: RunReport = { check: options.check, hosts: {}, tasks: [], durationMs: 0 };
  for (const host of run.hosts) report.hosts[host] = emptyRecap();
  const emit: RunListener = (event) => options.onEvent?.(event);
  const hosts = new Map<string, HostRun>(run.hosts.map((h) => [h, new HostRun(h, report, options, emit)]));
  try {
    for (const play of run.plays) {
      emit({ type: 'play', play: play.name, hosts: play.batches.flat() });
      for (const batch of play.batches) {
        const active = batch.filter((h) => !hosts.get(h)!.out);
        await eachLimited(active, options.forks, (host) => hosts.get(host)!.runPlay(play, play.work.get(host)!));
      }
    }
  } finally {
    await Promise.all([...hosts.values()].map((h) => h.close()));
  }
  report.durationMs = performance.now() - started;
  return report;
}
