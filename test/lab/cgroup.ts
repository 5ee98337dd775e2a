import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The folders of the cgroup hierarchies systemd-nspawn builds a host's tree in, each at the cgroup this
 * process is in: on a cgroup v1 machine (as this kind is) the named `systemd` hierarchy and, when mounted, the
 * unified one beside it (a "hybrid" host); on a cgroup v2 machine the unified one alone.
 */
function hierarchies(): string[] {
  const lines = readFileSync('/proc/self/cgroup', 'utf8').split('\n');
  const pathIn = (prefix: string) => lines.find((line) => line.startsWith(prefix))?.slice(prefix.length) ?? '/';
  const found: string[] = [];
  const named = lines.find((line) => line.split(':')[1] === 'name=systemd');
  if (named && existsSync('/sys/fs/cgroup/systemd/cgroup.procs'))
    found.push(join('/sys/fs/cgroup/systemd', named.split(':')[2]));
  if (existsSync('/sys/fs/cgroup/unified/cgroup.procs')) found.push(join('/sys/fs/cgroup/unified', pathIn('0::')));
  else if (existsSync('/sys/fs/cgroup/cgroup.controllers')) found.push(join('/sys/fs/cgroup', pathIn('0::')));
  return found;
}

/**
 * The `cgroup.procs` files of cgroups of the host's own, one per hierarchy, to start its systemd-nspawn in.
 * With `--keep-unit` nspawn builds the host's tree (`payload/system.slice/…`) inside the cgroup it was started
 * in. Two hosts started from one process would share that tree: each host's systemd then creates and removes
 * the other's unit cgroups, and a unit that starts on both at once fails at random with `219/CGROUP` ("Failed
 * to attach to cgroup … No such file or directory"). Emptied first if a killed run left them behind.
 */
export function hostCgroups(name: string): string[] {
  removeHostCgroups(name);
  return hierarchies().map((hierarchy) => {
    const dir = join(hierarchy, name);
    mkdirSync(dir, { recursive: true });
    return join(dir, 'cgroup.procs');
  });
}

/** Removes a host's cgroup trees, deepest first (a cgroup goes only when it has no processes and no children). */
export function removeHostCgroups(name: string): void {
  for (const hierarchy of hierarchies()) removeTree(join(hierarchy, name));
}

function removeTree(dir: string): void {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir)) {
    const child = join(dir, entry);
    if (statSync(child).isDirectory()) removeTree(child);
  }
  rmdirSync(dir);
}

/** The processes still in a host's cgroups, in every hierarchy and every cgroup below (none once it is off). */
export function hostProcesses(name: string): number[] {
  const found = new Set<number>();
  const collect = (dir: string): void => {
    if (!existsSync(dir)) return;
    for (const line of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n')) if (line) found.add(Number(line));
    for (const entry of readdirSync(dir, { withFileTypes: true }))
      if (entry.isDirectory()) collect(join(dir, entry.name));
  };
  for (const hierarchy of hierarchies()) collect(join(hierarchy, name));
  return [...found];
}
