/**
 * `npm run lab:up` / `npm run lab:down`: the lab of two booted Debian hosts and a client namespace.
 *
 *   tsx test/lab/cli.ts up|down|install [machine|roots]
 *
 * `install` alone does both parts: `machine` installs the lab's tools on this machine, `roots` builds the Debian
 * roots and fills the apt proxy's cache (CI runs it beside the unit tests, which need neither).
 */
import { DEBIAN_RELEASES, type DebianMajor } from './config.ts';
import { installMachinePackages, labDown, labUp, prepareDebianRoots } from './lab.ts';

const RELEASES = Object.keys(DEBIAN_RELEASES).map(Number) as DebianMajor[];

const command = process.argv[2];
try {
  if (command === 'up') await labUp();
  else if (command === 'down') await labDown();
  else if (command === 'install') {
    // What the lab needs on this machine, the roots of both Debian releases (npm test boots 13, then 12 for its
    // release files) and the roles' packages in the apt proxy's cache; lab:down removes the bridge and the proxy,
    // the cache stays.
    const part = process.argv[3];
    if (part !== undefined && part !== 'machine' && part !== 'roots') throw new Error(`no part ${part} to install`);
    if (part !== 'roots') installMachinePackages();
    if (part !== 'machine') await prepareDebianRoots(RELEASES);
  } else {
    process.stderr.write('usage: tsx test/lab/cli.ts up|down|install [machine|roots]\n');
    process.exitCode = 2;
  }
} catch (error) {
  process.stderr.write(`lab ${command}: ${(error as Error).message}\n`);
  process.exitCode = 1;
}
