import type { Static, TObject } from '@sinclair/typebox';
import type { Role } from './role.ts';

/**
 * The params a play may give a role: any of its vars, typed by its schema. They have the highest precedence.
 *
 * @example
 * const params: RoleParams<typeof apache.schema> = { manageCertificate: false };
 */
export type RoleParams<S extends TObject> = Partial<Static<S>>;

/**
 * A role as a play uses it: the role alone, or with params (typed by the role's schema) and tags.
 *
 * @example
 * const uses: RoleUse[] = [dns, { role: apache, vars: { manageCertificate: false }, tags: ['web'] }];
 */
export type RoleUse<S extends TObject = TObject> =
  | Role<S>
  | { readonly role: Role<S>; readonly vars?: RoleParams<S>; readonly tags?: readonly string[] };

/** One use per role schema; distributes over a union of schemas, so each role keeps its own params. */
type RoleUseFor<S> = S extends TObject ? RoleUse<S> : RoleUse;

/**
 * A play's `roles` list, typed per entry: `R` holds each entry's schema, which TypeScript infers from the list
 * written in `definePlaybook`, so `{ role: apache, vars: { … } }` is checked against apache's schema alone.
 *
 * @example
 * const roles: RoleUses<[typeof dns.schema, typeof apache.schema]> = [dns, { role: apache, vars: { manageCertificate: false } }];
 */
export type RoleUses<R = readonly TObject[]> = { readonly [K in keyof R]: RoleUseFor<R[K]> };

/**
 * A role with params (and tags), checked against the role's schema wherever it is written, e.g. in a list
 * built apart from `definePlaybook`. A key the role does not have, or a value of the wrong type, fails to compile.
 *
 * @example
 * roles: [dns, use(apache, { manageCertificate: false }, { tags: ['web'] })]
 */
export function use<S extends TObject>(
  role: Role<S>,
  vars: RoleParams<S>,
  options: { readonly tags?: readonly string[] } = {},
): { readonly role: Role<S>; readonly vars: RoleParams<S>; readonly tags?: readonly string[] } {
  return options.tags === undefined ? { role, vars } : { role, vars, tags: options.tags };
}
