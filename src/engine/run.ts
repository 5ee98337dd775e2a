import type { CompiledPlay, CompiledRun, HostPlatformWork } from './compile.ts';
import type { RunListener } from './events.ts';
import { HostRun, type HostRunOptions } from './host-run.ts';
import { emptyRecap, type RunReport } from './report.ts';
import type { Profiler } from '../profile.ts';
import { required } from '../required.ts';
import type { ShellCommand } from '../connection/sh.ts';

/**
 * The health gate between serial batches: the failing checks of these hosts (read-only, at the protocol level:
 * the playbook's `verify` limited to them). An empty list lets the run go on to the next batch.
 */
export type HealthGate = (
  hosts: readonly string[],
  /** Count every failing row, also those a pair rightly fails while only some of its hosts are deployed (`gate: false`). */
  options?: { readonly everyRow?: boolean },
) => Promise<readonly { readonly check: string; readonly host?: string; readonly detail: string }[]>;

/** How to run a compiled playbook. */
export interface RunOptions extends HostRunOptions {
  /** How many hosts run at once. */
  readonly forks: number;
  readonly onEvent?: RunListener;
  /**
   * Checked after each batch in which something changed (never under `check`): a failing check stops the run
   * before the next batch (exit 1), so a deploy that broke the first server never touches the second.
   */
  readonly gate?: HealthGate;
  /** Where the run marks the end of its phases (connecting and reading facts, planning and applying, closing). */
  readonly profiler?: Profiler;
}

/** How many changes these hosts made so far (tasks and handlers), to tell whether a batch changed anything. */
function changesOf(report: RunReport, hosts: readonly string[]): number {
  return hosts.reduce((sum, h) => sum + report.hosts[h].changed, 0);
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
 * Runs a compiled playbook: plays in order (a play with `installPackagesFirst` installs every host's packages
 * first, all hosts at once), each play's host batches in order, the hosts of a batch in parallel (up to `forks`), tasks in order on each host (see {@link HostRun}: the lock, durable handlers), those built for the
 * release the host runs when the play's roles declare platforms (read in the host's first round trip). Each
 * task is planned just before it runs (facts for the rest of the host's tasks gathered in the same round trip),
 * its diff shown, then applied unless `check`. A failed or unreachable host never stops the others. What the run
 * reports (diffs, summaries, errors) is masked with the run's table (`run.masks`), which its plans' secrets join.
 *
 * @example
 * const report = await executeRun(await compileRun(playbook, inventory), { check: true, forks: 10, connect });
 */
export async function executeRun(run: CompiledRun, options: RunOptions): Promise<RunReport> {
  const started = performance.now();
  const report: RunReport = { check: options.check, hosts: {}, tasks: [], gates: [], durationMs: 0 };
  for (const host of run.hosts) report.hosts[host] = emptyRecap();
  const emit: RunListener = (event) => options.onEvent?.(event);
  const hosts = new Map<string, HostRun>(run.hosts.map((h) => [h, new HostRun(h, report, options, emit, run.masks)]));
  try {
    const batches = run.plays.flatMap((play) => play.batches.map((batch) => ({ play, batch })));
    // `serial` orders changes, not reads: every host's facts for all its plays are read at once, so a run with
    // nothing to change costs the slowest host, not the sum. They are forgotten if an earlier batch changes
    // anything (a change on one server can touch another: a zone transfer, a replicated mailbox), and a host's
    // own changes forget what they touch.
    // The host's release is read in the same round trip when a play's work depends on it.
    const allWork = new Map<string, HostPlatformWork[]>();
    for (const play of run.plays)
      for (const [host, work] of play.work) allWork.set(host, [...(allWork.get(host) ?? []), work]);
    await eachLimited([...allWork.keys()], options.forks, (host) =>
      required(hosts, host, 'host run').prefetch(required(allWork, host, 'work')),
    );
    options.profiler?.mark('connect and read facts');
    let shownPlay: CompiledPlay | undefined;
    for (const [index, { play, batch }] of batches.entries()) {
      if (shownPlay !== play) {
        emit({ type: 'play', play: play.name, hosts: play.batches.flat() });
        const first = play.checkHealthFirst;
        const playHosts = play.batches.flat();
        const leftOut = async (unless: ShellCommand) => {
          const answers = await Promise.all(playHosts.map((h) => required(hosts, h, 'host run').succeeds(unless)));
          return answers.some(Boolean);
        };
        if (first && options.gate && !(first.unless && (await leftOut(first.unless)))) {
          const failed = await options.gate(playHosts, { everyRow: true });
          const gate = {
            hosts: playHosts,
            before: play.name,
            failed,
            skipped: failed.length ? [...new Set(batches.slice(index).flatMap((b) => b.batch))] : [],
          };
          report.gates.push(gate);
          emit({ type: 'gate', ...gate });
          if (failed.length) break;
        }
        // Packages have no order between hosts: all of the play's hosts install theirs at once, before any batch.
        if (play.installPackagesFirst) {
          const ready = play.batches.flat().filter((h) => !required(hosts, h, 'host run').out);
          await eachLimited(ready, options.forks, (host) =>
            required(hosts, host, 'host run').installPackagesFirst(play, required(play.work, host, 'work')),
          );
        }
      }
      shownPlay = play;
      const active = batch.filter((h) => !required(hosts, h, 'host run').out);
      const changedBefore = changesOf(report, active);
      await eachLimited(active, options.forks, (host) =>
        required(hosts, host, 'host run').runPlay(play, required(play.work, host, 'work')),
      );
      const outNow = active.filter((h) => required(hosts, h, 'host run').out);
      if (play.anyErrorsFatal && outNow.length) {
        const skipped = [...new Set(batches.slice(index + 1).flatMap((b) => b.batch))].filter(
          (h) => !outNow.includes(h),
        );
        report.stop = { play: play.name, failed: outNow, skipped };
        emit({ type: 'stopped', ...report.stop });
        break;
      }
      if (changesOf(report, active) === changedBefore) continue;
      for (const later of batches.slice(index + 1).flatMap((b) => b.batch))
        if (!active.includes(later)) required(hosts, later, 'host run').forgetFacts();
      if (!options.gate || options.check || !play.healthGate) continue;
      const failed = await options.gate(active);
      const later = [...new Set(batches.slice(index + 1).flatMap((b) => b.batch))];
      const gate = { hosts: active, failed, skipped: failed.length ? later : [] };
      report.gates.push(gate);
      emit({ type: 'gate', ...gate });
      if (failed.length) break;
    }
  } finally {
    options.profiler?.mark('plan and apply');
    await Promise.all([...hosts.values()].map((h) => h.close()));
    options.profiler?.mark('close connections');
  }
  report.durationMs = performance.now() - started;
  return report;
}
