import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { freshLab } from './support/lab.ts';
import { sh } from '../../src/connection/sh.ts';
import { LAB_CLIENT, LAB_DEBIAN, LAB_HOSTS } from '../lab/config.ts';
import { linkDown, linkUp, onHost, powerCut, powerOn, startService, stopService } from '../lab/faults.ts';
import { nspawnPid } from '../lab/lab.ts';
import { waitFor } from '../lab/system.ts';

/** Whether a TCP port answers within a second. */
function answers(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: address, port, timeout: 1000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

const [PRIMARY, BACKUP] = LAB_HOSTS.map((h) => h.address);

describe('the lab', () => {
  beforeAll(() => freshLab());

  it('boots two distinct systemd hosts reachable over ssh', async () => {
    const ids = new Set<string>();
    for (const host of LAB_HOSTS) {
      const result = await onHost(
        host.name,
        sh`cat /proc/1/comm; hostname; cat /etc/machine-id; ip -o -4 addr show dev eth0`,
      );
      const [init, hostname, machineId, address] = result.stdout.trim().split('\n');
      expect(init).toBe('systemd');
      expect(hostname).toBe(host.name);
      expect(address).toContain(`${host.address}/24`);
      ids.add(machineId);
    }
    expect(ids.size).toBe(LAB_HOSTS.length);
  });

  it('boots each host in a cgroup tree of its own, to a clean "running" (no unit failed)', async () => {
    const trees = new Set<string>();
    let listed = 0;
    for (const host of LAB_HOSTS) {
      // The host's PID 1 as the machine sees it: its cgroups in the hierarchies systemd uses (the named one of
      // cgroup v1, the unified one), each in a tree of the host's own.
      const init = execFileSync('pgrep', ['-P', String(nspawnPid(host))], { encoding: 'utf8' }).trim();
      const paths = readFileSync(`/proc/${init}/cgroup`, 'utf8')
        .split('\n')
        .filter((line) => line.includes(':name=systemd:') || line.startsWith('0::'));
      expect(paths.length).toBeGreaterThan(0);
      for (const path of paths) {
        expect(path).toContain(`/${host.netns}/`);
        trees.add(path);
        listed += 1;
      }
      const state = await onHost(
        host.name,
        sh`systemctl is-system-running --wait; systemctl --failed --no-legend --plain`,
      );
      expect(state.stdout).toBe('running\n');
    }
    expect(trees.size).toBe(listed); // no cgroup shared by two hosts
  });

  it(`boots a real, minimal Debian ${LAB_DEBIAN}, not this machine's root: its release, Debian's own shell profile for root, none of this machine's packages`, async () => {
    for (const host of LAB_HOSTS) {
      const result = await onHost(
        host.name,
        sh`. /etc/os-release; echo "$VERSION_ID"; cmp /root/.bashrc /usr/share/base-files/dot.bashrc && ! grep -q pyenv /root/.bashrc /root/.profile && echo clean; dpkg-query -W -f='\${db:Status-Abbrev} \${Package}\n' | awk '$1 == "ii" { n++ } END { print n }'; for p in chromium nodejs nmap swaks tmux; do dpkg-query -W -f='\${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii' && echo "has $p"; done; true`,
      );
      const [release, clean, count, ...extra] = result.stdout.trim().split('\n');
      expect(release).toBe(String(LAB_DEBIAN));
      // Debian's root profile (base-files), not this machine's, whose pyenv init costs 2 s per ssh command.
      expect(clean).toBe('clean');
      // What Debian's installer gives with "standard system" and "SSH server", plus what the roles installed so far.
      expect(Number(count)).toBeLessThan(450);
      expect(extra).toEqual([]);
    }
  });

  it("queues 512 log datagrams as a real server does (the kernel's 10 stays in a container): 200 log lines to a stopped journald never block the sender", async () => {
    // With 10, a journald busy for a moment held every process that logs, postfix's banners among them.
    for (const host of LAB_HOSTS) {
      const result = await onHost(
        host.name,
        sh`sysctl -n net.unix.max_dgram_qlen; systemctl kill --signal=SIGSTOP systemd-journald; timeout 20 sh -c 'for i in $(seq 200); do logger -t play-lab-queue "line $i"; done'; echo "loggers exit $?"; systemctl kill --signal=SIGCONT systemd-journald`,
      );
      expect(result.stdout.trim().split('\n')).toEqual(['512', 'loggers exit 0']);
    }
  });

  it('has lab-client on the bridge at its address, with no DHCP lease, reaching both hosts', () => {
    const addresses = execFileSync('ip', ['-n', LAB_CLIENT.netns, '-o', '-4', 'addr', 'show', 'dev', 'eth0'], {
      encoding: 'utf8',
    });
    expect(addresses).toContain(`${LAB_CLIENT.address}/24`);
    expect(addresses).not.toContain('dynamic');
    for (const host of LAB_HOSTS) {
      // bash's /dev/tcp from inside the client namespace: the client reaches the host's sshd.
      execFileSync('ip', [
        'netns',
        'exec',
        LAB_CLIENT.netns,
        'timeout',
        '3',
        'bash',
        '-c',
        `exec 3<>/dev/tcp/${host.address}/22`,
      ]);
    }
  });

  it('the hosts reach no registry: they have no default route', async () => {
    const result = await onHost('primary', sh`ip route show default`);
    expect(result.stdout.trim()).toBe('');
  });

  it('a cut link makes a host unreachable until it is plugged back in', async () => {
    expect(await answers(BACKUP, 22)).toBe(true);
    linkDown('backup');
    try {
      expect(await answers(BACKUP, 22)).toBe(false);
    } finally {
      linkUp('backup');
    }
    // As with a real cable, the host answers once its neighbours re-learn it (ARP retries each second),
    // not necessarily on the first packet after the plug.
    await waitFor('the backup to answer on 22 after the link is up', () => answers(BACKUP, 22), 5000);
  });

  it('a stopped service is down until it is started again', async () => {
    expect(await answers(PRIMARY, 22)).toBe(true);
    await stopService('primary', 'ssh.service');
    try {
      expect(await answers(PRIMARY, 22)).toBe(false);
    } finally {
      await startService('primary', 'ssh.service');
    }
    expect(await answers(PRIMARY, 22)).toBe(true);
  });

  it('a power cut kills every process of the host at once; power on boots it again', async () => {
    const before = nspawnPid(LAB_HOSTS[1])!;
    await powerCut('backup');
    expect(nspawnPid(LAB_HOSTS[1])).toBeUndefined();
    expect(await answers(BACKUP, 22)).toBe(false);
    await powerOn('backup');
    expect(nspawnPid(LAB_HOSTS[1])).not.toBe(before);
    expect((await onHost('backup', sh`systemctl is-system-running`)).stdout.trim()).toMatch(/^(running|degraded)$/);
  });
});
