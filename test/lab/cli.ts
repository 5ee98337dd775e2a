/**
 * `npm run lab:up` / `npm run lab:down`: the lab of two booted Debian hosts and a client namespace.
 *
 *   tsx test/lab/cli.ts up|down|install
 */
import { downloadHostPackages, installMachinePackages, labDown, labUp } from './lab.ts';

const command = process.argv[2];
try {
  if (command === 'up') await labUp();
  else if (command === 'down') await labDown();
  else if (command === 'install') {
    // What the lab needs on this machine, and the hosts' packages in the apt cache (run before any lab is up).
    installMachinePackages();
    downloadHostPackages();
  }
  else {
    process.stderr.write('usage: tsx test/lab/cli.ts up|down|install\n');
    process.exitCode = 2;
  }
} catch (error) {
  process.stderr.write(`lab ${command}: ${(error as Error).message}\n`);
  process.exitCode = 1;
}
