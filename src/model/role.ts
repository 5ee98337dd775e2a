import type { Static, TObject } from '@sinclair/typebox';
import { Type } from '@sinclair/typebox';
import type { Task } from '../ops/op.ts';
import type { InventorySpec } from './inventory.ts';

/** What a role's task and handler lists are built from: the host's merged, validated vars. */
export interface RoleContext<V> {
  readonly host: string;
  readonly vars: V;
  /** The whole inventory, e.g. to find a peer's address. */
  readonly inventory: InventorySpec;
}

/** What a user writes in `roles/<name>/index.ts`. */
export interface RoleSpec<S extends TObject> {
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
  /** Checks across vars that the schema cannot express (e.g. "the VIP lies in the LAN"), each with its var's path. */
  check?(vars: Static<S>): readonly { path: string; message: string }[];
  // Method syntax on purpose: a role with a specific vars type must still fit where any role is accepted.
  tasks(context: RoleContext<Static<S>>): readonly Task[];
  /** Tasks run once at the end of the play when notified by name. */
  handlers?(context: RoleContext<Static<S>>): readonly Task[];
}

/** A declared role: its spec, with an empty schema when it has no vars. */
export interface Role<S extends TObject = TObject> extends RoleSpec<S> {
  readonly schema: S;
}

/**
 * Declares a role: a vars schema with defaults, tasks, and handlers; templates live in `templates/` beside it.
 *
 * @example
 * export default defineRole({
 *   name: 'motd',
 *   dir: import.meta.dirname,
 *   schema: Type.Object({ message: Type.String() }),
 *   defaults: { message: 'Welcome' },
 *   tasks: ({ vars }) => [file({ path: '/etc/motd', content: `${vars.message}\n` })],
 * });
 */
export function defineRole<S extends TObject>(spec: RoleSpec<S>): Role<S> {
  return { ...spec, schema: spec.schema ?? (Type.Object({}) as unknown as S) };
}
