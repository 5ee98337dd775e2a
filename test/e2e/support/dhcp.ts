import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LAB_CLIENT } from '../../lab/config.ts';
import { onHost } from '../../lab/faults.ts';
import { sh } from '../../../src/connection/sh.ts';
import { KEA_CONTROL_PATH } from '../../../roles/dhcp/ha-state.ts';

/** What a DHCP lease said, read from dhclient's lease file. */
export interface Lease {
  readonly address: string;
  readonly server: string;
  readonly routers: string;
  readonly dns: string;
  readonly domain: string;
}

/**
 * Gets a lease with dhclient in lab-client (a fresh lease file, so it starts with a DISCOVER; `-sf /bin/true`
 * so the namespace's addresses are left alone), then releases it, or with `keep` only stops dhclient, so the
 * servers keep the lease. `clientId` sets the DHCP client identifier (a client of its own for the servers).
 */
export function lease(options: { clientId?: string; timeoutSeconds?: number; keep?: boolean } = {}): Lease {
  const work = mkdtempSync(join(tmpdir(), 'play-lease-'));
  const files = { lf: join(work, 'leases'), pf: join(work, 'pid'), cf: join(work, 'conf') };
  writeFileSync(
    files.cf,
    `timeout ${options.timeoutSeconds ?? 30};\n${options.clientId ? `send dhcp-client-identifier "${options.clientId}";\n` : ''}request subnet-mask, broadcast-address, routers, domain-name, domain-name-servers;\n`,
  );
  const args = ['-cf', files.cf, '-lf', files.lf, '-pf', files.pf, '-sf', '/bin/true'];
  try {
    const got = spawnSync('ip', ['netns', 'exec', LAB_CLIENT.netns, 'dhclient', '-v', '-1', ...args, 'eth0'], {
      encoding: 'utf8',
    });
    if (got.status !== 0) throw new Error(`dhclient exited ${got.status}: ${got.stderr}`);
    const text = readFileSync(files.lf, 'utf8');
    const option = (name: string) => new RegExp(`option ${name} ([^;]+);`).exec(text)?.[1] ?? '';
    return {
      address: /fixed-address ([\d.]+);/.exec(text)?.[1] ?? '',
      server: option('dhcp-server-identifier'),
      routers: option('routers'),
      dns: option('domain-name-servers'),
      domain: option('domain-name').replaceAll('"', ''),
    };
  } finally {
    // Release the lease (or, to keep it, only stop) the dhclient that went to the background.
    spawnSync('ip', ['netns', 'exec', LAB_CLIENT.netns, 'dhclient', options.keep ? '-x' : '-r', ...args, 'eth0'], {
      encoding: 'utf8',
    });
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * Kea's answer to a command on a lab server's control socket, through the dhcp role's `kea-control`.
 *
 * @example
 * await keaCommand('primary', 'lease4-get', { 'ip-address': '198.18.30.150' }) // { result: 0, arguments: { … } }
 */
export async function keaCommand(
  host: string,
  command: string,
  args?: Record<string, unknown>,
): Promise<{ result: number; text?: string; arguments?: Record<string, unknown> }> {
  const got = await onHost(
    host,
    args ? sh`${KEA_CONTROL_PATH} ${command} ${JSON.stringify(args)}` : sh`${KEA_CONTROL_PATH} ${command}`,
  );
  if (got.exitCode !== 0) throw new Error(`kea-control ${command} on ${host} exited ${got.exitCode}: ${got.stderr}`);
  return JSON.parse(got.stdout);
}

/**
 * A lab server's HA state as `play verify` reads it (`kea-control ha-status`): its own state and its partner's.
 *
 * @example
 * await haState('backup') // { state: 'partner-down', partnerState: 'unavailable', … }
 */
export async function haState(host: string): Promise<Record<string, string>> {
  const got = await onHost(host, sh`${KEA_CONTROL_PATH} ha-status`);
  const values = got.stdout
    .split('\n')
    .filter((line) => line.includes('='))
    .map((line) => [line.slice(0, line.indexOf('=')).replace(/^dhcp_ha_/, ''), line.slice(line.indexOf('=') + 1)]);
  return Object.fromEntries(
    values.length > 0 ? values : [['error', `no answer (exit ${got.exitCode}): ${got.stderr.trim()}`]],
  );
}
