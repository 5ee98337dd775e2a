import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestSshd } from '../test/support/sshd.ts';
import { NOOP_TEMPLATE } from './noop-role.ts';

const REPO = new URL('..', import.meta.url).pathname.replace(/\/$/, '');

/** One host of a bench project: its inventory name and the real sshd it is reached through. */
export interface BenchHost {
  readonly name: string;
  readonly sshd: TestSshd;
}

/**
 * Writes a play project in `dir` that runs the role of `bench:noop` (a copy of bench/noop-role.ts) on every
 * host, each host's files in a folder of its own (`dir/NAME`), with one known_hosts file holding every host's
 * key. The playbook's and the role's `import 'play'` resolve from `dir`: inside the repository to this package,
 * in a school's project to the play installed there. Returns the playbook's path.
 *
 * @example
 * const playbook = writeNoopProject(dir, sshds.map((sshd, i) => ({ name: `bench${i}`, sshd })));
 */
export function writeNoopProject(dir: string, hosts: readonly BenchHost[]): string {
  writeFileSync(join(dir, 'file.ejs'), NOOP_TEMPLATE);
  copyFileSync(join(REPO, 'bench/noop-role.ts'), join(dir, 'noop-role.ts'));
  for (const { name } of hosts) mkdirSync(join(dir, name));
  const inventory = Object.fromEntries(
    hosts.map(({ name, sshd }) => [
      name,
      {
        address: sshd.host,
        port: sshd.port,
        identityFile: sshd.identityFile,
        vars: { site: name, root: join(dir, name) },
      },
    ]),
  );
  const playbook = join(dir, 'noop.ts');
  writeFileSync(
    playbook,
    `import { defineInventory, definePlaybook } from 'play';
import { noopBenchRole } from './noop-role.ts';

const inventory = defineInventory({
  hosts: ${JSON.stringify(inventory)},
  ssh: { user: 'root', knownHostsFile: ${JSON.stringify(join(dir, 'known_hosts'))} },
});

export default definePlaybook({ inventory, plays: [{ hosts: 'all', roles: [noopBenchRole(${JSON.stringify(join(dir, 'file.ejs'))})] }] });
`,
  );
  writeFileSync(
    join(dir, 'known_hosts'),
    hosts.map(({ sshd }) => execFileSync('cat', [sshd.knownHostsFile], { encoding: 'utf8' })).join(''),
  );
  return playbook;
}
