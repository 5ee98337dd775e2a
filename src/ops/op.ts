import { fileURLToPath } from 'node:url';
import { basename, dirname, relative } from 'node:path';
import type { ShellCommand } from '../connection/sh.ts';
import type { Probe } from '../facts/probe.ts';
import type { TemplateRenderer } from '../render/template.ts';
import type { Secret } from '../secret.ts';

/** A file change shown to the user: contents before and after, and attribute changes. */
export interface FileDiff {
  readonly path: string;
  /** Text before (empty for a new file); `undefined` when only attributes change. */
  readonly before?: string | Secret;
  readonly after?: string | Secret;
  /** e.g. `{ name: 'mode', before: '0644', after: '0640' }`. */
  readonly attributes?: readonly { readonly name: string; readonly before: string; readonly after: string }[];
}

/** Run a command on the host; a non-zero exit fails the task. */
export interface ExecStep {
  readonly kind: 'exec';
  readonly command: ShellCommand;
  readonly stdin?: string | Buffer;
  /**
   * The only paths the command changes (and what lies under them), when the op knows: then only facts about
   * them are read again. Without it every fact of the host is read again after the step.
   */
  readonly affects?: readonly string[];
  /**
   * What the step does, for its failure: `<failure> (exit N)` and the end of stderr, in place of the command
   * itself (a long script, such as a config set's, that would bury the error).
   */
  readonly failure?: string;
  /**
   * The exit codes of the command after which the host is as it was before the step (e.g. a config set its check
   * refused): a handler the task notified is then owed nothing. Any other failure may have changed the host.
   */
  readonly unchangedExitCodes?: readonly number[];
}

/**
 * Write a file atomically: a temp file in the same directory, attributes set, `validate` run on it,
 * the old file kept when `backup` is set, then renamed over the path.
 */
export interface WriteStep {
  readonly kind: 'write';
  readonly path: string;
  readonly content: Buffer;
  readonly mode?: string;
  readonly owner?: string;
  readonly group?: string;
  /** Builds the checker's command from the temp file's path; non-zero refuses the new content. */
  readonly validate?: (tempPath: string) => ShellCommand;
  readonly backup?: boolean;
}

/**
 * Reboot the host and wait until it is back: a new boot (its boot id changed) that has finished starting
 * (`systemctl is-system-running --wait`). The engine then connects anew, reads every fact again, takes the host's
 * run lock again before the next change, and reads the host's release again before the next play.
 */
export interface RebootStep {
  readonly kind: 'reboot';
  /** How long the host may take to go down, come back and finish booting. */
  readonly timeoutSeconds: number;
}

/** One thing the engine does to a host to carry out a plan. */
export type Step = ExecStep | WriteStep | RebootStep;

/** The paths a list of steps changes, or `undefined` when some step may change anything (a reboot does). */
export function affectedPaths(steps: readonly Step[]): string[] | undefined {
  const paths: string[] = [];
  for (const step of steps) {
    if (step.kind === 'write') paths.push(step.path);
    else if (step.kind === 'exec' && step.affects) paths.push(...step.affects);
    else return undefined;
  }
  return paths;
}

/** The verdict of an op's planner: the host is already right (and why), or what to change. */
export type Plan =
  | { readonly changed: false; readonly reason: string }
  | {
      readonly changed: true;
      /** What the change does, in the imperative: "create /etc/motd", "install bind9". */
      readonly summary: string;
      readonly steps: readonly Step[];
      readonly diffs: readonly FileDiff[];
    };

/** Reads facts of the host a task runs on; the engine has usually gathered them already. */
export interface FactReader {
  get<T>(probe: Probe<T>): Promise<T>;
}

/** What an op knows when it prepares (on the controller, before any host is touched). */
export interface PrepareContext {
  readonly host: string;
  readonly vars: Readonly<Record<string, unknown>>;
  /** The folder of the role the task belongs to (for `templates/` and `files/`), if any. */
  readonly roleDir?: string;
  /** The run's template renderer (each template compiled once per run); without it, a template compiles anew. */
  readonly templates?: TemplateRenderer;
}

/**
 * What an op knows when it plans; `prepared` is what its `prepare` returned for this host (undefined when it has
 * none, or when a caller plans without preparing: an op then does that work in its plan).
 */
export interface PlanContext<Prepared = unknown> extends PrepareContext {
  readonly facts: FactReader;
  readonly prepared?: Prepared;
  /**
   * True when earlier tasks planned changes that were not applied (check mode): facts may lag behind what
   * the host would be, so a missing prerequisite (a unit a package would install) is a change, not an error.
   */
  readonly earlierChangesPending: boolean;
}

/**
 * An operation: a desired state of one thing on a host. It prepares on the controller (render, read files),
 * names the probes it needs, and plans from their answers. It never changes a host itself: the engine
 * applies its plan's steps.
 */
export interface Op<Prepared = unknown> {
  /** The kind of thing, e.g. `file`, `package`. */
  readonly kind: string;
  /** A default task name, e.g. `file /etc/motd`. */
  readonly title: string;
  /**
   * Work done for one host before any host is touched (render a template, read a file); errors here are invalid
   * input (exit 2). What it returns is given to `plan` on that host as `context.prepared`.
   */
  prepare?(context: PrepareContext): Prepared | Promise<Prepared>;
  /** The probes the plan will read, so the engine can gather them with other tasks' in one round trip. */
  probes(): readonly Probe<unknown>[];
  plan(context: PlanContext<Prepared>): Promise<Plan>;
  /**
   * Debian packages this op wants installed and nothing more (a `packages` op with state present): what a play
   * with `installPackagesFirst` installs for it, together with the other tasks' packages, before its batches.
   */
  readonly packageWant?: PackageWant;
  /**
   * The op's changes are whole-file writes (write steps) that may travel in one write batch with the next tasks'
   * (`file`, `template`, `copy`): planned side by side, then written in one round trip. A plan that turns out to
   * need another kind of step simply ends the batch.
   */
  readonly batchable?: boolean;
  /** The task runs the handlers notified so far, at its place in the list (`flushHandlers()`). */
  readonly flushesHandlers?: boolean;
}

/**
 * An op whose plan starts from one fact: it names that probe once, and `plan` is given the probe's answer (as
 * pyinfra's operations are given their facts). Most ops are made this way (group, user, service, directory, link).
 *
 * @example
 * const op = opOnFact({
 *   kind: 'group',
 *   title: 'group vmail',
 *   fact: groupProbe('vmail'),
 *   plan: (current) => (current ? { changed: false, reason: 'group vmail exists' } : createVmail),
 * });
 */
export function opOnFact<T, Prepared = unknown>(
  spec: Omit<Op<Prepared>, 'probes' | 'plan'> & {
    readonly fact: Probe<T>;
    plan(current: T, context: PlanContext<Prepared>): Plan | Promise<Plan>;
  },
): Op<Prepared> {
  const { fact, plan, ...op } = spec;
  return {
    ...op,
    probes: () => [fact],
    plan: async (context) => plan(await context.facts.get(fact), context),
  };
}

/** What a packages op wants installed: the names, and how (debconf answers first, apt's cache, recommends). */
export interface PackageWant {
  readonly names: readonly string[];
  /** Lines for `debconf-set-selections`, fed through standard input before the install. */
  readonly preseed: readonly string[];
  readonly updateCache: boolean;
  readonly installRecommends: boolean;
}

/** Options every task takes besides its op's own. */
export interface TaskOptions {
  /** Shown in the output; defaults to the op's title. */
  readonly name?: string;
  /** Handlers (by name) to run at the end of the play when this task changes something. */
  readonly notify?: string | readonly string[];
  /** Tags for `--tags`. */
  readonly tags?: readonly string[];
  /**
   * For a helper that builds tasks for others (a custom op's function, e.g. `zoneFile`): its own file
   * (`import.meta.url`), whose lines are skipped when the task's declaring line is looked up, so that errors and
   * `--list-tasks` name the role that called the helper.
   */
  readonly helperFile?: string;
}

/** An op placed in a playbook or role, with a name, notifications, tags and the line that declared it. */
export interface Task {
  readonly name: string;
  readonly op: Op;
  readonly notify: readonly string[];
  readonly tags: readonly string[];
  /** `file:line` of the playbook or role source that declared the task. */
  readonly declaredAt?: string;
}

/** play's engine: the nearest folder named `src` above this module (`src/`, or `dist/src/` when built and bundled). */
const libraryDir = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (basename(dir) !== 'src' && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
})();

/** A place in a source file: absolute path and line. */
export interface SourceLocation {
  readonly file: string;
  readonly line: number;
}

/**
 * The first stack frame outside play's engine (its `src/`, or `dist/src/` when built) and outside `skipFile`:
 * the role or playbook line that declared a task. Roles installed under `node_modules` are code like any other.
 */
export function callerFrame(skipFile?: string): SourceLocation | undefined {
  const skip = skipFile?.startsWith('file:') ? fileURLToPath(skipFile) : skipFile;
  const stack = new Error().stack?.split('\n').slice(1) ?? [];
  for (const frame of stack) {
    const match = /\(?((?:file:\/\/)?\/[^()]+?):(\d+):\d+\)?$/.exec(frame.trim());
    if (!match) continue;
    const file = match[1].startsWith('file://') ? fileURLToPath(match[1]) : match[1];
    if (file.startsWith(`${libraryDir}/`) || file === skip) continue;
    return { file, line: Number(match[2]) };
  }
  return undefined;
}

/** The caller's place as `relative/path.ts:line`, for messages; lines of `skipFile` do not count. */
export function callerLocation(skipFile?: string): string | undefined {
  const frame = callerFrame(skipFile);
  return frame ? `${relative(process.cwd(), frame.file) || frame.file}:${frame.line}` : undefined;
}

/**
 * Wraps an op into a task: the op plus the options every task takes. The declaring line is the first stack
 * frame outside play's engine (and outside `options.helperFile`). This is how a custom op becomes usable in a
 * role's task list.
 *
 * @example
 * // A custom op: the probes it reads, and a plan built from their answers (here by planFile).
 * export function hostsEntry(params: { address: string; name: string } & TaskOptions): Task {
 *   const path = '/etc/hosts.d/' + params.name;
 *   const op: Op = {
 *     kind: 'hosts-entry',
 *     title: `hosts entry ${params.name}`,
 *     probes: () => [pathProbe(path)],
 *     plan: (context) => planFile({ path, content: Buffer.from(`${params.address} ${params.name}\n`), mode: '0644' }, context),
 *   };
 *   return task(op, { ...params, helperFile: import.meta.url });
 * }
 */
export function task(op: Op, options: TaskOptions = {}): Task {
  const notify =
    options.notify === undefined ? [] : typeof options.notify === 'string' ? [options.notify] : [...options.notify];
  return {
    name: options.name ?? op.title,
    op,
    notify,
    tags: [...(options.tags ?? [])],
    declaredAt: callerLocation(options.helperFile),
  };
}
