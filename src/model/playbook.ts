import type { TObject } from '@sinclair/typebox';
import type { ShellCommand } from '../connection/sh.ts';
import { callerFrame, type Task } from '../ops/op.ts';
import type { HealthCheck } from './health.ts';
import type { Inventory } from './inventory.ts';
import type { RoleContext } from './role.ts';
import type { RoleUses } from './role-use.ts';

export type { RoleUse } from './role-use.ts';

/** A list of tasks, or a function of the host's vars that builds one. */
export type TaskList = readonly Task[] | ((context: RoleContext<Record<string, unknown>>) => readonly Task[]);

/**
 * One play: which hosts, how many at a time, and the roles and tasks to run on them. `R` holds the schema of each
 * entry of `roles` (inferred by {@link definePlaybook}), so that each role's params are typed by its own schema.
 * A play declared apart as a plain `Play` no longer knows its roles: give such a play's params with `use()`.
 *
 * @example
 * const mail: Play = { name: 'mail servers', hosts: 'mail', serial: 1, roles: [dns, use(apache, { manageCertificate: false })] };
 */
export interface Play<R = readonly TObject[]> {
  readonly name?: string;
  /** Host names, group names or patterns (`all`, `mail:!backup`, `web*`). */
  readonly hosts: string | readonly string[];
  /** Run on this many hosts at a time, in the order `hosts` lists them (e.g. backup, then primary). */
  readonly serial?: number;
  /**
   * A host of this play that fails (or cannot be reached) stops the whole run once its batch ends: no later batch
   * and no later play runs, on any host (Ansible's `any_errors_fatal`). For a play whose later steps must not go on
   * without every server, such as an upgrade that moves one server after the other.
   */
  readonly anyErrorsFatal?: boolean;
  /**
   * Whether the playbook's health check (its `verify`, limited to the batch's hosts) runs after each batch of this
   * play that changed something, stopping the run when it fails (default true). False for a play that leaves its
   * hosts out of service on purpose, for a later play to bring back, such as an upgrade's move to the next release.
   */
  readonly healthGate?: boolean;
  /**
   * Before its first batch, the playbook's health check (`verify`, every row, limited to the play's hosts) must pass,
   * also under `--check`: a failing check stops the run (exit 1) before the play touches anything. For a play that
   * must start from a healthy system, such as an upgrade. With `unless`, the check is left out when that read-only
   * command succeeds on any of the play's hosts (an upgrade already under way, which a run that died left behind).
   */
  readonly checkHealthFirst?: boolean | { readonly unless: ShellCommand };
  /**
   * Before the first batch, every host of the play installs the packages its tasks in this play want (their
   * `packages` tasks that want them present and notify no handler) in one `apt-get install`, all hosts at once
   * (up to `--forks`) whatever `serial` says; those tasks then find them installed. For plays whose roles need
   * nothing done before their packages arrive (a package's first start with Debian's defaults harms nothing).
   * Under `--check` it is shown as one planned change.
   */
  readonly installPackagesFirst?: boolean;
  /** Play params: the highest precedence of vars. */
  readonly vars?: Readonly<Record<string, unknown>>;
  /** The roles in order: a role alone, or `{ role, vars, tags }` whose `vars` the role's schema types. */
  readonly roles?: RoleUses<R>;
  /** Tasks after the roles'. */
  readonly tasks?: TaskList;
  readonly handlers?: TaskList;
  readonly tags?: readonly string[];
}

/**
 * What a user writes in `playbooks/<name>.ts`. `P` holds, per play, the schemas of its roles (inferred).
 *
 * @example
 * const spec: PlaybookSpec = { inventory, plays: [{ hosts: 'all', roles: [motd] }] };
 */
export interface PlaybookSpec<P = readonly (readonly TObject[])[]> {
  readonly name?: string;
  readonly inventory: Inventory;
  readonly plays: { readonly [K in keyof P]: Play<P[K]> };
  /** What `play verify` checks on the deployed hosts (read-only). */
  readonly verify?: HealthCheck;
  /**
   * The vars this playbook takes on the command line (`-e NAME=VALUE`, as Ansible's extra vars): each value is
   * converted to the schema's type and checked before any host is touched (exit 2 otherwise), then given to every
   * play's roles and task lists with the highest precedence. A playbook without it refuses `-e`.
   */
  readonly extraVars?: TObject;
}

/** A declared playbook, remembering its file. */
export interface Playbook extends PlaybookSpec {
  readonly source?: string;
}

/**
 * Declares a playbook: its inventory and its plays. Each role's params are checked against that role's schema:
 * TypeScript infers the roles of every play, so a var the role does not have, or a value of the wrong type, fails
 * to compile (and the run refuses an unknown var too, for playbooks in plain JavaScript).
 *
 * @example
 * export default definePlaybook({
 *   inventory,
 *   plays: [{ hosts: ['primary', 'backup'], serial: 1, roles: [dns, { role: postfix, vars: { relayHost: '' } }] }],
 * });
 */
export function definePlaybook<P>(spec: PlaybookSpec<P>): Playbook {
  return { ...(spec as PlaybookSpec), source: callerFrame()?.file };
}
