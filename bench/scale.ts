/**
 * How play's no-op grows with the number of hosts: the role of `bench:noop` (30 templated files, 5 packages, 3
 * users, 2 services) on N hosts, each a real OpenSSH sshd on loopback with a folder of its own (the lightest
 * host that still runs the real sshd and the real commands). play converges them once; then the built bin
 * (`node dist/src/cli/play.js`, what `npx play` runs) is run RUNS times under GNU time, and for each N it prints
 * the wall time, the controller's CPU time (user + system, its children included), its peak resident memory and
 * the commands each host was sent. It also reads the whole machine's busy CPU time around each run (/proc/stat):
 * what is left once the controller's is taken out is the hosts' own (their sshds and the probe commands), and the
 * machine's busy time divided by its cores is a floor no controller can run under here. At the largest N it also
 * tries several `--forks` to find the best default. Run it on an idle machine: /proc/stat counts everything.
 *
 *   npm run bench:scale -- [SIZES] [RUNS] [FORKS]     (defaults: 2,10,50,100  5  10,25,50,100)
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, relative } from 'node:path';
import { DEFAULT_FORKS } from '../src/cli/args.ts';
import { percentile } from '../test/e2e/support/percentile.ts';
import { startSshd, type TestSshd } from '../test/support/sshd.ts';
import { writeNoopProject } from './noop-project.ts';

const REPO = new URL('..', import.meta.url).pathname.replace(/\/$/, '');
// Each sshd adds an exit listener (it is killed if the bench dies); 100 of them are expected.
process.setMaxListeners(0);
const BIN = join(REPO, 'dist/src/cli/play.js');
const sizes = (process.argv[2] ?? '2,10,50,100').split(',').map(Number);
const runs = Number(process.argv[3] ?? 5);
const forksTried = (process.argv[4] ?? '10,25,50,100').split(',').map(Number);
const CORES = availableParallelism();
/** /proc/stat's clock ticks per second (USER_HZ, 100 on Linux). */
const TICKS_PER_S = 100;

/** One timed run of the bin: GNU time's figures and play's JSON report. */
interface Measured {
  wallS: number;
  cpuS: number;
  /** The whole machine's busy CPU time during the run (every core, every process). */
  machineCpuS: number;
  peakMiB: number;
  commands: number[];
}

/** The machine's busy CPU seconds since boot: every field of /proc/stat's `cpu` line but idle and iowait. */
function machineBusyS(): number {
  const [, user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8')
    .split('\n')[0]
    .trim()
    .split(/\s+/)
    .map(Number);
  return (user + nice + system + irq + softirq + steal) / TICKS_PER_S;
}

function once(playbook: string, forks: number): Measured {
  const timesFile = join(REPO, 'bench', `.scale-time-${process.pid}`);
  const busyBefore = machineBusyS();
  const run = spawnSync(
    '/usr/bin/time',
    ['-o', timesFile, '-f', '%e %U %S %M', 'node', BIN, playbook, '--json', '--forks', String(forks)],
    { cwd: REPO, encoding: 'utf8', maxBuffer: 64 << 20 },
  );
  const machineCpuS = machineBusyS() - busyBefore;
  const lines = readFileSync(timesFile, 'utf8').trim().split('\n');
  const times = lines[lines.length - 1].split(' ').map(Number);
  rmSync(timesFile, { force: true });
  if (run.status !== 0)
    throw new Error(`play exited ${run.status}:\n${run.stdout.slice(-4000)}\n${run.stderr.slice(-4000)}`);
  const report = JSON.parse(run.stdout) as {
    hosts: Record<string, { changed: number; failed: number; commands: number }>;
  };
  const hosts = Object.values(report.hosts);
  if (hosts.some((h) => h.changed !== 0 || h.failed !== 0))
    throw new Error(`not a no-op: ${JSON.stringify(report.hosts)}`);
  const [wallS, userS, systemS, peakKiB] = times;
  return { wallS, cpuS: userS + systemS, machineCpuS, peakMiB: peakKiB / 1024, commands: hosts.map((h) => h.commands) };
}

const sortedUp = (values: number[]) => [...values].sort((a, b) => a - b);
const median = (values: number[]) => percentile(sortedUp(values), 50);
const minMedianMax = (values: number[], digits: number) => {
  const sorted = sortedUp(values);
  return `${sorted[0].toFixed(digits)} / ${percentile(sorted, 50).toFixed(digits)} / ${sorted[sorted.length - 1].toFixed(digits)}`;
};

const rows: string[] = [];
let baseline: number | undefined;
for (const n of sizes) {
  const dir = mkdtempSync(join(REPO, 'bench', '.scale-'));
  const sshds: TestSshd[] = [];
  try {
    // Started a few at a time: each generates three keys.
    for (let i = 0; i < n; i += 10)
      sshds.push(...(await Promise.all(Array.from({ length: Math.min(10, n - i) }, () => startSshd()))));
    const playbook = relative(
      REPO,
      writeNoopProject(
        dir,
        sshds.map((sshd, i) => ({ name: `bench${i}`, sshd })),
      ),
    );
    const converge = spawnSync('node', [BIN, playbook, '--json', '--forks', String(DEFAULT_FORKS)], {
      cwd: REPO,
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    if (converge.status !== 0)
      throw new Error(`play did not converge ${n} hosts (exit ${converge.status}):\n${converge.stderr.slice(-4000)}`);
    const forksHere =
      n === Math.max(...sizes) ? [...new Set([DEFAULT_FORKS, ...forksTried.filter((f) => f <= n)])] : [DEFAULT_FORKS];
    for (const forks of forksHere) {
      const measured: Measured[] = [];
      for (let i = 0; i < runs; i++) measured.push(once(playbook, forks));
      const wall = measured.map((m) => m.wallS);
      if (forks === DEFAULT_FORKS && baseline === undefined) baseline = median(wall);
      const ratio = baseline === undefined ? '' : `${(median(wall) / baseline).toFixed(2)}×`;
      const commands = measured.flatMap((m) => m.commands);
      const hostsCpu = measured.map((m) => Math.max(0, m.machineCpuS - m.cpuS));
      const floor = measured.map((m) => m.machineCpuS / CORES);
      rows.push(
        `| ${n} | ${forks} | ${minMedianMax(wall, 2)} s | ${forks === DEFAULT_FORKS ? ratio : ''} | ${minMedianMax(
          measured.map((m) => m.cpuS),
          2,
        )} s | ${minMedianMax(hostsCpu, 2)} s | ${median(floor).toFixed(2)} s | ${Math.max(...measured.map((m) => m.peakMiB)).toFixed(0)} MiB | ${Math.min(...commands)}–${Math.max(...commands)} |`,
      );
      console.log(rows.at(-1));
    }
  } finally {
    await Promise.all(sshds.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}
console.log(
  `\n${runs} no-op runs per row; wall and CPU as min / median / max; peak memory is the largest of the runs.`,
);
console.log(
  `The hosts' CPU is the machine's busy time (/proc/stat) less the controller's; the floor is the machine's busy time ÷ its ${CORES} cores (median).`,
);
console.log(
  `| hosts | --forks | wall | wall ÷ ${sizes[0]} hosts' (median) | controller CPU | hosts' CPU | floor on ${CORES} cores | peak memory | commands per host |`,
);
console.log('|---|---|---|---|---|---|---|---|---|');
for (const row of rows) console.log(row);
