import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { APT_PROXY_PORT, CACHE_DIR, STATE_DIR } from './config.ts';
import { alive, run, waitFor } from './system.ts';

/**
 * The lab's apt proxy: Debian's apt-cacher-ng on the lab's bridge, the hosts' only way to Debian's archive (their
 * namespaces have no route out), as a school with a local mirror or proxy has. It serves every release, and its
 * cache under {@link CACHE_DIR} outlives the lab, so later installs are offline-fast.
 */
const PROXY_DIR = join(STATE_DIR, 'apt-proxy');
const PID_FILE = join(PROXY_DIR, 'apt-cacher-ng.pid');
const CONFIG_DIR = join(PROXY_DIR, 'conf');

/** Where the proxy keeps what it downloaded, shared by every lab and kept between runs. */
export const APT_PROXY_CACHE = join(CACHE_DIR, 'apt-proxy');

/** The proxy's URL as apt's `Acquire::http::Proxy` takes it. */
export function aptProxyUrl(address: string): string {
  return `http://${address}:${APT_PROXY_PORT}`;
}

/** The apt.conf line a host (or a root being built) needs to reach Debian's archive through the proxy. */
export function aptProxyConf(address: string): string {
  return `Acquire::http::Proxy "${aptProxyUrl(address)}";\n`;
}

function runningPid(): number | undefined {
  if (!existsSync(PID_FILE)) return undefined;
  const pid = Number(readFileSync(PID_FILE, 'utf8').trim());
  return pid > 0 && alive(pid) ? pid : undefined;
}

/** This lab's proxies, also one whose pid file a killed run or a removed state folder lost. */
function proxyPids(): number[] {
  const pids = new Set<number>();
  const known = runningPid();
  if (known) pids.add(known);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (cmdline[0]?.endsWith('apt-cacher-ng') && cmdline.includes(CONFIG_DIR)) pids.add(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return [...pids];
}

/**
 * Starts the proxy listening on `address` (the controller's address on the lab's bridge), unless it runs. Its
 * own configuration, not the package's: Debian's default maps deb.debian.org to a list of mirrors this machine
 * cannot resolve, so the backends are named here.
 */
export async function startAptProxy(address: string): Promise<void> {
  if (runningPid()) return;
  mkdirSync(CONFIG_DIR, { recursive: true });
  mkdirSync(APT_PROXY_CACHE, { recursive: true });
  writeFileSync(
    join(CONFIG_DIR, 'acng.conf'),
    [
      `CacheDir: ${APT_PROXY_CACHE}`,
      `LogDir: ${PROXY_DIR}`,
      'SupportDir: /usr/lib/apt-cacher-ng',
      'Remap-debrep: file:deb_mirror*.gz /debian ; http://deb.debian.org/debian/',
      'Remap-secdeb: security.debian.org security.debian.org/debian-security deb.debian.org/debian-security /debian-security ; http://deb.debian.org/debian-security/',
      `Port: ${APT_PROXY_PORT}`,
      `BindAddress: ${address}`,
      `PidFile: ${PID_FILE}`,
      'ExThreshold: 4',
      '',
    ].join('\n'),
  );
  run('/usr/sbin/apt-cacher-ng', ['-c', CONFIG_DIR, 'ForeGround=0']);
  await waitFor(
    'the apt proxy to listen',
    () => runningPid() !== undefined && run('ss', ['-Htln', `src ${address}:${APT_PROXY_PORT}`]).trim() !== '',
    10_000,
  );
}

/** Stops the proxy (harmless when it does not run); its cache stays. */
export async function stopAptProxy(): Promise<void> {
  for (const pid of proxyPids()) {
    process.kill(pid, 'SIGTERM');
    await waitFor('the apt proxy to stop', () => !alive(pid), 10_000).catch(() => process.kill(pid, 'SIGKILL'));
  }
  rmSync(PROXY_DIR, { recursive: true, force: true });
}
