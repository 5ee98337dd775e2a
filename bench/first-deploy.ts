/**
 * Times the first deploy of the school site on a bare lab, several times (`npm run bench:first-deploy [-- runs]`,
 * default 3): each run makes the lab anew (two bare, minimal Debian servers of PLAY_LAB_DEBIAN's release; their
 * packages come from the lab's apt proxy, whose cache building the root filled, so the network plays no part), then runs the built `play site -i inventory/lab.ts --json` from start to
 * exit. Prints min / median / max of the whole run, of the packages installed first (both servers at once), and of
 * each server's own turn (the primary's batch, then the backup's), and checks that a second run changes nothing.
 */
import { labDown, labUp } from '../test/lab/lab.ts';
import { percentile } from '../test/e2e/support/percentile.ts';
import { play } from '../test/e2e/support/play.ts';
import { PACKAGES_FIRST_TASK } from '../src/engine/packages-first.ts';
import { SITE } from './settle.ts';

const runs = Number(process.argv[2] ?? 3);
if (!Number.isInteger(runs) || runs < 1) {
  console.error('usage: npm run bench:first-deploy [-- RUNS]   (RUNS: a positive whole number, default 3)');
  process.exit(2);
}

interface Report {
  tasks: { host: string; task: string; durationMs: number }[];
  hosts: Record<string, { changed: number; failed: number; unreachable: number; durationMs: number }>;
}

const samples: Record<string, number[]> = {
  'whole run (s)': [],
  'packages first, both servers at once (s)': [],
  "primary's turn (s)": [],
  "backup's turn (s)": [],
};
for (let run = 1; run <= runs; run++) {
  await labDown();
  await labUp();
  const started = performance.now();
  const result = await play([...SITE, '--json']);
  const wall = (performance.now() - started) / 1000;
  if (result.code !== 0) throw new Error(`run ${run}: play exited ${result.code}\n${result.stderr.slice(-2000)}`);
  const report = JSON.parse(result.stdout) as Report;
  const first = report.tasks.filter((t) => t.task === PACKAGES_FIRST_TASK).map((t) => t.durationMs / 1000);
  const again = JSON.parse((await play([...SITE, '--json'])).stdout) as Report;
  const changedAgain = Object.values(again.hosts).reduce((sum, h) => sum + h.changed, 0);
  if (changedAgain !== 0) throw new Error(`run ${run}: a second run changed ${changedAgain} things`);
  samples['whole run (s)'].push(wall);
  samples['packages first, both servers at once (s)'].push(Math.max(0, ...first));
  // A host's recap time covers its plays; its packages first are counted apart.
  for (const host of ['primary', 'backup']) samples[`${host}'s turn (s)`].push(report.hosts[host].durationMs / 1000);
  console.log(
    `run ${run}: ${wall.toFixed(1)} s (packages first ${Math.max(0, ...first).toFixed(1)} s); a second run changed nothing`,
  );
}
await labDown();

console.log(`\nfirst deploy of the site on a bare lab, ${runs} run${runs === 1 ? '' : 's'} (min / median / max):`);
console.log('| what | min | median | max |\n|---|---|---|---|');
for (const [what, values] of Object.entries(samples)) {
  const sorted = [...values].sort((a, b) => a - b);
  console.log(
    `| ${what} | ${sorted[0].toFixed(1)} | ${percentile(sorted, 50).toFixed(1)} | ${sorted[sorted.length - 1].toFixed(1)} |`,
  );
}
console.log(
  `goal: the whole run at most 120 s (median ${percentile(
    [...samples['whole run (s)']].sort((a, b) => a - b),
    50,
  ).toFixed(1)} s)`,
);
