import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { CACHE_DIR, LAB_DEBIAN, LAB_HOSTS, LAB_NUMBER, STATE_DIR, hostPaths } from './config.ts';
import { debianRootDir } from './debian-root.ts';
import { nspawnPid } from './lab.ts';
import { alive, run, waitFor } from './system.ts';

const log = (line: string) => process.stderr.write(`lab: ${line}\n`);

/** The repository root. */
const REPO = join(import.meta.dirname, '../..');

/** What a deployed site is made from: if any of these changes, a snapshot no longer shows what a deploy gives. */
const SOURCES = ['src', 'roles', 'playbooks', 'inventory', 'test/lab', 'package-lock.json'];

/**
 * What a snapshot holds: `site`, both servers running the school site as `play site` deploys it; `packages`, both
 * servers pre-staged with `play site --tags packages` (every package the site installs, nothing configured).
 */
export type SnapshotKind = 'site' | 'packages';

/** What each kind of snapshot holds, as the log says it. */
const HOLDS: Record<SnapshotKind, string> = { site: 'the deployed site', packages: 'the pre-staged servers' };

/** Where the snapshots of deployed sites are kept, beside the roots (lab:down leaves them). */
const SNAPSHOTS_DIR = join(CACHE_DIR, 'sites');

function filesUnder(path: string): string[] {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path, { withFileTypes: true })
    .filter((entry) => !entry.name.startsWith('.state'))
    .flatMap((entry) => filesUnder(join(path, entry.name)))
    .sort();
}

/**
 * The snapshot's name: the lab (its addresses are in every file the site writes), the release's root (the overlays
 * only make sense on it) and a hash of every file a deploy is made from.
 */
function snapshotName(kind: SnapshotKind): string {
  const hash = createHash('sha256');
  hash.update(debianRootDir(LAB_DEBIAN));
  for (const file of SOURCES.flatMap((source) => filesUnder(join(REPO, source)))) {
    hash.update(`\0${relative(REPO, file)}\0`);
    hash.update(readFileSync(file));
  }
  return `${snapshotPrefix(kind)}${hash.digest('hex').slice(0, 12)}`;
}

/** The start of the names of one kind's snapshots of this lab and release (a newer one replaces them). */
function snapshotPrefix(kind: SnapshotKind): string {
  return `debian-${LAB_DEBIAN}-lab-${LAB_NUMBER}-${kind === 'site' ? '' : `${kind}-`}`;
}

/**
 * The state a snapshot holds: the lab's keys, CA and vault, and each host's overlay (its changes to the root), not
 * the apt proxy's run-time files nor anything of a running host (pid, console, mount point, overlay work folder).
 */
function stateEntries(): string[] {
  return [
    ...readdirSync(STATE_DIR).filter((name) => !['hosts', 'apt-proxy'].includes(name)),
    ...LAB_HOSTS.flatMap((host) => [
      relative(STATE_DIR, hostPaths(host.name).upper),
      relative(STATE_DIR, join(hostPaths(host.name).dir, 'prepared')),
    ]),
  ];
}

/**
 * Restores the lab's state folder from the snapshot of that kind made from these sources, if there is one.
 * Call it with the lab down; `labUp` then boots the hosts as they were when the snapshot was made. Returns
 * whether it did.
 */
export function restoreSiteSnapshot(kind: SnapshotKind = 'site'): boolean {
  const snapshot = join(SNAPSHOTS_DIR, snapshotName(kind));
  if (!existsSync(snapshot)) return false;
  if (existsSync(STATE_DIR))
    throw new Error(`the lab's state folder ${STATE_DIR} still exists: take the lab down first`);
  const started = performance.now();
  // cp -a keeps what an overlay's upper folder is made of: owners, modes, xattrs (opaque folders) and whiteouts.
  run('cp', ['-a', snapshot, STATE_DIR]);
  log(`restored ${HOLDS[kind]} ${snapshot} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return true;
}

/**
 * Saves the running lab, with the site just deployed (or the servers just pre-staged), as the snapshot
 * {@link restoreSiteSnapshot} restores: powers the hosts off cleanly (nspawn passes SIGTERM to systemd as a halt),
 * copies the state, and replaces the lab's older snapshots of this kind and release. The hosts are left off: take
 * the lab down and restore the snapshot to go on.
 */
export async function saveSiteSnapshot(kind: SnapshotKind = 'site'): Promise<void> {
  const started = performance.now();
  const pids = LAB_HOSTS.map((host) => nspawnPid(host)).filter((pid): pid is number => pid !== undefined);
  for (const pid of pids) process.kill(pid, 'SIGTERM');
  await waitFor('the hosts to power off', () => pids.every((pid) => !alive(pid)), 90_000, 250);
  const name = snapshotName(kind);
  const partial = join(SNAPSHOTS_DIR, `${name}.partial`);
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  for (const entry of stateEntries()) {
    mkdirSync(join(partial, entry, '..'), { recursive: true });
    run('cp', ['-a', join(STATE_DIR, entry), join(partial, entry)]);
  }
  const sameKind = new RegExp(`^${snapshotPrefix(kind)}[0-9a-f]{12}(\\.partial)?$`);
  for (const old of readdirSync(SNAPSHOTS_DIR).filter((entry) => sameKind.test(entry))) {
    if (old !== `${name}.partial`) rmSync(join(SNAPSHOTS_DIR, old), { recursive: true, force: true });
  }
  renameSync(partial, join(SNAPSHOTS_DIR, name));
  log(`saved ${HOLDS[kind]} as ${join(SNAPSHOTS_DIR, name)} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}
