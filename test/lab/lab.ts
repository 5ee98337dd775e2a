import { spawn, spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  chmodSync,
} from 'node:fs';
import { join } from 'node:path';
import { SshConnection } from '../../src/connection/ssh.ts';
import { sh } from '../../src/connection/sh.ts';
import {
  BRIDGE,
  CONTROLLER_ADDRESS,
  LAB_CLIENT,
  LAB_DEBIAN,
  LAB_HOSTS,
  LAB_KEY,
  LAB_KNOWN_HOSTS,
  MACHINE_PACKAGES,
  MASKED_UNITS,
  PREFIX_LENGTH,
  STATE_DIR,
  hostPaths,
  type DebianMajor,
  type LabHost,
} from './config.ts';
import { aptProxyConf, startAptProxy, stopAptProxy } from './apt-proxy.ts';
import { hostCgroups, removeHostCgroups } from './cgroup.ts';
import { debianRoot, installedPackages, rootAgeHours } from './debian-root.ts';
import { writeLabVault } from './lab-vault.ts';
import { alive, attempt, childrenOf, run, waitFor } from './system.ts';
import { startOffsiteServer } from './offsite.ts';

const log = (line: string) => process.stderr.write(`lab: ${line}\n`);

// biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own ${field} format, not a template
const DPKG_STATUS_FORMAT = '-f=${db:Status-Abbrev}';

/** Installs on the machine what the lab and its client checks need (only what is missing). */
export function installMachinePackages(): void {
  const missing = MACHINE_PACKAGES.filter(
    (p) =>
      !attempt('dpkg-query', ['-W', DPKG_STATUS_FORMAT, p]) ||
      !run('dpkg-query', ['-W', DPKG_STATUS_FORMAT, p]).startsWith('ii'),
  );
  if (missing.length === 0) return;
  log(`installing on this machine: ${missing.join(' ')}`);
  run('apt-get', ['update', '-q']);
  run('env', ['DEBIAN_FRONTEND=noninteractive', 'apt-get', 'install', '-y', '-q', ...missing]);
}

/** The lab's bridge with the controller's address on it (idempotent). */
function prepareBridge(): void {
  if (!linkExists(BRIDGE)) run('ip', ['link', 'add', BRIDGE, 'type', 'bridge']);
  if (!run('ip', ['-o', 'addr', 'show', 'dev', BRIDGE]).includes(`${CONTROLLER_ADDRESS}/`)) {
    run('ip', ['addr', 'add', `${CONTROLLER_ADDRESS}/${PREFIX_LENGTH}`, 'dev', BRIDGE]);
  }
  run('ip', ['link', 'set', BRIDGE, 'up']);
}

/**
 * The bridge, the apt proxy on it and the root of the lab's Debian release (built and cached on first use):
 * everything the hosts need before they can boot. Returns the root (of `major`, the lab's release unless given).
 */
export async function prepareDebianRoot(major: DebianMajor = LAB_DEBIAN): Promise<string> {
  await prepareLabNetwork();
  return debianRoot(major, CONTROLLER_ADDRESS);
}

/**
 * The roots of several releases, built side by side (much of a build waits for Debian's archive), after the
 * bridge and the apt proxy they are built through.
 */
export async function prepareDebianRoots(majors: readonly DebianMajor[]): Promise<string[]> {
  await prepareLabNetwork();
  return Promise.all(majors.map((major) => debianRoot(major, CONTROLLER_ADDRESS)));
}

/** The bridge and the apt proxy on it. */
async function prepareLabNetwork(): Promise<void> {
  prepareBridge();
  await startAptProxy(CONTROLLER_ADDRESS);
}

function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((point): point is string => !!point && (point === dir || point.startsWith(`${dir}/`)))
    .sort((a, b) => b.length - a.length);
}

function netnsExists(name: string): boolean {
  return existsSync(`/run/netns/${name}`);
}

function linkExists(name: string): boolean {
  return attempt('ip', ['link', 'show', 'dev', name]);
}

/**
 * The pid of a host's supervisor when it runs: the shell that boots the host's nspawn, and boots it again each time
 * the host reboots (nspawn exits 133 then, as systemd-nspawn@.service restarts it); any other exit ends it.
 */
function supervisorPid(host: LabHost): number | undefined {
  const { pidFile } = hostPaths(host.name);
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, 'utf8'));
  return pid > 0 && alive(pid) ? pid : undefined;
}

function commandLine(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return []; // The process ended while we looked.
  }
}

/** Whether a host is on: its supervisor runs (its nspawn too, but for a moment while the host reboots). */
export function hostIsOn(host: LabHost): boolean {
  return supervisorPid(host) !== undefined;
}

/** The pid of a host's nspawn process when it runs (none for a moment while the host reboots). */
export function nspawnPid(host: LabHost): number | undefined {
  const supervisor = supervisorPid(host);
  if (!supervisor) return undefined;
  return childrenOf(supervisor).find((pid) => commandLine(pid)[0]?.endsWith('systemd-nspawn'));
}

/**
 * Every systemd-nspawn process of a lab, and every supervisor shell that runs one: booting a root under this lab's
 * state folder or living in one of the lab's network namespaces (a lab left by a killed run, or by another
 * checkout), with or without a pid file.
 */
function strayProcesses(): { nspawns: number[]; supervisors: number[] } {
  const found = { nspawns: [] as number[], supervisors: [] as number[] };
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = commandLine(Number(entry));
    const ours = cmdline.some(
      (a) =>
        a.startsWith(`${STATE_DIR}/`) || LAB_HOSTS.some((h) => a === `--network-namespace-path=/run/netns/${h.netns}`),
    );
    if (!ours) continue;
    if (cmdline[0]?.endsWith('systemd-nspawn')) found.nspawns.push(Number(entry));
    else if (cmdline[0] === 'sh' && cmdline.includes('systemd-nspawn')) found.supervisors.push(Number(entry));
  }
  return found;
}

function prepareRoot(host: LabHost, lower: string): void {
  const paths = hostPaths(host.name);
  for (const dir of [paths.upper, paths.work, paths.root]) mkdirSync(dir, { recursive: true });
  if (mountsUnder(paths.root).length === 0) {
    run('mount', [
      '-t',
      'overlay',
      'overlay',
      '-o',
      `lowerdir=${lower},upperdir=${paths.upper},workdir=${paths.work}`,
      paths.root,
    ]);
  }
  const root = paths.root;
  const marker = join(paths.dir, 'prepared');
  if (existsSync(marker)) return;
  writeFileSync(join(root, 'etc/hostname'), `${host.name}\n`);
  writeFileSync(
    join(root, 'etc/hosts'),
    `127.0.0.1\tlocalhost\n${host.address}\t${host.name}\n::1\tlocalhost ip6-localhost ip6-loopback\n`,
  );
  for (const key of readdirSync(join(root, 'etc/ssh')).filter((f) => f.startsWith('ssh_host_')))
    rmSync(join(root, 'etc/ssh', key));
  run('ssh-keygen', ['-A', '-f', root]);
  writeFileSync(join(root, 'etc/machine-id'), `${run('systemd-id128', ['new']).trim()}\n`);
  // Debian's archive through the lab's proxy, as a school's server reaches it through its own mirror or proxy.
  writeFileSync(join(root, 'etc/apt/apt.conf.d/01play-lab-proxy'), aptProxyConf(CONTROLLER_ADDRESS));
  mkdirSync(join(root, 'root/.ssh'), { recursive: true, mode: 0o700 });
  writeFileSync(join(root, 'root/.ssh/authorized_keys'), readFileSync(`${LAB_KEY}.pub`), { mode: 0o600 });
  rmSync(join(root, 'root/.ssh/known_hosts'), { force: true });
  for (const unit of MASKED_UNITS) {
    const path = join(root, 'etc/systemd/system', unit);
    rmSync(path, { force: true });
    symlinkSync('/dev/null', path);
  }
  writeFileSync(marker, '');
}

/** A host's or the client's namespace, veth on the bridge and address (idempotent). */
export function prepareNetwork(host: { netns: string; veth: string; address: string }): void {
  if (!netnsExists(host.netns)) run('ip', ['netns', 'add', host.netns]);
  if (!linkExists(host.veth)) {
    run('ip', ['link', 'add', host.veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', host.netns]);
  }
  run('ip', ['link', 'set', host.veth, 'master', BRIDGE, 'up']);
  const addresses = run('ip', ['-n', host.netns, '-o', 'addr', 'show', 'dev', 'eth0']);
  if (!addresses.includes(`${host.address}/`))
    run('ip', ['-n', host.netns, 'addr', 'add', `${host.address}/${PREFIX_LENGTH}`, 'dev', 'eth0']);
  run('ip', ['-n', host.netns, 'link', 'set', 'eth0', 'up']);
  run('ip', ['-n', host.netns, 'link', 'set', 'lo', 'up']);
  // What systemd as PID 1 sets on a real server (at least 512 datagrams queued on a unix socket), and cannot set
  // from inside a container, where the kernel's 10 stays. The journal's /dev/log is such a socket: with 10, a
  // journald busy for a moment on a slow disk made every process that logs wait for it, postfix's postscreen and
  // smtpd among them, and CI saw SMTP banners held for 2 s. The value is read when a socket is made, so before boot.
  run('ip', ['netns', 'exec', host.netns, 'sysctl', '-qw', 'net.unix.max_dgram_qlen=512']);
}

/** Boots a host (systemd as PID 1) in its namespace; returns at once, see {@link waitUntilReady}. */
export function bootHost(host: LabHost): void {
  if (supervisorPid(host)) return;
  const paths = hostPaths(host.name);
  const out = openSync(paths.console, 'a');
  // nspawn starts in cgroups of the host's own (see hostCgroups): the shell moves itself there, then runs nspawn,
  // and runs it again each time the host reboots (exit 133), as a real server comes back from `reboot`.
  const child = spawn(
    'sh',
    [
      '-c',
      'while [ "$1" != -- ]; do echo $$ > "$1" || exit 1; shift; done; shift; while :; do "$@"; rc=$?; [ "$rc" = 133 ] || exit "$rc"; done',
      'sh',
      ...hostCgroups(host.netns),
      '--',
      'systemd-nspawn',
      '-D',
      paths.root,
      '-b',
      '--register=no',
      '--keep-unit',
      `--network-namespace-path=/run/netns/${host.netns}`,
      '--capability=CAP_NET_ADMIN',
      '-M',
      host.name,
    ],
    // /proc/sys/net writable, as on a real server (nspawn mounts all of /proc/sys read-only by default): a role may
    // set its namespace's own network sysctls (the dovecot role's TCP keepalive); the rest of /proc/sys stays read-only.
    // The unified cgroup hierarchy inside the host, although this machine runs cgroup v1 (hybrid): Debian 13's
    // systemd 257 no longer supports v1 and prints errors about its symlinks without it (shared/LAB.md).
    {
      detached: true,
      stdio: ['ignore', out, out],
      env: { ...process.env, SYSTEMD_NSPAWN_API_VFS_WRITABLE: 'network', SYSTEMD_NSPAWN_UNIFIED_HIERARCHY: '1' },
    },
  );
  closeSync(out);
  child.unref();
  writeFileSync(paths.pidFile, String(child.pid));
}

/** Opens an SSH connection to a lab host with the lab's key and known_hosts. */
export function connectToHost(host: LabHost): Promise<SshConnection> {
  return SshConnection.open({
    host: host.name,
    address: host.address,
    port: 22,
    user: 'root',
    identityFile: LAB_KEY,
    become: false,
    knownHostsFile: LAB_KNOWN_HOSTS,
    acceptNewHostKeys: false,
    timeoutMs: 3000,
  });
}

/** Waits until a host's systemd has finished booting and sshd answers. */
export async function waitUntilReady(host: LabHost, timeoutMs = 60_000): Promise<void> {
  await waitFor(
    `${host.name} to boot`,
    async () => {
      try {
        const connection = await connectToHost(host);
        try {
          const state = await connection.exec(sh`systemctl is-system-running --wait`);
          return ['running', 'degraded'].includes(state.stdout.trim());
        } finally {
          await connection.close();
        }
      } catch {
        return false;
      }
    },
    timeoutMs,
    250,
  );
}

/** Package lists older than this are refreshed on the hosts when the lab comes up. */
const LISTS_MAX_AGE_HOURS = 12;

async function updatePackageLists(host: LabHost): Promise<void> {
  const connection = await connectToHost(host);
  try {
    const result = await connection.exec(sh`apt-get update -q`);
    if (result.exitCode !== 0)
      throw new Error(`apt-get update on ${host.name} exited ${result.exitCode}: ${result.stderr.trim()}`);
  } finally {
    await connection.close();
  }
}

function writeKnownHosts(): void {
  const lines = LAB_HOSTS.map(
    (h) =>
      `${h.address} ${readFileSync(join(hostPaths(h.name).root, 'etc/ssh/ssh_host_ed25519_key.pub'), 'utf8')
        .split(' ')
        .slice(0, 2)
        .join(' ')}`,
  );
  writeFileSync(LAB_KNOWN_HOSTS, `${lines.join('\n')}\n`);
}

/**
 * Brings the lab up, idempotently: machine packages, the hosts' packages in the apt cache, the bridge,
 * `primary` and `backup` booted with systemd, and `lab-client`. Prints where each host is.
 */
export async function labUp(): Promise<void> {
  const started = performance.now();
  installMachinePackages();
  mkdirSync(STATE_DIR, { recursive: true });
  if (!existsSync(LAB_KEY)) run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'play-lab', '-f', LAB_KEY]);
  chmodSync(LAB_KEY, 0o600);
  const lower = await prepareDebianRoot();
  for (const host of LAB_HOSTS) {
    prepareRoot(host, lower);
    prepareNetwork(host);
  }
  writeKnownHosts();
  writeLabVault();
  prepareNetwork(LAB_CLIENT);
  startOffsiteServer();
  const bootStarted = performance.now();
  for (const host of LAB_HOSTS) bootHost(host);
  await Promise.all(LAB_HOSTS.map((h) => waitUntilReady(h)));
  const bootSeconds = ((performance.now() - bootStarted) / 1000).toFixed(1);
  // A root built days ago has lists naming versions the archive may have dropped since: fresh lists, as on a
  // server whose admin ran apt update. Then the hosts install from the release's current archive.
  if (rootAgeHours(lower) > LISTS_MAX_AGE_HOURS) await Promise.all(LAB_HOSTS.map((h) => updatePackageLists(h)));
  for (const host of LAB_HOSTS) log(`${host.name.padEnd(10)} ${host.address}  ssh root@${host.address} -i ${LAB_KEY}`);
  log(`${LAB_CLIENT.name.padEnd(10)} ${LAB_CLIENT.address}  ip netns exec ${LAB_CLIENT.netns} COMMAND`);
  log(`controller ${CONTROLLER_ADDRESS} on ${BRIDGE}, apt proxy on port 3142`);
  log(`Debian ${LAB_DEBIAN}: ${installedPackages(lower)} packages in ${lower}`);
  log(`up in ${((performance.now() - started) / 1000).toFixed(1)} s (hosts booted in ${bootSeconds} s)`);
}

function removedCgroup(host: LabHost): boolean {
  try {
    removeHostCgroups(host.netns);
    return true;
  } catch {
    return false; // Its last processes are still exiting.
  }
}

/**
 * Removes everything the lab made, also what a killed run left behind: host processes (power cut, then their
 * nspawn), their cgroups, processes in the client namespace, mounts, namespaces, links and the state folder. Harmless twice.
 */
export async function labDown(): Promise<void> {
  const stray = strayProcesses();
  // The supervisors first, so that no host boots again.
  const supervisors = new Set(stray.supervisors);
  for (const host of LAB_HOSTS) {
    const pid = supervisorPid(host);
    if (pid) supervisors.add(pid);
  }
  const nspawns = new Set(stray.nspawns);
  for (const pid of supervisors) for (const child of childrenOf(pid)) nspawns.add(child);
  for (const pid of supervisors) attempt('kill', ['-KILL', String(pid)]);
  for (const pid of nspawns) {
    for (const child of childrenOf(pid)) attempt('kill', ['-KILL', String(child)]);
  }
  await waitFor('the hosts to stop', () => [...nspawns].every((pid) => !alive(pid)), 15_000).catch(() => {
    for (const pid of nspawns) attempt('kill', ['-KILL', String(pid)]);
  });
  for (const host of LAB_HOSTS) await waitFor(`${host.name}'s cgroup to empty`, () => removedCgroup(host), 15_000);
  for (const netns of [...LAB_HOSTS.map((h) => h.netns), LAB_CLIENT.netns]) {
    if (!netnsExists(netns)) continue;
    const pids = spawnSync('ip', ['netns', 'pids', netns], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
    for (const pid of pids) attempt('kill', ['-KILL', pid]);
    attempt('ip', ['netns', 'del', netns]);
  }
  await stopAptProxy();
  for (const link of [...LAB_HOSTS.map((h) => h.veth), LAB_CLIENT.veth, BRIDGE])
    if (linkExists(link)) attempt('ip', ['link', 'del', link]);
  for (const point of mountsUnder(STATE_DIR)) {
    if (!attempt('umount', [point])) attempt('umount', ['-l', point]);
  }
  if (mountsUnder(STATE_DIR).length > 0)
    throw new Error(`still mounted under ${STATE_DIR}: ${mountsUnder(STATE_DIR).join(', ')}`);
  rmSync(STATE_DIR, { recursive: true, force: true });
}
