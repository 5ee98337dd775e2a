import { isIP } from 'node:net';
import { Type, type Static } from '@sinclair/typebox';
import { ValidationError } from '../errors.ts';
import { callerFrame } from '../ops/op.ts';
import { validateAgainst } from './schema.ts';

const Vars = Type.Record(Type.String(), Type.Unknown());

const HostSchema = Type.Object(
  {
    address: Type.String({ minLength: 1 }),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
    user: Type.Optional(Type.String({ minLength: 1 })),
    identityFile: Type.Optional(Type.String({ minLength: 1 })),
    become: Type.Optional(Type.Boolean()),
    connection: Type.Optional(Type.Union([Type.Literal('ssh'), Type.Literal('local')])),
    vars: Type.Optional(Vars),
  },
  { additionalProperties: false },
);

const InventorySchema = Type.Object(
  {
    hosts: Type.Record(Type.String({ pattern: '^[A-Za-z0-9_.-]+$' }), HostSchema),
    groups: Type.Optional(
      Type.Record(
        Type.String({ pattern: '^[A-Za-z0-9_.-]+$' }),
        Type.Object({ hosts: Type.Array(Type.String()), vars: Type.Optional(Vars) }, { additionalProperties: false }),
      ),
    ),
    vars: Type.Optional(Vars),
    ssh: Type.Optional(
      Type.Object(
        {
          user: Type.Optional(Type.String()),
          port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
          identityFile: Type.Optional(Type.String()),
          knownHostsFile: Type.Optional(Type.String()),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

/** One host of an inventory: where it is, how to log in, and its own vars. */
export type HostSpec = Static<typeof HostSchema>;

/** What a user writes in `inventory/<name>.ts`. */
export type InventorySpec = Static<typeof InventorySchema>;

/** A validated inventory, remembering the file that defined it. */
export interface Inventory extends InventorySpec {
  /** The file that called {@link defineInventory} (for messages). */
  readonly source?: string;
}

/**
 * Declares an inventory: hosts, groups of hosts, and vars for all, per group and per host.
 *
 * @example
 * export default defineInventory({
 *   hosts: { primary: { address: '198.18.30.1' }, backup: { address: '198.18.30.2' } },
 *   groups: { mail: { hosts: ['primary', 'backup'], vars: { domain: 'smknh.sch.id' } } },
 *   ssh: { user: 'root', identityFile: 'test/lab/.state/id_ed25519' },
 * });
 */
export function defineInventory(spec: InventorySpec): Inventory {
  return { ...spec, source: callerFrame()?.file };
}

/**
 * Checks an inventory's shape and cross-references; every problem names the file, the host and the path.
 *
 * @example
 * checkInventory(inventory) // throws ValidationError
 */
export function checkInventory(inventory: Inventory, file = inventory.source ?? 'inventory'): void {
  const { source: _source, ...spec } = inventory as Inventory & { source?: string };
  const issues = validateAgainst(InventorySchema, spec, '');
  const hostNames = new Set(Object.keys(spec.hosts ?? {}));
  for (const [host, definition] of Object.entries(spec.hosts ?? {})) {
    if (typeof definition?.address === 'string' && definition.address !== '' && !isHostAddress(definition.address)) {
      issues.push({
        path: `hosts.${host}.address`,
        message: `${JSON.stringify(definition.address)} is not an IPv4 or IPv6 address or a host name`,
      });
    }
  }
  for (const [group, definition] of Object.entries(spec.groups ?? {})) {
    if (hostNames.has(group)) issues.push({ path: `groups.${group}`, message: `has the same name as a host` });
    definition.hosts?.forEach((host, index) => {
      if (!hostNames.has(host))
        issues.push({ path: `groups.${group}.hosts.${index}`, message: `names unknown host "${host}"` });
    });
  }
  if (hostNames.size === 0 && issues.length === 0) issues.push({ path: 'hosts', message: 'has no hosts' });
  if (issues.length > 0) {
    const lines = issues.map((i) => {
      const host = /^hosts\.([^.]+)/.exec(i.path)?.[1];
      return `  ${i.path}${host ? ` (host ${host})` : ''}: ${i.message}`;
    });
    throw new ValidationError(`invalid inventory ${file}:\n${lines.join('\n')}`, { file }, issues);
  }
}

/** A host name as DNS allows it (RFC 1123 labels, dots between them, a trailing dot allowed). */
const HOST_NAME =
  /^(?=.{1,253}\.?$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/**
 * Whether a host's address is one: an IPv4 or IPv6 address or a host name. Anything else (spaces, quotes, `;`)
 * would reach ssh, known_hosts and error messages as it is.
 *
 * @example
 * isHostAddress('198.18.30.1') // true
 * isHostAddress('not an address; rm -rf /') // false
 */
export function isHostAddress(address: string): boolean {
  return isIP(address) !== 0 || (HOST_NAME.test(address) && !/^[0-9.]+$/.test(address));
}

/** The groups a host belongs to, in the inventory's order. */
export function groupsOf(inventory: InventorySpec, host: string): string[] {
  return Object.entries(inventory.groups ?? {})
    .filter(([, g]) => g.hosts.includes(host))
    .map(([name]) => name);
}
