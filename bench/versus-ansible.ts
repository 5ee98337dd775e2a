/**
 * play against Ansible on the same no-op work: the role of `bench:noop` (30 templated files, 5 packages, 3 users,
 * 2 services) and its Ansible twin (`bench/ansible/noop.yml`, Debian's ansible-core), on N hosts, each a real sshd
 * on loopback with a folder of its own. play converges them first; then the twin runs once and must report
 * `changed=0` on every host (it is the same work), and then `farm-bench` runs both whole commands alternately
 * and prints the ratio of their medians: play's installed command (`dist/src/cli/play.js`, run through its
 * shebang as `play` on the PATH or `node_modules/.bin/play` is) against `ansible-playbook`. Then it times
 * `npx play …` alone, which adds npx's own start (about 0.45 s here), and prints that ratio too.
 *
 *   npm run bench:versus-ansible -- [HOSTS,…] [RUNS]     (default 2,10 and 5; needs: apt-get install ansible-core)
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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

/** The median of one farm-bench figure line (`A wall s   min median max`). */
function median(report: string, figure: string): number {
  const line = report.split('\n').find((l) => l.startsWith(figure));
  if (!line) throw new Error(`farm-bench printed no "${figure}" line:\n${report}`);
  return Number(line.trim().split(/\s+/).at(-2));
}

const ansibleEnv = { ...process.env, ANSIBLE_PIPELINING: 'True', ANSIBLE_NOCOLOR: '1', ANSIBLE_FORCE_COLOR: '0', ANSIBLE_STDOUT_CALLBACK: 'default' };
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
    if (converge.status !== 0) throw new Error(`play did not converge (exit ${converge.status}):\n${converge.stdout}\n${converge.stderr}`);
    // The twin after play converged: the same work, so nothing to change on any host.
    const twin = spawnSync('ansible-playbook', ['-i', inventory, yml], { cwd: REPO, encoding: 'utf8', env: ansibleEnv });
    const recap = twin.stdout.split('PLAY RECAP')[1] ?? '';
    const changedHosts = [...recap.matchAll(/^(\S+)\s+:.*changed=(\d+).*failed=(\d+)/gm)];
    if (twin.status !== 0 || changedHosts.length !== n || changedHosts.some((m) => m[2] !== '0' || m[3] !== '0')) {
      throw new Error(`the Ansible twin did not find play's work done (exit ${twin.status}):\n${twin.stdout}\n${twin.stderr}`);
    }
    const again = JSON.parse(spawnSync('npx', ['play', playbook, '--json'], { cwd: REPO, encoding: 'utf8' }).stdout) as { hosts: Record<string, { changed: number; commands: number }> };
    if (Object.values(again.hosts).some((h) => h.changed !== 0)) throw new Error('play changed something on a converged host');
    const commands = Object.values(again.hosts).map((h) => h.commands);
    const bench = spawnSync(
      'farm-bench',
      ['-n', String(runs), '--timeout', '3000', '--vs', `env ANSIBLE_PIPELINING=True ansible-playbook -i ${inventory} ${yml}`, '--', BIN, playbook],
      { cwd: REPO, encoding: 'utf8' },
    );
    if (bench.status !== 0) throw new Error(`farm-bench failed:\n${bench.stdout}\n${bench.stderr}`);
    const report = bench.stdout + bench.stderr;
    const play = median(report, 'A wall s');
    const ansible = median(report, 'B wall s');
    const ratio = median(report, 'A/B wall');
    console.log(`\n${n} hosts (${runs} runs each, alternately):\n${report.trim()}`);
    const viaNpx = spawnSync('farm-bench', ['-n', String(runs), '--', 'npx', 'play', playbook], { cwd: REPO, encoding: 'utf8' });
    if (viaNpx.status !== 0) throw new Error(`farm-bench failed:\n${viaNpx.stdout}\n${viaNpx.stderr}`);
    const npx = median(viaNpx.stdout + viaNpx.stderr, 'A wall s');
    console.log(`\n${n} hosts, npx play (${runs} runs):\n${(viaNpx.stdout + viaNpx.stderr).trim()}`);
    rows.push(`| ${n} | ${play.toFixed(3)} s | ${ansible.toFixed(3)} s | ${(1 / ratio).toFixed(1)}× | ${npx.toFixed(3)} s | ${(ansible / npx).toFixed(1)}× | ${Math.max(...commands)} |`);
  } finally {
    await Promise.all(sshds.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}
console.log('\n| hosts | `play` no-op (median wall) | Ansible twin (median wall) | `play` faster by (median of pairs) | `npx play` (median wall) | `npx play` faster by (ratio of medians) | play commands per host |');
console.log('|---|---|---|---|---|---|---|');
for (const row of rows) console.log(row);
