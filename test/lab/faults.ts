import type { sh } from '../../src/connection/sh.ts';
import { LAB_HOSTS, type LabHost } from './config.ts';
import { bootHost, connectToHost, hostIsOn, nspawnPid, prepareNetwork, waitUntilReady } from './lab.ts';
import { readFileSync } from 'node:fs';
import { hostProcesses } from './cgroup.ts';
import { alive, childrenOf, run, waitFor } from './system.ts';

/** A lab host by name. */
export function labHost(name: string): LabHost {
  const host = LAB_HOSTS.find((h) => h.name === name);
  if (!host) throw new Error(`no lab host named ${name}`);
  return host;
}

/**
 * Cuts a host's power: SIGKILL to its PID 1 (its systemd), which ends every process of the host at once.
 * (SIGKILL to the nspawn process alone would leave the host running.)
 */
export async function powerCut(name: string): Promise<void> {
  const host = labHost(name);
  const pid = nspawnPid(host);
  process.kill(initPid(name), 'SIGKILL');
  // A power cut is not a reboot: nspawn exits, and its supervisor with it.
  await waitFor(`${name} to go down`, () => !alive(pid!) && !hostIsOn(host), 15_000, 50);
  // Nothing of the host may outlive its power: once a CI run saw the primary's keepalived advertise 17 s after the
  // cut. What is left in the host's cgroups is named (to find out why) and killed.
  await waitFor(`${name}'s processes to end`, () => hostProcesses(host.netns).length === 0, 5_000, 50).catch(() => {
    for (const left of hostProcesses(host.netns)) {
      const command = attemptRead(`/proc/${left}/cmdline`).replaceAll('\0', ' ').trim();
      process.stderr.write(
        `lab: ${name} powered off, yet pid ${left} (${command || 'gone'}) was still running: killed\n`,
      );
      attemptKill(left);
    }
  });
  await waitFor(`${name}'s processes to end`, () => hostProcesses(host.netns).length === 0, 5_000, 50);
  // The namespace outlives the host; a real machine loses every address (the VIP too) with its power, so its
  // kernel must stop answering ARP for them.
  run('ip', ['-n', host.netns, 'addr', 'flush', 'dev', 'eth0']);
}

function attemptRead(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function attemptKill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Gone meanwhile.
  }
}

/** Turns a host on again and waits until it has booted. */
export async function powerOn(name: string): Promise<void> {
  const host = labHost(name);
  prepareNetwork(host);
  bootHost(host);
  await waitUntilReady(host);
}

/** Pulls a host's network cable (its veth end on the bridge goes down). */
export function linkDown(name: string): void {
  run('ip', ['link', 'set', labHost(name).veth, 'down']);
}

/** Plugs a host's cable back in. */
export function linkUp(name: string): void {
  run('ip', ['link', 'set', labHost(name).veth, 'up']);
}

/** Runs a command on a lab host over SSH and returns its result (for checks and faults). */
export async function onHost(name: string, command: ReturnType<typeof sh>) {
  const connection = await connectToHost(labHost(name));
  try {
    return await connection.exec(command);
  } finally {
    await connection.close();
  }
}

/** The pid (in the machine's namespace) of a running host's PID 1. */
function initPid(name: string): number {
  const pid = nspawnPid(labHost(name));
  const [init] = pid ? childrenOf(pid) : [];
  if (!init) throw new Error(`${name} is not running`);
  return init;
}

/** Runs systemctl inside a host through its PID 1's namespaces: works whatever state its network or sshd is in. */
function systemctl(name: string, action: string, unit: string): void {
  run('nsenter', ['-t', String(initPid(name)), '-m', '-u', '-i', '-n', '-p', 'systemctl', action, '--', unit]);
}

/** Stops a service inside a host, as a crash would. */
export async function stopService(name: string, unit: string): Promise<void> {
  systemctl(name, 'stop', unit);
}

/** Starts a service inside a host again. */
export async function startService(name: string, unit: string): Promise<void> {
  systemctl(name, 'start', unit);
}
