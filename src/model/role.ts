import type { Static, TObject } from '@sinclair/typebox';
import { Type } from '@sinclair/typebox';
import type { Task } from '../ops/op.ts';
import type { InventorySpec } from './inventory.ts';
import type { Platform } from './platform.ts';

/** What a role's task and handler lists are built from: the host's merged, validated vars, and its release. */
export interface RoleContext<V> {
  readonly host: string;
  readonly vars: V;
  /** The whole inventory, e.g. to find a peer's address. */
  readonly inventory: InventorySpec;
  /**
   * The release these tasks are for: the lists are built, before any connection, once for each release the play's
   * roles declare in `platforms`, and the host runs the one matching what its `/etc/os-release` says. Undefined
   * when no role of the play declares platforms (the tasks are then the same on every release). A role that
   * declares `platforms` always gets one of them (see {@link PlatformRoleContext}).
   */
  readonly platform?: Platform;
}

/** The context of a role that declares `platforms`: the release is always known, and one of them. */
export interface PlatformRoleContext<V> extends RoleContext<V> {
  readonly platform: Platform;
}

/** What every role spec has, whatever its tasks are built from. */
interface RoleSpecBase<S extends TObject> {
  readonly name: string;
  /**
   * The role's folder, which holds its `templates/` and `files/`: `import.meta.dirname` in the role's
   * `index.ts`. It is given, never guessed, so the role works from a checkout, through a symlink and from
   * `node_modules` alike. A role without templates or files may leave it out.
   */
  readonly dir?: string;
  /** The role's vars as a TypeBox object schema: one declaration gives the JSON Schema and the TS type. */
  readonly schema?: S;
  readonly defaults?: Partial<Static<S>>;
  /**
   * The releases the role supports, e.g. `[DEBIAN_12, DEBIAN_13]`. Its tasks are built for each of them before
   * any connection; a host running another release fails before any change. Left out: any release, and the
   * tasks do not depend on it.
   */
  readonly platforms?: readonly Platform[];
}

/** What a user writes in `roles/<name>/index.ts`. */
export interface RoleSpec<S extends TObject> extends RoleSpecBase<S> {
  /**
   * Checks across vars that the schema cannot express (e.g. "the VIP lies in the LAN"), each with its var's path.
   * Called once per release the tasks are built for, with that release (undefined as in {@link RoleContext}).
   */
  check?(vars: Static<S>, platform?: Platform): readonly { path: string; message: string }[];
  // Method syntax on purpose: a role with a specific vars type must still fit where any role is accepted.
  tasks(context: RoleContext<Static<S>>): readonly Task[];
  /** Tasks run once at the end of the play when notified by name. */
  handlers?(context: RoleContext<Static<S>>): readonly Task[];
}

/** A role spec that declares the releases it supports: its tasks, handlers and checks always know the release. */
export interface PlatformRoleSpec<S extends TObject> extends RoleSpecBase<S> {
  readonly platforms: readonly Platform[];
  check?(vars: Static<S>, platform: Platform): readonly { path: string; message: string }[];
  tasks(context: PlatformRoleContext<Static<S>>): readonly Task[];
  handlers?(context: PlatformRoleContext<Static<S>>): readonly Task[];
}

/** A declared role: its spec, with an empty schema when it has no vars. */
export interface Role<S extends TObject = TObject> extends RoleSpec<S> {
  readonly schema: S;
}

/**
 * Declares a role: a vars schema with defaults, tasks, and handlers; templates live in `templates/` beside it.
 * With `platforms`, the tasks are built for each release listed, and `platform` says which.
 *
 * @example
 * export default defineRole({
 *   name: 'motd',
 *   dir: import.meta.dirname,
 *   schema: Type.Object({ message: Type.String() }),
 *   defaults: { message: 'Welcome' },
 *   tasks: ({ vars }) => [file({ path: '/etc/motd', content: `${vars.message}\n` })],
 * });
 *
 * export const php = defineRole({
 *   name: 'php',
 *   platforms: [DEBIAN_12, DEBIAN_13],
 *   tasks: ({ platform }) => [packages({ names: [platform.major >= 13 ? 'php8.4-fpm' : 'php8.2-fpm'] })],
 * });
 */
export function defineRole<S extends TObject>(spec: PlatformRoleSpec<S>): Role<S>;
export function defineRole<S extends TObject>(spec: RoleSpec<S>): Role<S>;
export function defineRole<S extends TObject>(spec: RoleSpec<S> | PlatformRoleSpec<S>): Role<S> {
  // A platform role's context always holds one of its platforms (the compiler sees to it), so its spec is a RoleSpec.
  return { ...(spec as RoleSpec<S>), schema: spec.schema ?? (Type.Object({}) as unknown as S) };
}
