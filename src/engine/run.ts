import type { Connection } from '../connection/connection.ts';
import { ConnectError, placeError } from '../errors.ts';
import { FactCache } from '../facts/cache.ts';
import type { Probe } from '../facts/probe.ts';
import { FLUSH_HANDLERS } from '../ops/flush-handlers.ts';
import { affectedPaths } from '../ops/op.ts';
import { formatDiff } from '../render/diff.ts';
import { applySteps } from './apply.ts';
import type { BoundTask, CompiledPlay, CompiledRun, HostWork } from './compile.ts';
import type { RunListener } from './events.ts';
import { emptyRecap, type RunReport, type TaskResult } from './report.ts';

/** How to run a compiled playbook. */
export interface RunOptions {
  /** Plan and show, apply nothing. */
  readonly check: boolean;
  /** How many hosts run at once. */
  readonly forks: number;
  /** Opens the connection to a host; called once per host per run. */
  readonly connect: (host: string) => Promise<Connection>;
  readonly onEvent?: RunListener;
}

interface HostState {
  connection?: Promise<Connection>;
  facts?: FactCache;
  /** Unreachable or failed: the host takes no further part in the run. */
  out: boolean;
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
 * parallel (up to `forks`), tasks in order on each host. Each task is planned just before it runs (facts for
 * the rest of the host's tasks gathered in the same round trip), its diff shown, then applied unless `check`.
 * A failed or unreachable host never stops the others.
 *
 * @example
 * const report = await executeRun(await compileRun(playbook, inventory), { check: true, forks: 10, connect });
 */
export async function executeRun(run: CompiledRun, options: RunOptions): Promise<RunReport> {
  const started = performance.now();
  const report: RunReport = { check: options.check, hosts: {}, tasks: [], durationMs: 0 };
  const states = new Map<string, HostState>(run.hosts.map((h) => [h, { out: false }]));
  for (const host of run.hosts) report.hosts[host] = emptyRecap();
  const emit: RunListener = (event) => options.onEvent?.(event);
  try {
    for (const play of run.plays) {
      emit({ type: 'play', play: play.name, hosts: play.batches.flat() });
      for (const batch of play.batches) {
        const active = batch.filter((h) => !states.get(h)!.out);
        await eachLimited(active, options.forks, (host) => runHostPlay(play, play.work.get(host)!, states.get(host)!, report, options, emit));
      }
    }
  } finally {
    await Promise.all(
      [...states.values()].map(async (s) => {
        const connection = await s.connection?.catch(() => undefined);
        await connection?.close().catch(() => undefined);
      }),
    );
  }
  report.durationMs = performance.now() - started;
  return report;
}

function probesOf(tasks: readonly BoundTask[]): Probe<unknown>[] {
  const probes: Probe<unknown>[] = [];
  for (const bound of tasks) {
    try {
      probes.push(...bound.task.op.probes());
    } catch {
      // A task that cannot name its probes yet will ask for them when it plans.
    }
  }
  return probes;
}

async function runHostPlay(play: CompiledPlay, work: HostWork, state: HostState, report: RunReport, options: RunOptions, emit: RunListener): Promise<void> {
  const { host } = work;
  const recap = report.hosts[host];
  const started = performance.now();
  emit({ type: 'host-start', host, play: play.name });
  let connection: Connection;
  try {
    state.connection ??= options.connect(host);
    connection = await state.connection;
  } catch (error) {
    const placed = placeError(error, { host });
    state.out = true;
    recap.unreachable++;
    const result: TaskResult = { host, play: play.name, task: 'connect', status: 'unreachable', durationMs: performance.now() - started, error: placed.describe() };
    report.tasks.push(result);
    emit({ type: 'host-unreachable', host, error: placed.describe() });
    emit({ type: 'task-end', result, check: options.check });
    emit({ type: 'host-end', host, play: play.name, failed: true });
    return;
  }
  const facts = (state.facts ??= new FactCache(connection));
  const notified = new Set<string>();
  let pending = false;

  const runTask = async (bound: BoundTask, remaining: readonly BoundTask[], handler: boolean): Promise<boolean> => {
    const taskStarted = performance.now();
    const base = { host, play: play.name, role: bound.role, task: bound.task.name, ...(handler ? { handler: true } : {}) };
    emit({ type: 'task-start', host, play: play.name, role: bound.role, task: bound.task.name, handler });
    let result: TaskResult;
    try {
      if (bound.task.op.kind === FLUSH_HANDLERS) {
        result = { ...base, status: 'ok', summary: 'handlers flushed', durationMs: 0 };
        report.tasks.push(result);
        recap.ok++;
        emit({ type: 'task-end', result, check: options.check });
        return flush();
      }
      await facts.gather(probesOf(remaining));
      const plan = await bound.task.op.plan({ host, vars: bound.vars, roleDir: bound.roleDir, facts, earlierChangesPending: pending });
      if (!plan.changed) {
        result = { ...base, status: 'ok', summary: plan.reason, durationMs: performance.now() - taskStarted };
      } else {
        const diff = plan.diffs.map(formatDiff).filter(Boolean).join('\n') || undefined;
        emit({ type: 'task-planned', host, task: bound.task.name, summary: plan.summary, diff, check: options.check });
        if (options.check) {
          pending = true;
        } else {
          try {
            await applySteps(connection, plan.steps, { host, role: bound.role, task: bound.task.name, declaredAt: bound.task.declaredAt });
          } finally {
            facts.invalidate(affectedPaths(plan.steps));
          }
        }
        for (const name of bound.task.notify) notified.add(name);
        result = { ...base, status: 'changed', summary: plan.summary, ...(diff ? { diff } : {}), durationMs: performance.now() - taskStarted };
      }
    } catch (error) {
      const placed = placeError(error, { host, role: bound.role, task: bound.task.name, declaredAt: bound.task.declaredAt });
      const lost = placed instanceof ConnectError;
      result = { ...base, status: lost ? 'unreachable' : 'failed', durationMs: performance.now() - taskStarted, error: placed.describe() };
    }
    report.tasks.push(result);
    recap[result.status]++;
    emit({ type: 'task-end', result, check: options.check });
    return result.status !== 'failed' && result.status !== 'unreachable';
  };

  // Runs the notified handlers once each, in definition order.
  const flush = async (): Promise<boolean> => {
    for (const handler of work.handlers) {
      if (!notified.delete(handler.task.name)) continue;
      if (!(await runTask(handler, [handler], true))) return false;
    }
    return true;
  };

  let healthy = true;
  for (const [index, bound] of work.tasks.entries()) {
    if (!(await runTask(bound, work.tasks.slice(index), false))) {
      healthy = false;
      break;
    }
  }
  if (healthy) healthy = await flush();
  if (!healthy) state.out = true;
  recap.commands = connection.commandCount;
  recap.durationMs += performance.now() - started;
  emit({ type: 'host-end', host, play: play.name, failed: !healthy });
}

