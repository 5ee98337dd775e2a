/**
 * Measures a rewrite of many files: 150 files of 32 KiB each over a real sshd on loopback, converged once, then
 * rewritten (their content switching between two versions) several times. Prints the wall time of each rewrite
 * and the commands it sent. The goal is at most 3 s for the 150.
 *
 *   npm run bench:rewrite -- [runs] [files]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connector } from '../src/cli/connect.ts';
import { compileRun } from '../src/engine/compile.ts';
import { executeRun } from '../src/engine/run.ts';
import { defineInventory, definePlaybook, file } from 'play';
import { startSshd } from '../test/support/sshd.ts';

const runs = Number(process.argv[2] ?? 5);
const count = Number(process.argv[3] ?? 150);
const sshd = await startSshd();
const root = mkdtempSync(join(tmpdir(), 'play-rewrite-'));
try {
  const inventory = defineInventory({
    hosts: { bench: { address: sshd.host, port: sshd.port } },
    ssh: { user: 'root', identityFile: sshd.identityFile, knownHostsFile: sshd.knownHostsFile },
  });
  // 32 KiB per file: a line of 32 bytes, 1024 times.
  const content = (index: number, version: number) => `${`v${version} file ${index}`.padEnd(31, '.')}\n`.repeat(1024);
  const playbook = (version: number) =>
    definePlaybook({
      inventory,
      plays: [
        {
          hosts: 'all',
          tasks: Array.from({ length: count }, (_, i) =>
            file({ path: join(root, `file-${i}.conf`), content: content(i, version), mode: '0644' }),
          ),
        },
      ],
    });
  const connect = connector(inventory, { acceptNewHostKeys: false });
  const once = async (version: number) => {
    const started = performance.now();
    const report = await executeRun(await compileRun(playbook(version), inventory), {
      check: false,
      forks: 10,
      connect,
    });
    if (report.hosts.bench.failed !== 0 || report.hosts.bench.changed !== count)
      throw new Error(
        `version ${version}: ${JSON.stringify(report.hosts.bench)}: ${report.tasks.find((t) => t.error)?.error?.slice(-600)}`,
      );
    return { ms: performance.now() - started, commands: report.hosts.bench.commands };
  };
  await once(0);
  const timings: number[] = [];
  const commands: number[] = [];
  for (let run = 1; run <= runs; run++) {
    const { ms, commands: sent } = await once(run);
    timings.push(ms);
    commands.push(sent);
  }
  timings.sort((a, b) => a - b);
  console.log(`rewrites: ${runs} of ${count} files × 32 KiB`);
  console.log(`commands per rewrite: min ${Math.min(...commands)} max ${Math.max(...commands)}`);
  console.log(
    `wall time per rewrite (connect included): min ${(timings[0] / 1000).toFixed(2)} s, median ${(timings[Math.floor(runs / 2)] / 1000).toFixed(2)} s, max ${(timings[runs - 1] / 1000).toFixed(2)} s (goal: at most 3 s)`,
  );
} finally {
  await sshd.stop();
  rmSync(root, { recursive: true, force: true });
}
