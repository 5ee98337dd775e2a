import type { ExecOptions, ExecResult } from '../connection/connection.ts';
import type { ShellCommand } from '../connection/sh.ts';

/** One line of `play verify`'s table: a check, the host it concerns (none: the whole system), and its verdict. */
export interface HealthRow {
  readonly check: string;
  readonly host?: string;
  readonly ok: boolean;
  /** What was found, e.g. `primary`, `serial 2026112701 on both`, `expires in 3649 days`. */
  readonly detail: string;
  /**
   * `false` for a row about a pair's shared state that is rightly not ok while only some of its hosts are deployed
   * (replication with a peer not yet there, DHCP HA, VRRP settling): `play verify` shows it, the health gate
   * between serial batches leaves it out. Every other row of a batch's hosts is gated.
   */
  readonly gate?: boolean;
}

/** A host as a health check sees it: its inventory vars and a read-only way to ask it things. */
export interface HealthHost {
  readonly name: string;
  /** The host's inventory vars (groups, then host), secrets unrevealed. */
  readonly vars: Readonly<Record<string, unknown>>;
  /** False when no connection could be opened; `exec` then rejects and `error` says why. */
  readonly reachable: boolean;
  readonly error?: string;
  /** Runs a command that changes nothing (a health check only reads); `stdin` carries what must not be on a command line. */
  exec(command: ShellCommand, options?: ExecOptions): Promise<ExecResult>;
}

/**
 * A playbook's health check (`play verify PLAYBOOK`): given every host of the inventory, it reads what it
 * needs and returns the table's rows. The system is healthy when every row is ok.
 *
 * @example
 * const verify: HealthCheck = async (hosts) => [{ check: 'reachable', host: hosts[0].name, ok: hosts[0].reachable, detail: '' }];
 */
export type HealthCheck = (hosts: readonly HealthHost[]) => Promise<readonly HealthRow[]>;
