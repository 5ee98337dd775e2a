/**
 * play against Ansible on the same no-op work: the role of `bench:noop` (30 templated files, 5 packages, 3 users,
 * 2 services) and its Ansible twin (`bench/ansible/noop.yml`, Debian's ansible-core), on N hosts, each a real sshd
 * on loopback with a folder of its own. play converges them first; then the twin runs once and must report
 * `changed=0` on every host (it is the same work), and then `farm-bench` runs both whole commands alternately
 * and prints the ratio of their medians: play's installed command (`dist/src/cli/play.js`, run through its
 * shebang as `play` on the PATH or `node_modules/.bin/play` is) against `ansible-playbook`. Then it times
 * `npx play …` alone, which adds npx's own start, twice: in a school's project (play packed, installed from its
 * tarball into a folder outside the repository, as the README's "Another school" does; the one a user runs) and
 * in this repository (where npx also reads the tree of the development dependencies), and prints those ratios.
 *
 *   npm run bench:versus-ansible -- [HOSTS,…] [RUNS]     (default 2,10 and 5; needs: apt-get install ansible-core)
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { startSshd } from '../test/support/sshd.ts';
import { writeNoopProject, type BenchHost } from './noop-project.ts';

const REPO = new URL('..', import.meta.url).pathname.replace(/\/$/, '');
/** play's installed command: the built bin, started through its `#!/usr/bin/env node` line. */
const BIN = join(REPO, 'dist/src/cli/play.js');
// Each sshd adds an exit listener (it is killed if the bench dies).
process.setMaxListeners(0);
const sizes = (process.argv[2] ?? '2,10').split(',').map(Number);
const runs = Number(process.argv[3] ?? 5);

if (spawnSync('ansible-playbook', ['--version']).status !== 0) {
  console.error('bench: ansible-playbook not found (apt-get install ansible-core)');
  process.exit(2);
}

/** The Ansible side: an inventory of the same hosts (same key, same known_hosts) for bench/ansible/noop.yml. */
function ansibleInventory(dir: string, hosts: readonly BenchHost[]): string {
  const file = join(dir, 'hosts.ini');
  const lines = hosts.map(
    ({ name, sshd }) =>
      `${name} ansible_host=${sshd.host} ansible_port=${sshd.port} ansible_user=root ansible_ssh_private_key_file=${sshd.identityFile} site=${name} root=${join(dir, name)} ansible_ssh_common_args='-o UserKnownHostsFile=${join(dir, 'known_hosts')} -o StrictHostKeyChecking=yes'`,
  );
  writeFileSync(file, `[all]\n${lines.join('\n')}\n`);
  return file;
}

/** The min, median and max of one farm-bench figure line (`A wall s   min median max`). */
function figures(report: string, figure: string): { min: number; median: number; max: number } {
  const line = report.split('\n').find((l) => l.startsWith(figure));
  if (!line) throw new Error(`farm-bench printed no "${figure}" line:\n${report}`);
  const [min, median, max] = line.trim().split(/\s+/).slice(-3).map(Number);
  return { min, median, max };
}

/** A wall time as docs/performance.md's table gives it: min / median / max in seconds. */
const spread = ({ min, median, max }: { min: number; median: number; max: number }) =>
  `${min.toFixed(3)} / ${median.toFixed(3)} / ${max.toFixed(3)} s`;

const ansibleEnv = {
  ...process.env,
  ANSIBLE_PIPELINING: 'True',
  ANSIBLE_NOCOLOR: '1',
  ANSIBLE_FORCE_COLOR: '0',
  ANSIBLE_STDOUT_CALLBACK: 'default',
};
/**
 * A school's project outside the repository with this play installed from its packed tarball (npm's cache
 * serves the dependencies). Returns its folder.
 */
function installedProject(): string {
  const project = mkdtempSync(join(tmpdir(), 'play-bench-school-'));
  const step = (command: string, args: string[], cwd: string) => {
    const r = spawnSync(command, args, { cwd, encoding: 'utf8' });
    if (r.status !== 0)
      throw new Error(`${command} ${args.join(' ')} failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
  };
  step('npm', ['pack', '--pack-destination', project], REPO);
  const tarball = readdirSync(project).find((f) => f.endsWith('.tgz'));
  if (!tarball) throw new Error(`npm pack wrote no tarball in ${project}`);
  writeFileSync(
    join(project, 'package.json'),
    `${JSON.stringify({ name: 'bench-school', private: true, type: 'module' })}\n`,
  );
  step('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', `./${tarball}`], project);
  return project;
}

/** The wall times of `npx play PLAYBOOK` in `cwd`, after one run that must change nothing. */
function npxWall(cwd: string, playbook: string, label: string): { min: number; median: number; max: number } {
  const once = JSON.parse(spawnSync('npx', ['play', playbook, '--json'], { cwd, encoding: 'utf8' }).stdout) as {
    hosts: Record<string, { changed: number }>;
  };
  if (Object.values(once.hosts).some((h) => h.changed !== 0)) throw new Error(`npx play in ${cwd}: not a no-op`);
  const viaNpx = spawnSync('farm-bench', ['-n', String(runs), '--', 'npx', 'play', playbook], {
    cwd,
    encoding: 'utf8',
  });
  if (viaNpx.status !== 0) throw new Error(`farm-bench failed:\n${viaNpx.stdout}\n${viaNpx.stderr}`);
  console.log(`\n${label} (${runs} runs):\n${(viaNpx.stdout + viaNpx.stderr).trim()}`);
  return figures(viaNpx.stdout + viaNpx.stderr, 'A wall s');
}

const school = installedProject();
const rows: string[] = [];
for (const n of sizes) {
  // Inside the repository, so that the generated playbook's `import 'play'` resolves to this package.
  const dir = mkdtempSync(join(REPO, 'bench', '.versus-'));
  const sshds = await Promise.all(Array.from({ length: n }, () => startSshd()));
  try {
    const hosts = sshds.map((sshd, i) => ({ name: `bench${i}`, sshd }));
    const playbook = relative(REPO, writeNoopProject(dir, hosts));
    const inventory = ansibleInventory(dir, hosts);
    const yml = join(REPO, 'bench/ansible/noop.yml');
    const converge = spawnSync('npx', ['play', playbook, '--json'], { cwd: REPO, encoding: 'utf8' });
    if (converge.status !== 0)
      throw new Error(`play did not converge (exit ${converge.status}):\n${converge.stdout}\n${converge.stderr}`);
    // The twin after play converged: the same work, so nothing to change on any host.
    const twin = spawnSync('ansible-playbook', ['-i', inventory, yml], {
      cwd: REPO,
      encoding: 'utf8',
      env: ansibleEnv,
    });
    const recap = twin.stdout.split('PLAY RECAP')[1] ?? '';
    const changedHosts = [...recap.matchAll(/^(\S+)\s+:.*changed=(\d+).*failed=(\d+)/gm)];
    if (twin.status !== 0 || changedHosts.length !== n || changedHosts.some((m) => m[2] !== '0' || m[3] !== '0')) {
      throw new Error(
        `the Ansible twin did not find play's work done (exit ${twin.status}):\n${twin.stdout}\n${twin.stderr}`,
      );
    }
    const again = JSON.parse(
      spawnSync('npx', ['play', playbook, '--json'], { cwd: REPO, encoding: 'utf8' }).stdout,
    ) as { hosts: Record<string, { changed: number; commands: number }> };
    if (Object.values(again.hosts).some((h) => h.changed !== 0))
      throw new Error('play changed something on a converged host');
    const commands = Object.values(again.hosts).map((h) => h.commands);
    const bench = spawnSync(
      'farm-bench',
      [
        '-n',
        String(runs),
        '--timeout',
        '3000',
        '--vs',
        `env ANSIBLE_PIPELINING=True ansible-playbook -i ${inventory} ${yml}`,
        '--',
        BIN,
        playbook,
      ],
      { cwd: REPO, encoding: 'utf8' },
    );
    if (bench.status !== 0) throw new Error(`farm-bench failed:\n${bench.stdout}\n${bench.stderr}`);
    const report = bench.stdout + bench.stderr;
    const play = figures(report, 'A wall s');
    const ansible = figures(report, 'B wall s');
    const ratio = figures(report, 'A/B wall').median;
    console.log(`\n${n} hosts (${runs} runs each, alternately):\n${report.trim()}`);
    const inRepo = npxWall(REPO, playbook, `${n} hosts, npx play in this repository`);
    // The same hosts from the school's project: its first run writes the files into its own folders.
    const schoolDir = mkdtempSync(join(school, `hosts${n}-`));
    const schoolPlaybook = relative(school, writeNoopProject(schoolDir, hosts));
    const first = spawnSync('npx', ['play', schoolPlaybook, '--json'], { cwd: school, encoding: 'utf8' });
    if (first.status !== 0)
      throw new Error(
        `play did not converge in the school's project (exit ${first.status}):\n${first.stdout}\n${first.stderr}`,
      );
    const installed = npxWall(school, schoolPlaybook, `${n} hosts, npx play in a school's project`);
    rows.push(
      `| ${n} | ${spread(play)} | ${spread(ansible)} | ${(1 / ratio).toFixed(1)}× | ${spread(installed)} | ${(ansible.median / installed.median).toFixed(1)}× | ${spread(inRepo)} | ${Math.max(...commands)} |`,
    );
  } finally {
    await Promise.all(sshds.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}
rmSync(school, { recursive: true, force: true });
console.log(
  "\n| hosts | `play` no-op (wall: min / median / max) | Ansible twin | `play` faster by (median of pairs) | `npx play` in a school's project | `npx play` there faster by (ratio of medians) | `npx play` in this repository | play commands per host |",
);
console.log('|---|---|---|---|---|---|---|---|');
for (const row of rows) console.log(row);
