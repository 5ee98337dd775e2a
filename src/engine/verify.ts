import type { Connection } from '../connection/connection.ts';
import { ValidationError } from '../errors.ts';
import type { HealthHost, HealthRow } from '../model/health.ts';
import { selectHosts } from '../model/host-pattern.ts';
import { checkInventory, type Inventory } from '../model/inventory.ts';
import type { Playbook } from '../model/playbook.ts';
import type { MaskTable } from '../mask-table.ts';
import { inventoryVars } from './compile.ts';
import type { HealthGate } from './run.ts';

/** What `play verify` found: every row, and whether all of them are ok. */
export interface HealthReport {
  readonly rows: readonly HealthRow[];
  readonly healthy: boolean;
  readonly durationMs: number;
}

/**
 * Runs a playbook's health check against the inventory's hosts (all of them, or those `limit` selects):
 * opens one connection per host at once, gives the check every host (an unreachable one with `reachable:
 * false` and a row saying so), and closes them. A check that throws is a failed row, never a crash. The secrets of
 * the hosts' vars join `masks`, and every row's detail is masked with it.
 *
 * @example
 * const report = await verifyPlaybook(playbook, inventory, { connect, masks: context.masks });
 * process.exitCode = report.healthy ? 0 : 1;
 */
export async function verifyPlaybook(
  playbook: Playbook,
  inventory: Inventory,
  options: { limit?: string; connect: (host: string) => Promise<Connection>; masks: MaskTable },
): Promise<HealthReport> {
  const { masks } = options;
  const started = performance.now();
  if (!playbook.verify)
    throw new ValidationError('the playbook has no health check (its `verify`): nothing to verify', {
      file: playbook.source,
    });
  checkInventory(inventory);
  const names = options.limit !== undefined ? selectHosts(options.limit, inventory) : Object.keys(inventory.hosts);
  // A check reads the hosts' vars (a password to log in with): their secrets are masked in what it reports.
  for (const name of names) masks.addSecretsIn(inventoryVars(inventory, name));
  const opened = await Promise.all(
    names.map(async (name) => {
      try {
        return { name, connection: await options.connect(name) };
      } catch (error) {
        return { name, error: masks.mask(error instanceof Error ? error.message : String(error)) };
      }
    }),
  );
  const hosts: HealthHost[] = opened.map((o) => ({
    name: o.name,
    vars: inventoryVars(inventory, o.name),
    reachable: o.connection !== undefined,
    error: o.error,
    exec: (command, execOptions) =>
      o.connection
        ? o.connection.exec(command, execOptions)
        : Promise.reject(new Error(`${o.name} is unreachable: ${o.error}`)),
  }));
  const unreachable: HealthRow[] = hosts
    .filter((h) => !h.reachable)
    .map((h) => ({ check: 'reachable', host: h.name, ok: false, detail: h.error ?? 'no connection' }));
  let rows: readonly HealthRow[];
  try {
    rows = [...unreachable, ...(await playbook.verify(hosts))];
  } catch (error) {
    rows = [
      ...unreachable,
      {
        check: 'health check',
        ok: false,
        detail: `failed: ${masks.mask(error instanceof Error ? error.message : String(error))}`,
      },
    ];
  } finally {
    await Promise.all(opened.map((o) => o.connection?.close().catch(() => undefined)));
  }
  // A check may quote what a server said; nothing it says may show a secret.
  rows = rows.map((r) => ({ ...r, detail: masks.mask(r.detail) }));
  return { rows, healthy: rows.every((r) => r.ok), durationMs: performance.now() - started };
}

/**
 * The health gate of a serial run: the playbook's `verify` for one batch's hosts (a new read-only connection to
 * each), and the checks that failed there. Rows of other hosts (and of the VIP) and rows marked `gate: false` (a
 * pair's shared state, rightly not ok while only one of the pair is deployed) do not count; a host that cannot be
 * reached, or a check that threw, does.
 *
 * @example
 * executeRun(run, { ..., gate: healthGate(playbook, inventory, connect, run.masks) })
 */
export function healthGate(
  playbook: Playbook,
  inventory: Inventory,
  connect: (host: string) => Promise<Connection>,
  masks: MaskTable,
): HealthGate {
  return async (hosts, options = {}) => {
    const health = await verifyPlaybook(playbook, inventory, { limit: hosts.join(':'), connect, masks });
    return health.rows
      .filter(
        (r) =>
          !r.ok && (r.gate !== false || options.everyRow === true) && (r.host === undefined || hosts.includes(r.host)),
      )
      .map((r) => ({ check: r.check, ...(r.host !== undefined ? { host: r.host } : {}), detail: r.detail }));
  };
}
