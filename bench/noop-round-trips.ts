/**
 * Measures what a no-op run costs: a role with 30 templated files, 5 packages, 3 users and 2 services,
 * converged once, then run again several times over a real sshd on loopback. Prints the commands sent per
 * host (round trips, from the JSON report's `commands`) and the wall time of each no-op run.
 *
 *   npx tsx bench/noop-round-trips.ts [runs]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connector } from '../src/cli/connect.ts';
import { compileRun } from '../src/engine/compile.ts';
import { executeRun } from '../src/engine/run.ts';
import { defineInventory, definePlaybook } from 'play';
import { NOOP_TEMPLATE, noopBenchRole } from './noop-role.ts';
import { startSshd } from '../test/support/sshd.ts';

const runs = Number(process.argv[2] ?? 5);
const sshd = await startSshd();
const root = mkdtempSync(join(tmpdir(), 'play-bench-'));
try {
  writeFileSync(join(root, 'file.ejs'), NOOP_TEMPLATE);
  const role = noopBenchRole(join(root, 'file.ejs'));
  const inventory = defineInventory({
    hosts: { bench: { address: sshd.host, port: sshd.port, vars: { site: 'bench', root } } },
    ssh: { user: 'root', identityFile: sshd.identityFile, knownHostsFile: sshd.knownHostsFile },
  });
  const playbook = definePlaybook({ inventory, plays: [{ hosts: 'all', roles: [role] }] });
  const connect = connector(inventory, { acceptNewHostKeys: false });
  const once = async () => {
    const started = performance.now();
    const report = await executeRun(await compileRun(playbook, inventory), { check: false, forks: 10, connect });
    return { report, ms: performance.now() - started };
  };
  const first = await once();
  console.log(
    `converge: changed=${first.report.hosts.bench.changed} failed=${first.report.hosts.bench.failed} commands=${first.report.hosts.bench.commands}`,
  );
  const timings: number[] = [];
  const commands: number[] = [];
  for (let i = 0; i < runs; i++) {
    const { report, ms } = await once();
    if (report.hosts.bench.changed !== 0 || report.hosts.bench.failed !== 0)
      throw new Error(`run ${i} was not a no-op: ${JSON.stringify(report.hosts.bench)}`);
    timings.push(ms);
    commands.push(report.hosts.bench.commands);
  }
  timings.sort((a, b) => a - b);
  console.log(`no-op runs: ${runs}; tasks per run: 38`);
  console.log(`commands per host per no-op run: min ${Math.min(...commands)} max ${Math.max(...commands)}`);
  console.log(
    `wall time per no-op run (connect included): min ${timings[0].toFixed(0)} ms, median ${timings[Math.floor(runs / 2)].toFixed(0)} ms, max ${timings[runs - 1].toFixed(0)} ms`,
  );
} finally {
  await sshd.stop();
  rmSync(root, { recursive: true, force: true });
}
