import { sh } from '../../../src/connection/sh.ts';
import { LAB_HOSTS, LAB_NUMBER } from '../../lab/config.ts';
import { onHost } from '../../lab/faults.ts';
import { clientStdout } from './client.ts';
import { stdoutOf } from './hosts.ts';

/** `dig` from lab-client against one server, with short timeouts (the hosts have no route to the Internet). */
export function dig(server: string, ...args: string[]): string {
  return clientStdout('dig', [`@${server}`, '+tries=1', '+time=3', ...args]);
}

/** The header of a dig answer: its status and flags. */
export function digHeader(answer: string): { status: string; flags: string[] } {
  const status = /status: (\w+)/.exec(answer)?.[1] ?? '(none)';
  const flags = /;; flags: ([a-z ]+);/.exec(answer)?.[1].trim().split(' ') ?? [];
  return { status, flags };
}

/** The SOA serial a server gives for a zone. */
export function serialOf(server: string, zone: string): number {
  const soa = dig(server, '+short', 'SOA', zone).trim().split(/\s+/);
  return Number(soa[2]);
}

/**
 * Runs `work` with lab-client also holding an address outside the LAN (198.19.N.50 is not in 198.18.N.0/24),
 * the servers given a host route back to it: `dig -b` that address to ask as an outsider. Cleans up after.
 */
export async function asOutsider(work: (outsider: string) => void | Promise<void>): Promise<void> {
  const outsider = `198.19.${LAB_NUMBER}.50`;
  clientStdout('ip', ['addr', 'add', `${outsider}/32`, 'dev', 'eth0']);
  try {
    for (const { name } of LAB_HOSTS) await stdoutOf(name, sh`ip route replace ${`${outsider}/32`} dev eth0`);
    await work(outsider);
  } finally {
    for (const { name } of LAB_HOSTS) await onHost(name, sh`ip route del ${`${outsider}/32`} dev eth0`);
    clientStdout('ip', ['addr', 'del', `${outsider}/32`, 'dev', 'eth0']);
  }
}
