import type { Connection } from '../connection/connection.ts';
import type { ShellCommand } from '../connection/sh.ts';
import { commandSucceedsProbe } from '../facts/command-status.ts';
import { ReopenableConnection } from '../connection/reopenable.ts';
import { CommandError, ConnectError, placeError, type ErrorPlace } from '../errors.ts';
import { FactCache } from '../facts/cache.ts';
import { osReleaseProbe } from '../facts/os-release.ts';
import type { Probe } from '../facts/probe.ts';
import { parsePlatform, type Platform } from '../model/platform.ts';
import type { MaskTable } from '../mask-table.ts';
import { affectedPaths, type Plan, type WriteStep } from '../ops/op.ts';
import { formatDiff } from '../render/diff.ts';
import { applyChanges, applySteps, type AppliedChanges } from './apply.ts';
import type { BoundTask, CompiledPlay, HostPlatformWork, HostWork } from './compile.ts';
import { chooseWork, needsPlatform } from './host-platform.ts';
import type { RunListener } from './events.ts';
import {
  clearPendingCommand,
  pendingHandlersProbe,
  recordPendingCommand,
  type PendingHandler,
} from '../remote/handler-journal.ts';
import { takeHostLock, type HostLock } from '../remote/host-lock.ts';
import { hostStatePaths, type HostStatePaths } from '../remote/host-state.ts';
import { PACKAGES_FIRST_TASK, packagesFirstPlan, packagesFirstTasks } from './packages-first.ts';
import type { HostRecap, RunReport, TaskResult } from './report.ts';

/** At most this many files in one batch (their contents travel in one command's stdin). */
const MAX_WRITE_BATCH = 200;

/** The task name under which a host whose release the play does not support fails. */
export const PLATFORM_TASK = 'platform';

/** How a host's plays run: what the whole run was told. */
export interface HostRunOptions {
  readonly check: boolean;
  readonly connect: (host: string) => Promise<Connection>;
  /** Run the handlers notified so far even when a task fails (`--force-handlers`). */
  readonly forceHandlers?: boolean;
  /** Run only the handlers an earlier run left pending, no tasks (`--flush-handlers`). */
  readonly flushHandlersOnly?: boolean;
  /** Wait for another run's lock (default), or fail at once (`--no-wait`). */
  readonly waitForLock?: boolean;
  /** Where play keeps its state on the hosts (default /var/lib/play). */
  readonly stateRoot?: string;
}

/**
 * What a task (or the host's part of a play) that threw reports: `unreachable` when the connection was lost,
 * `failed` otherwise, and the error placed (host, role, task, the line that declared it) and described.
 */
function failure(error: unknown, place: ErrorPlace): { status: 'unreachable' | 'failed'; error: string } {
  const placed = placeError(error, place);
  return { status: placed instanceof ConnectError ? 'unreachable' : 'failed', error: placed.describe() };
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

/**
 * One host's part of a run, with its state in one place: the connection and fact cache (kept across plays), the
 * run lock (taken before the first change, never for a check or a run that changes nothing), and, per play, the
 * handlers notified and not yet run. Handlers are durable: each one notified is written to the host's journal
 * before the change that notifies it, and struck out once it has run, so a run that fails or dies still owes
 * them, and the next run (or `--flush-handlers`) runs them first.
 *
 * @example
 * const host = new HostRun('primary', report, options, emit, run.masks);
 * await host.runPlay(play, play.work.get('primary')!);
 * await host.close();
 */
export class HostRun {
  /** Unreachable or failed: the host takes no further part in the run. */
  out = false;
  /**
   * Under check: the packages tasks whose packages {@link installPackagesFirst} planned to install first. They
   * report that plan instead of planning the same install again, and later tasks know changes are pending.
   */
  coveredInCheck = new Set<BoundTask>();
  /** The release the host runs, once read: its platform, or what its os-release says instead. */
  private release?: Platform | string;
  private connection?: Promise<Connection>;
  private facts?: FactCache;
  private lock?: Promise<HostLock>;
  private readonly paths: HostStatePaths;
  private readonly recap: HostRecap;

  constructor(
    readonly host: string,
    private readonly report: RunReport,
    private readonly options: HostRunOptions,
    private readonly emit: RunListener,
    /** The run's mask table: what the host's tasks report is masked with it, and their plans' secrets added to it. */
    private readonly masks: MaskTable,
  ) {
    this.paths = hostStatePaths(host, options.stateRoot);
    this.recap = report.hosts[host];
  }

  /**
   * Runs one play's work on this host: its work for the release the host runs (when the play's roles declare
   * platforms; a release they do not support fails the host here, before any change), pending handlers first,
   * then the tasks, then the handlers they notified.
   */
  async runPlay(play: CompiledPlay, choice: HostPlatformWork): Promise<void> {
    const started = performance.now();
    this.emit({ type: 'host-start', host: this.host, play: play.name });
    const connection = await this.connect(play, started);
    if (!connection) return;
    this.facts ??= new FactCache(connection);
    const facts = this.facts;
    const journal = pendingHandlersProbe(this.paths);
    let healthy = false;
    try {
      const work = await this.workOn(play, choice, facts, [journal]);
      if (work) {
        const run = new PlayOnHost(this, play, work, connection, facts);
        try {
          await facts.gather([journal, ...probesOf(work.tasks)]);
          healthy = await run.flushPending(await facts.get(journal));
          if (healthy && !this.options.flushHandlersOnly) healthy = await run.runTasks();
          if (healthy || this.options.forceHandlers) healthy = (await run.flush()) && healthy;
        } catch (error) {
          healthy = this.fail(play, error);
        }
      }
    } catch (error) {
      healthy = this.fail(play, error);
    }
    if (!healthy) this.out = true;
    this.recap.commands = connection.commandCount;
    this.recap.durationMs += performance.now() - started;
    this.emit({ type: 'host-end', host: this.host, play: play.name, failed: !healthy });
  }

  /**
   * Connects and reads the facts the plays' tasks name, ahead of the host's turn (a batch of `serial` orders
   * changes, not reads), with the host's release when a play's work depends on it: one round trip, which asks for
   * the facts of the tasks of every release (the release is not known before the answer). A failure is left for
   * {@link runPlay} to meet and report in its turn.
   */
  async prefetch(works: readonly HostPlatformWork[]): Promise<void> {
    try {
      this.connection ??= this.open();
      const connection = await this.connection;
      this.facts ??= new FactCache(connection);
      const probes = [
        pendingHandlersProbe(this.paths),
        ...works.flatMap((choice) => choice.works.flatMap((w) => probesOf(w.tasks))),
      ];
      if (works.some(needsPlatform)) await this.readRelease(this.facts, probes);
      else await this.facts.gather(probes);
    } catch {
      // Met again, and reported, when the host's batch runs.
    }
  }

  /**
   * Reads the host's release once per run (a release does not change under a run), together with other probes:
   * its platform, or what was found instead.
   */
  private async readRelease(facts: FactCache, alongside: readonly Probe<unknown>[]): Promise<void> {
    if (this.release !== undefined) return;
    await facts.gather([osReleaseProbe, ...alongside]);
    const text = await facts.get(osReleaseProbe);
    try {
      this.release = text === undefined ? `${this.host} has no /etc/os-release` : parsePlatform(text, this.host);
    } catch (error) {
      this.release = (error as Error).message;
    }
  }

  /**
   * The host's work in a play on the release it runs (read first, with `alongside` and the facts of every
   * release's tasks, when not known yet). When the play's roles do not support it, the host fails here, before
   * any change: undefined.
   */
  private async workOn(
    play: CompiledPlay,
    choice: HostPlatformWork,
    facts: FactCache,
    alongside: readonly Probe<unknown>[],
  ): Promise<HostWork | undefined> {
    if (needsPlatform(choice))
      await this.readRelease(facts, [...alongside, ...choice.works.flatMap((w) => probesOf(w.tasks))]);
    const chosen = chooseWork(choice, this.release);
    if ('work' in chosen) return chosen.work;
    this.out = true;
    this.record(
      { host: this.host, play: play.name, task: PLATFORM_TASK, status: 'failed', durationMs: 0, error: chosen.refused },
      this.check,
    );
    return undefined;
  }

  /** An error outside any task (the journal, the lock, reading the release): recorded as the host's failure. */
  fail(play: CompiledPlay, error: unknown): false {
    this.record(
      { host: this.host, play: play.name, task: 'run', durationMs: 0, ...failure(error, { host: this.host }) },
      this.check,
    );
    return false;
  }

  /**
   * Installs, before the play's batches, what its packages tasks on this host want and the host lacks, in one
   * round of apt-get (see {@link packagesFirstPlan}), with the host's lock taken and the facts read again under
   * it. Nothing to install: nothing shown. Under check the install is shown, not made. A failure takes the host
   * out of the run like a failed task.
   */
  async installPackagesFirst(play: CompiledPlay, choice: HostPlatformWork): Promise<void> {
    if (choice.works.every((w) => packagesFirstTasks(w.tasks).length === 0)) return;
    const started = performance.now();
    const connection = await this.connect(play, started);
    if (!connection) return;
    this.facts ??= new FactCache(connection);
    const facts = this.facts;
    const base = { host: this.host, play: play.name, task: PACKAGES_FIRST_TASK };
    try {
      const work = await this.workOn(play, choice, facts, []);
      if (!work) return;
      const tasks = packagesFirstTasks(work.tasks);
      if (tasks.length === 0) return;
      let plan = await packagesFirstPlan(tasks, facts);
      if (plan.changed && !this.check) {
        await this.locked(connection);
        facts.invalidate(undefined);
        plan = await packagesFirstPlan(tasks, facts);
      }
      if (!plan.changed) return;
      this.started({ play: play.name, task: PACKAGES_FIRST_TASK, handler: false });
      this.planned(PACKAGES_FIRST_TASK, plan, false);
      if (this.check) {
        for (const bound of tasks) this.coveredInCheck.add(bound);
      } else {
        try {
          await applySteps(connection, plan.steps, { host: this.host, task: PACKAGES_FIRST_TASK });
        } finally {
          // A package brings files and services of its own: every fact is read again.
          facts.invalidate(undefined);
        }
      }
      this.record(
        { ...base, status: 'changed', summary: plan.summary, durationMs: performance.now() - started },
        this.check,
      );
    } catch (error) {
      this.out = true;
      this.record(
        {
          ...base,
          durationMs: performance.now() - started,
          ...failure(error, { host: this.host, task: PACKAGES_FIRST_TASK }),
        },
        this.check,
      );
    }
  }

  /** Whether a read-only check succeeds on the host (false when it cannot be reached: its batch reports that). */
  async succeeds(command: ShellCommand): Promise<boolean> {
    try {
      this.connection ??= this.open();
      const connection = await this.connection;
      this.facts ??= new FactCache(connection);
      return await this.facts.get(commandSucceedsProbe(command));
    } catch {
      return false;
    }
  }

  /** Forgets every fact read so far (another host's batch changed something this host's facts may depend on). */
  forgetFacts(): void {
    this.facts?.invalidate();
  }

  /**
   * Opens the host's connection, reopenable after a reboot: what lived on the last boot is then forgotten (the
   * run lock, which the next change takes again; every fact; the release, read again by the next play).
   */
  private async open(): Promise<Connection> {
    const first = await this.options.connect(this.host);
    return new ReopenableConnection(
      first,
      () => this.options.connect(this.host),
      () => {
        this.lock = undefined;
        this.release = undefined;
        this.facts?.invalidate(undefined);
      },
    );
  }

  /** Releases the lock and closes the connection. */
  async close(): Promise<void> {
    const lock = await this.lock?.catch(() => undefined);
    await lock?.release().catch(() => undefined);
    const connection = await this.connection?.catch(() => undefined);
    await connection?.close().catch(() => undefined);
  }

  /** Takes the host's run lock before the first change (once per run); a check never changes anything. */
  async locked(connection: Connection): Promise<void> {
    if (this.options.check) return;
    this.lock ??= takeHostLock(connection, this.paths, {
      wait: this.options.waitForLock !== false,
      onWait: (holder) => this.emit({ type: 'host-waiting', host: this.host, holder }),
    });
    await this.lock;
  }

  /** Whether the lock was asked for already (held, or being waited for). */
  get hasLock(): boolean {
    return this.lock !== undefined;
  }

  get check(): boolean {
    return this.options.check;
  }

  get state(): HostStatePaths {
    return this.paths;
  }

  /** Records a task's result, its error and summary masked (a failing command may print a secret). */
  record(result: TaskResult, check: boolean): void {
    const shown: TaskResult = {
      ...result,
      ...(result.summary !== undefined ? { summary: this.masks.mask(result.summary) } : {}),
      ...(result.error !== undefined ? { error: this.masks.mask(result.error) } : {}),
    };
    this.report.tasks.push(shown);
    this.recap[shown.status]++;
    this.emit({ type: 'task-end', result: shown, check });
  }

  started(event: { play: string; role?: string; task: string; handler: boolean }): void {
    this.emit({ type: 'task-start', host: this.host, ...event });
  }

  /**
   * Shows a planned change before it is made: the secrets of its commands and diffs join the run's mask table
   * first (what the commands print, and the old content of a secret file, are masked from now on), then its
   * diff, masked, is emitted (none when `withDiff` is false) and returned.
   */
  planned(task: string, plan: Extract<Plan, { changed: true }>, withDiff = true): string | undefined {
    for (const step of plan.steps) if (step.kind === 'exec') this.masks.addSecretsIn(step.command.secrets);
    for (const fileDiff of plan.diffs) this.masks.addSecretsIn([fileDiff.before, fileDiff.after]);
    const text = withDiff
      ? plan.diffs
          .map((fileDiff) => formatDiff(fileDiff, this.masks))
          .filter(Boolean)
          .join('\n')
      : '';
    const diff = text || undefined;
    this.emit({
      type: 'task-planned',
      host: this.host,
      task,
      summary: this.masks.mask(plan.summary),
      diff,
      check: this.options.check,
    });
    return diff;
  }

  private async connect(play: CompiledPlay, started: number): Promise<Connection | undefined> {
    try {
      this.connection ??= this.open();
      return await this.connection;
    } catch (error) {
      const placed = placeError(error, { host: this.host });
      this.out = true;
      this.recap.unreachable++;
      const shown = this.masks.mask(placed.describe());
      const result: TaskResult = {
        host: this.host,
        play: play.name,
        task: 'connect',
        status: 'unreachable',
        durationMs: performance.now() - started,
        error: shown,
      };
      this.report.tasks.push(result);
      this.emit({ type: 'host-unreachable', host: this.host, error: shown });
      this.emit({ type: 'task-end', result, check: this.options.check });
      this.emit({ type: 'host-end', host: this.host, play: play.name, failed: true });
      return undefined;
    }
  }
}

/** One play on one host: its tasks, the handlers notified (in the order of their definitions) and the journal. */
class PlayOnHost {
  private readonly notified = new Set<string>();
  /** Handlers the host's journal owes from an earlier run, by name. */
  private readonly fromEarlierRun = new Set<string>();
  /** Check mode: earlier tasks planned changes that were not made. */
  private pending = false;

  constructor(
    private readonly host: HostRun,
    private readonly play: CompiledPlay,
    private readonly work: HostWork,
    private readonly connection: Connection,
    private readonly facts: FactCache,
  ) {
    // Under check, packages planned to be installed first are changes not made.
    this.pending = work.tasks.some((bound) => host.coveredInCheck.has(bound));
  }

  /** Runs, before anything else, the handlers this play's journal entries owe (in definition order). */
  async flushPending(entries: readonly PendingHandler[]): Promise<boolean> {
    for (const entry of entries) {
      if (entry.play !== this.play.name || !this.work.handlers.some((h) => h.task.name === entry.handler)) continue;
      this.fromEarlierRun.add(entry.handler);
      this.notified.add(entry.handler);
    }
    return this.fromEarlierRun.size === 0 || this.flush();
  }

  async runTasks(): Promise<boolean> {
    let index = 0;
    while (index < this.work.tasks.length) {
      const ran = await this.runTasksAt(this.taskGroupAt(index), this.work.tasks.slice(index), false);
      if (ran === false) return false;
      index += ran;
    }
    return true;
  }

  /**
   * The tasks that may go through the pipeline together from `start`: consecutive file tasks (file, template,
   * copy) outside check mode, whose changes are whole-file writes that can travel in one round trip; any other
   * task alone.
   */
  private taskGroupAt(start: number): BoundTask[] {
    const first = this.work.tasks[start];
    if (this.host.check || !first.task.op.batchable) return [first];
    const group: BoundTask[] = [];
    for (const bound of this.work.tasks.slice(start)) {
      if (!bound.task.op.batchable || group.length >= MAX_WRITE_BATCH) break;
      group.push(bound);
    }
    return group;
  }

  /** Runs the notified handlers once each, in definition order; each is struck from the journal once it ran. */
  async flush(): Promise<boolean> {
    for (const handler of this.work.handlers) {
      if (!this.notified.delete(handler.task.name)) continue;
      if ((await this.runTasksAt([handler], [handler], true)) === false) return false;
      if (!this.host.check)
        await this.connection.exec(
          clearPendingCommand(this.host.state, { play: this.play.name, handler: handler.task.name }),
        );
      this.fromEarlierRun.delete(handler.task.name);
    }
    return true;
  }

  /**
   * The one task pipeline, for a task alone or a group of file tasks ({@link taskGroupAt}): the facts of the
   * tasks left read, each task planned; before the run's first change the lock, then every fact read again and
   * the tasks planned anew; each diff shown, the handlers the changes notify written to the host's journal, the
   * changes made ({@link applyChanges}), each result recorded. A group shrinks to the tasks whose changes can
   * travel together. Returns how many of the tasks ran, or false when one failed (those after it do not run).
   */
  private async runTasksAt(
    tasks: readonly BoundTask[],
    remaining: readonly BoundTask[],
    handler: boolean,
  ): Promise<number | false> {
    const started = performance.now();
    const [first] = tasks;
    const base = (bound: BoundTask) => ({
      host: this.host.host,
      play: this.play.name,
      role: bound.role,
      task: bound.task.name,
      ...(handler ? { handler: true } : {}),
    });
    const place = (bound: BoundTask) => ({
      host: this.host.host,
      role: bound.role,
      task: bound.task.name,
      declaredAt: bound.task.declaredAt,
    });
    const taskStart = (bound: BoundTask) =>
      this.host.started({ play: this.play.name, role: bound.role, task: bound.task.name, handler });
    const failed = (bound: BoundTask, error: unknown): false => {
      this.host.record(
        { ...base(bound), durationMs: performance.now() - started, ...failure(error, place(bound)) },
        this.host.check,
      );
      return false;
    };

    if (tasks.length === 1) {
      taskStart(first);
      if (first.task.op.flushesHandlers) {
        this.host.record({ ...base(first), status: 'ok', summary: 'handlers flushed', durationMs: 0 }, this.host.check);
        return (await this.flush()) && 1;
      }
      if (this.host.coveredInCheck.has(first)) {
        this.host.record(
          { ...base(first), status: 'ok', summary: `installed first (${PACKAGES_FIRST_TASK})`, durationMs: 0 },
          true,
        );
        return 1;
      }
    }

    let planned: { bound: BoundTask; plan: Plan }[];
    try {
      planned = await this.planTogether(tasks, remaining);
    } catch (error) {
      return failed(first, error);
    }
    // A group's tasks start where they are shown; a task alone started before its facts were read.
    const changes = planned.filter(
      (p): p is { bound: BoundTask; plan: Extract<Plan, { changed: true }> } => p.plan.changed,
    );
    const diffs = new Map<BoundTask, string | undefined>();
    for (const { bound, plan } of changes) {
      if (tasks.length > 1) taskStart(bound);
      diffs.set(bound, this.host.planned(bound.task.name, plan));
    }
    const owed = (bound: BoundTask) => handler && this.fromEarlierRun.has(bound.task.name);
    const ok = (bound: BoundTask, plan: Extract<Plan, { changed: false }>) => {
      if (tasks.length > 1) taskStart(bound);
      const summary = owed(bound) ? `${plan.reason} (pending from an earlier run)` : plan.reason;
      this.host.record(
        { ...base(bound), status: 'ok', summary, durationMs: (performance.now() - started) / planned.length },
        this.host.check,
      );
    };
    const changed = (bound: BoundTask, plan: Extract<Plan, { changed: true }>) => {
      for (const name of bound.task.notify) this.notified.add(name);
      const summary = owed(bound) ? `${plan.summary} (pending from an earlier run)` : plan.summary;
      const diff = diffs.get(bound);
      this.host.record(
        {
          ...base(bound),
          status: 'changed',
          summary,
          ...(diff ? { diff } : {}),
          durationMs: (performance.now() - started) / planned.length,
        },
        this.host.check,
      );
    };

    if (this.host.check) {
      if (changes.length) this.pending = true;
      for (const { bound, plan } of planned) plan.changed ? changed(bound, plan) : ok(bound, plan);
      return planned.length;
    }

    // Written before the changes: a run that fails or dies after them still owes the handlers.
    const owedNow: PendingHandler[] = [];
    for (const { bound } of changes)
      for (const name of this.notifiable(bound))
        if (!this.notified.has(name) && !owedNow.some((o) => o.handler === name))
          owedNow.push({ play: this.play.name, handler: name });
    let applied: AppliedChanges;
    try {
      if (owedNow.length) await this.connection.exec(recordPendingCommand(this.host.state, owedNow));
      applied = await applyChanges(
        this.connection,
        changes.map(({ bound, plan }) => ({ steps: plan.steps, place: place(bound) })),
      );
    } catch (error) {
      applied = { done: 0, error };
    } finally {
      // What the changes touched is read again (facts naming no path are forgotten by any change): nothing when
      // there were none, so a run that changes nothing reads every fact once.
      if (changes.length) this.facts.invalidate(affectedPaths(changes.flatMap(({ plan }) => plan.steps)));
    }
    let changesDone = 0;
    for (const { bound, plan } of planned) {
      if (!plan.changed) {
        ok(bound, plan);
        continue;
      }
      if (changesDone < applied.done) {
        changesDone++;
        changed(bound, plan);
        continue;
      }
      // A change refused before it was made (validate said no) owes nothing, nor do the ones after it.
      if (applied.error instanceof CommandError && applied.error.hostUnchanged) {
        for (const entry of owedNow)
          if (!this.notified.has(entry.handler))
            await this.connection.exec(clearPendingCommand(this.host.state, entry));
      }
      return failed(bound, applied.error);
    }
    return planned.length;
  }

  /**
   * Plans the tasks side by side from the same facts (read for `remaining` first), taking the lock before the
   * run's first change and planning anew under it. Of a group, keeps the longest run of tasks whose changes can
   * travel together: it ends before a task whose plan failed, a write to a path written before it, and at a change
   * that is not whole-file writes (after it when it comes first, before it otherwise). Throws what the first task's plan threw.
   */
  private async planTogether(
    tasks: readonly BoundTask[],
    remaining: readonly BoundTask[],
  ): Promise<{ bound: BoundTask; plan: Plan }[]> {
    await this.facts.gather(probesOf(remaining));
    let plans = await Promise.allSettled(tasks.map((bound) => this.plan(bound)));
    const changes = plans.some((p) => p.status === 'fulfilled' && p.value.changed);
    if (changes && !this.host.check && !this.host.hasLock) {
      // Facts read before the lock may be another run's half-done work: read again, planned anew.
      await this.host.locked(this.connection);
      this.facts.invalidate(undefined);
      await this.facts.gather(probesOf(remaining));
      plans = await Promise.allSettled(tasks.map((bound) => this.plan(bound)));
    }
    const kept: { bound: BoundTask; plan: Plan }[] = [];
    const written = new Set<string>();
    for (const [index, settled] of plans.entries()) {
      if (settled.status === 'rejected') {
        if (index === 0) throw settled.reason;
        break;
      }
      const plan = settled.value;
      const writesOnly = !plan.changed || plan.steps.every((s) => s.kind === 'write');
      if (index > 0 && (!writesOnly || (plan.changed && plan.steps.some((s) => written.has((s as WriteStep).path)))))
        break;
      kept.push({ bound: tasks[index], plan });
      // A change that runs commands may change anything: the plans after it are stale.
      if (!writesOnly) break;
      if (plan.changed) for (const step of plan.steps as WriteStep[]) written.add(step.path);
    }
    return kept;
  }

  /** The handlers a task notifies that this play defines. */
  private notifiable(bound: BoundTask): string[] {
    return bound.task.notify.filter((name) => this.work.handlers.some((h) => h.task.name === name));
  }

  private plan(bound: BoundTask): Promise<Plan> {
    return bound.task.op.plan({
      host: this.host.host,
      vars: bound.vars,
      roleDir: bound.roleDir,
      facts: this.facts,
      earlierChangesPending: this.pending,
      prepared: bound.prepared,
    });
  }
}
