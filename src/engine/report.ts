/** How a task ended on a host. */
export type TaskStatus = 'ok' | 'changed' | 'failed' | 'skipped' | 'unreachable';

/** One task's outcome on one host, as the JSON report lists it. */
export interface TaskResult {
  readonly host: string;
  readonly play: string;
  readonly role?: string;
  readonly task: string;
  readonly status: TaskStatus;
  /** `changed`: what was (or would be) done; `ok`: why nothing was needed. */
  readonly summary?: string;
  /** Unified diff text of the files the task changes, secrets masked. */
  readonly diff?: string;
  readonly durationMs: number;
  readonly error?: string;
  /** True for a handler. */
  readonly handler?: boolean;
}

/** One host's counts, like a line of Ansible's PLAY RECAP. */
export interface HostRecap {
  ok: number;
  changed: number;
  failed: number;
  skipped: number;
  unreachable: number;
  /** Commands sent to the host (round trips), probes included. */
  commands: number;
  durationMs: number;
}

/**
 * What the health gate found after a serial batch that changed something (the failing checks of its hosts), or before
 * a play with `checkHealthFirst` (the failing checks of all its hosts).
 */
export interface GateResult {
  readonly hosts: readonly string[];
  /** Set for the check before a play with `checkHealthFirst`: that play's name (the gate ran before it, not after a batch). */
  readonly before?: string;
  readonly failed: readonly { readonly check: string; readonly host?: string; readonly detail: string }[];
  /** The hosts of later batches, left untouched because the gate failed. */
  readonly skipped: readonly string[];
}

/** Why a run stopped early: a host of a play with `anyErrorsFatal` failed. */
export interface RunStop {
  readonly play: string;
  /** The play's hosts that failed or could not be reached. */
  readonly failed: readonly string[];
  /** The hosts of later batches and plays, left untouched. */
  readonly skipped: readonly string[];
}

/** Everything a run did: per-host recaps and every task result. */
export interface RunReport {
  readonly check: boolean;
  readonly hosts: Record<string, HostRecap>;
  readonly tasks: TaskResult[];
  /** The health gates run between batches, in order. */
  readonly gates: GateResult[];
  /** Set when a play with `anyErrorsFatal` stopped the run. */
  stop?: RunStop;
  durationMs: number;
}

/** A new, empty recap. */
export function emptyRecap(): HostRecap {
  return { ok: 0, changed: 0, failed: 0, skipped: 0, unreachable: 0, commands: 0, durationMs: 0 };
}

/** The documented exit codes. */
export const ExitCode = {
  /** Every host succeeded (with --detailed-exitcode under --check: and nothing would change). */
  ok: 0,
  /** A task failed or a host was unreachable. */
  failed: 1,
  /** Invalid input (usage, playbook, inventory, role vars, template), found before any host was touched. */
  invalid: 2,
  /** --check --detailed-exitcode: something would change. */
  wouldChange: 3,
} as const;

/**
 * The exit code of a finished run.
 *
 * @example
 * exitCodeOf(report, { detailed: true }) // 3 when --check found changes
 */
export function exitCodeOf(report: RunReport, options: { detailed?: boolean } = {}): number {
  const recaps = Object.values(report.hosts);
  if (recaps.some((r) => r.failed > 0 || r.unreachable > 0)) return ExitCode.failed;
  if (report.gates.some((g) => g.failed.length > 0)) return ExitCode.failed;
  if (options.detailed && report.check && recaps.some((r) => r.changed > 0)) return ExitCode.wouldChange;
  return ExitCode.ok;
}
