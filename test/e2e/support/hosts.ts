import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { ShellCommand } from '../../../src/connection/sh.ts';
import { LAB_HOSTS, LAB_VIP } from '../../lab/config.ts';
import { labHost, onHost } from '../../lab/faults.ts';
import { nspawnPid } from '../../lab/lab.ts';

const run = promisify(execFile);

/** Runs a command on a lab host over ssh and returns its stdout; a non-zero exit throws with its stderr. */
export async function stdoutOf(host: string, command: ShellCommand): Promise<string> {
  const result = await onHost(host, command);
  if (result.exitCode !== 0) throw new Error(`${host}: ${result.command} exited ${result.exitCode}: ${result.stderr}`);
  return result.stdout;
}

/**
 * Whether a host's eth0 carries the VIP, read in its network namespace from this machine: works whatever the
 * host's link or sshd is doing. A powered-off host holds nothing.
 */
export async function holdsVip(name: string): Promise<boolean> {
  const host = labHost(name);
  if (nspawnPid(host) === undefined) return false;
  const { stdout } = await run('ip', ['-n', host.netns, '-o', '-4', 'addr', 'show', 'dev', 'eth0']);
  return stdout.includes(` ${LAB_VIP}/`);
}

/** The servers holding the VIP now. */
export async function vipHolders(): Promise<string[]> {
  const held = await Promise.all(LAB_HOSTS.map((h) => holdsVip(h.name)));
  return LAB_HOSTS.filter((_, i) => held[i]).map((h) => h.name);
}
