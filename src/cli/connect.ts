import { homedir } from 'node:os';
import { resolve } from 'node:path';
import type { Connection } from '../connection/connection.ts';
import { LocalConnection } from '../connection/local.ts';
import { KnownHostsFile } from '../connection/known-hosts.ts';
import { SshConnection } from '../connection/ssh.ts';
import type { Inventory } from '../model/inventory.ts';

/** How the CLI reaches hosts: known_hosts policy. */
export interface ConnectPolicy {
  readonly knownHostsFile?: string;
  readonly acceptNewHostKeys: boolean;
}

/** A path with a leading `~/` taken from the home folder, others resolved from the current folder. */
export function expandHome(path: string): string {
  return path === '~' || path.startsWith('~/') ? resolve(homedir(), path.slice(2)) : resolve(path);
}

/**
 * Builds the function that opens a host's connection from its inventory entry: `local` runs on the
 * controller, anything else is SSH (user root unless set; become through sudo for any other user).
 *
 * @example
 * const connect = connector(inventory, { acceptNewHostKeys: false });
 * const connection = await connect('primary');
 */
export function connector(inventory: Inventory, policy: ConnectPolicy): (host: string) => Promise<Connection> {
  // Every host of the run is checked against the same file: one object, parsed once for all of them.
  const knownHostsFile = expandHome(policy.knownHostsFile ?? inventory.ssh?.knownHostsFile ?? '~/.ssh/known_hosts');
  const knownHosts = new KnownHostsFile(knownHostsFile);
  return async (host) => {
    const spec = inventory.hosts[host];
    const user = spec.user ?? inventory.ssh?.user ?? 'root';
    const become = spec.become ?? user !== 'root';
    if (spec.connection === 'local') return new LocalConnection(host, spec.become ?? false);
    const identityFile = spec.identityFile ?? inventory.ssh?.identityFile;
    return SshConnection.open({
      host,
      address: spec.address,
      port: spec.port ?? inventory.ssh?.port ?? 22,
      user,
      identityFile: identityFile ? expandHome(identityFile) : undefined,
      become,
      knownHostsFile,
      knownHosts,
      acceptNewHostKeys: policy.acceptNewHostKeys,
    });
  };
}
