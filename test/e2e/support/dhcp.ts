import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LAB_CLIENT } from '../../lab/config.ts';

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
 * so the namespace's addresses are left alone), then releases it. `clientId` sets the DHCP client identifier,
 * which is what failover load balancing hashes to pick the server responsible for a client.
 */
export function lease(options: { clientId?: string; timeoutSeconds?: number } = {}): Lease {
  const work = mkdtempSync(join(tmpdir(), 'play-lease-'));
  const files = { lf: join(work, 'leases'), pf: join(work, 'pid'), cf: join(work, 'conf') };
  writeFileSync(
    files.cf,
    `timeout ${options.timeoutSeconds ?? 30};\n${options.clientId ? `send dhcp-client-identifier "${options.clientId}";\n` : ''}request subnet-mask, broadcast-address, routers, domain-name, domain-name-servers;\n`,
  );
  const args = ['-cf', files.cf, '-lf', files.lf, '-pf', files.pf, '-sf', '/bin/true'];
  try {
    const got = spawnSync('ip', ['netns', 'exec', LAB_CLIENT.netns, 'dhclient', '-v', '-1', ...args, 'eth0'], { encoding: 'utf8' });
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
    // Release the lease and stop the dhclient that went to the background.
    spawnSync('ip', ['netns', 'exec', LAB_CLIENT.netns, 'dhclient', '-r', ...args, 'eth0'], { encoding: 'utf8' });
    rmSync(work, { recursive: true, force: true });
  }
}
