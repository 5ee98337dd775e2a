import type { TObject } from '@sinclair/typebox';
import { callerFrame, type Task } from '../ops/op.ts';
import type { HealthCheck } from './health.ts';
import type { Inventory } from './inventory.ts';
import type { Role, RoleContext } from './role.ts';

/** A role as a play uses it: the role alone, or with params (highest precedence) and tags. */
export type RoleUse =
  | Role<TObject>
  | { readonly role: Role<TObject>; readonly vars?: Readonly<Record<string, unknown>>; readonly tags?: readonly string[] };

/** A list of tasks, or a function of the host's vars that builds one. */
export type TaskList = readonly Task[] | ((context: RoleContext<Record<string, unknown>>) => readonly Task[]);

/** One play: which hosts, how many at a time, and the roles and tasks to run on them. */
export interface Play {
  readonly name?: string;
  /** Host names, group names or patterns (`all`, `mail:!backup`, `web*`). */
  readonly hosts: string | readonly string[];
  /** Run on this many hosts at a time, in the order `hosts` lists them (e.g. backup, then primary). */
  readonly serial?: number;
  /** Play params: the highest precedence of vars. */
  readonly vars?: Readonly<Record<string, unknown>>;
  readonly roles?: readonly RoleUse[];
  /** Tasks after the roles'. */
  readonly tasks?: TaskList;
  readonly handlers?: TaskList;
  readonly tags?: readonly string[];
}

/** What a user writes in `playbooks/<name>.ts`. */
export interface PlaybookSpec {
  readonly name?: string;
  readonly inventory: Inventory;
  readonly plays: readonly Play[];
  /** What `play verify` checks on the deployed hosts (read-only). */
  readonly verify?: HealthCheck;
}

/** A declared playbook, remembering its file. */
export interface Playbook extends PlaybookSpec {
  readonly source?: string;
}

/**
 * Declares a playbook: its inventory and its plays.
 *
 * @example
 * export default definePlaybook({
 *   inventory,
 *   plays: [{ hosts: ['primary', 'backup'], serial: 1, roles: [dns, { role: postfix, vars: { relayHost: '' } }] }],
 * });
 */
export function definePlaybook(spec: PlaybookSpec): Playbook {
  return { ...spec, source: callerFrame()?.file };
}
