import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { sh } from '../../src/connection/sh.ts';
import { LAB_HOSTS } from '../lab/config.ts';
import { linkDown, linkUp, onHost, powerCut, powerOn, startService, stopService } from '../lab/faults.ts';
import { nspawnPid } from '../lab/lab.ts';

/** Whether a TCP port answers within a second. */
function answers(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: address, port, timeout: 1000 });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
    socket.once('error', () => (socket.destroy(), resolve(false)));
  });
}

describe('the lab', () => {
  it('boots two distinct systemd hosts reachable over ssh', async () => {
    const ids = new Set<string>();
    for (const host of LAB_HOSTS) {
      const result = await onHost(host.name, sh`cat /proc/1/comm; hostname; cat /etc/machine-id; ip -o -4 addr show dev eth0`);
      const [init, hostname, machineId, address] = result.stdout.trim().split('\n');
      expect(init).toBe('systemd');
      expect(hostname).toBe(host.name);
      expect(address).toContain(`${host.address}/24`);
      ids.add(machineId);
    }
    expect(ids.size).toBe(LAB_HOSTS.length);
  });

  it('the hosts reach no registry: they have no default route', async () => {
    const result = await onHost('primary', sh`ip route show default`);
    expect(result.stdout.trim()).toBe('');
  });

  it('a cut link makes a host unreachable until it is plugged back in', async () => {
    expect(await answers('198.18.30.2', 22)).toBe(true);
    linkDown('backup');
    try {
      expect(await answers('198.18.30.2', 22)).toBe(false);
    } finally {
      linkUp('backup');
    }
    expect(await answers('198.18.30.2', 22)).toBe(true);
  });

  it('a stopped service is down until it is started again', async () => {
    expect(await answers('198.18.30.1', 22)).toBe(true);
    await stopService('primary', 'ssh.service');
    try {
      expect(await answers('198.18.30.1', 22)).toBe(false);
    } finally {
      await startService('primary', 'ssh.service');
    }
    expect(await answers('198.18.30.1', 22)).toBe(true);
  });

  it('a power cut kills every process of the host at once; power on boots it again', async () => {
    const before = nspawnPid(LAB_HOSTS[1])!;
    await powerCut('backup');
    expect(nspawnPid(LAB_HOSTS[1])).toBeUndefined();
    expect(await answers('198.18.30.2', 22)).toBe(false);
    await powerOn('backup');
    expect(nspawnPid(LAB_HOSTS[1])).not.toBe(before);
    expect((await onHost('backup', sh`systemctl is-system-running`)).stdout.trim()).toMatch(/^(running|degraded)$/);
  });
});
