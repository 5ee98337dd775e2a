/**
 * `npm run lab:up` / `npm run lab:down`: the lab of two booted Debian hosts and a client namespace.
 *
 *   tsx test/lab/cli.ts up|down
 */
import { labDown, labUp } from './lab.ts';

const command = process.argv[2];
try {
  if (command === 'up') await labUp();
  else if (command === 'down') await labDown();
  else {
    process.stderr.write('usage: tsx test/lab/cli.ts up|down\n');
    process.exitCode = 2;
  }
} catch (error) {
  process.stderr.write(`lab ${command}: ${(error as Error).message}\n`);
  process.exitCode = 1;
}
