import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CACHE_DIR, DEBIAN_RELEASES, HOST_PACKAGES, type DebianMajor } from './config.ts';
import { aptProxyConf } from './apt-proxy.ts';
import { alive, run, runAsync, waitFor } from './system.ts';

const log = (line: string) => process.stderr.write(`lab: ${line}\n`);

/** How long a root's build may take another process before waiting for it gives up (a fresh one takes about 2 min). */
const BUILD_TIMEOUT_MS = 20 * 60_000;

/** Debian's archive as a fresh server's sources name it; the hosts reach it through the lab's apt proxy. */
const MIRROR = 'http://deb.debian.org/debian';
const SECURITY_MIRROR = 'http://deb.debian.org/debian-security';

/**
 * What a fresh server of a release has, as the Debian installer leaves it with "standard system utilities" and
 * "SSH server" chosen: the packages of priority required, important and standard (mmdebstrap's `standard`
 * variant), openssh-server, and their recommends, as the installer installs them. Nothing of this machine's.
 * Package lists are kept, as on an installed server; the downloaded .debs are not.
 */
function recipe(major: DebianMajor): { readonly suite: string; readonly args: readonly string[] } {
  const suite = DEBIAN_RELEASES[major];
  return {
    suite,
    args: [
      '--variant=standard',
      '--include=openssh-server',
      '--aptopt=APT::Install-Recommends "true"',
      '--skip=cleanup/apt/lists',
      suite,
    ],
  };
}

function sources(suite: string): string[] {
  return [
    `deb ${MIRROR} ${suite} main`,
    `deb ${MIRROR} ${suite}-updates main`,
    `deb ${SECURITY_MIRROR} ${suite}-security main`,
  ];
}

/** The folder of a release's root in the cache: named by its recipe, so a changed recipe builds a new root. */
export function debianRootDir(major: DebianMajor): string {
  const { args } = recipe(major);
  const hash = createHash('sha256')
    .update(JSON.stringify([args, sources(DEBIAN_RELEASES[major])]))
    .digest('hex')
    .slice(0, 12);
  return join(CACHE_DIR, 'roots', `debian-${major}-${hash}`);
}

/** The builds in progress or abandoned beside the roots: `<root>.building-<pid>` folders and their builders. */
function builds(parent: string): { readonly entry: string; readonly pid: number }[] {
  if (!existsSync(parent)) return [];
  return readdirSync(parent).flatMap((entry) => {
    const match = /\.building-(\d+)$/.exec(entry);
    return match ? [{ entry, pid: Number(match[1]) }] : [];
  });
}

/** The builders (pids) of a root that another process is building now. */
function liveBuilders(dir: string): number[] {
  const parent = join(dir, '..');
  const prefix = `${dir.slice(parent.length + 1)}.building-`;
  return builds(parent)
    .filter(({ entry, pid }) => entry.startsWith(prefix) && pid !== process.pid && alive(pid))
    .map(({ pid }) => pid);
}

/** A build a killed run left behind: its builder is gone. */
function removeAbandonedBuilds(dir: string): void {
  const parent = join(dir, '..');
  for (const { entry, pid } of builds(parent))
    if (!alive(pid)) rmSync(join(parent, entry), { recursive: true, force: true });
}

/**
 * The root of a release, built once and cached (about 40 s through the proxy): every lab host of that release
 * boots as an overlay on it, and nothing ever writes to it after it is built. It is built beside its final place
 * and renamed there whole, so a killed build never leaves a half root; two releases' roots may be built at once.
 * Building also downloads the roles' packages once through the proxy (`--download-only`), which fills the proxy's
 * cache. While another process builds the same root (CI runs `lab:install` beside the unit tests), this waits for
 * it and takes its root.
 *
 * @param proxyAddress where the lab's apt proxy listens (it must run)
 */
export async function debianRoot(major: DebianMajor, proxyAddress: string): Promise<string> {
  const dir = debianRootDir(major);
  if (existsSync(join(dir, 'etc/os-release'))) return dir;
  if (liveBuilders(dir).length > 0) {
    log(`waiting for the Debian ${major} root another process is building`);
    await waitFor(`the Debian ${major} root being built`, () => liveBuilders(dir).length === 0, BUILD_TIMEOUT_MS, 2000);
    if (existsSync(join(dir, 'etc/os-release'))) return dir;
  }
  removeAbandonedBuilds(dir);
  mkdirSync(join(dir, '..'), { recursive: true });
  const building = `${dir}.building-${process.pid}`;
  const { suite, args } = recipe(major);
  const started = performance.now();
  log(`building a minimal Debian ${major} (${suite}) root in ${dir}`);
  await runAsync('mmdebstrap', [
    '--quiet',
    `--aptopt=${aptProxyConf(proxyAddress).trim()}`,
    // Fills the proxy's cache with the roles' packages; the root keeps none of them (mmdebstrap cleans apt's cache).
    `--customize-hook=chroot "$1" apt-get install -y -q --download-only ${HOST_PACKAGES[major].join(' ')}`,
    // The proxy is the lab's, not the server's: each host gets its own proxy line (lab.ts).
    '--customize-hook=rm -f "$1"/etc/apt/apt.conf.d/99mmdebstrap',
    ...args,
    building,
    ...sources(suite),
  ]);
  renameSync(building, dir);
  log(
    `Debian ${major} root built in ${((performance.now() - started) / 1000).toFixed(0)} s: ${installedPackages(dir)} packages`,
  );
  return dir;
}

/** How many packages a root has installed. */
export function installedPackages(root: string): number {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own ${field} format, not a template
  return run('dpkg-query', [`--admindir=${join(root, 'var/lib/dpkg')}`, '-W', '-f=${db:Status-Abbrev}\n'])
    .split('\n')
    .filter((line) => line.startsWith('ii')).length;
}

/**
 * How long ago a root was built, in hours: its package lists are that old, and apt on a host would ask the proxy
 * for versions a newer archive may have dropped. (dpkg's status file was last written by the build.)
 */
export function rootAgeHours(root: string): number {
  return (Date.now() - statSync(join(root, 'var/lib/dpkg/status')).mtimeMs) / 3_600_000;
}
