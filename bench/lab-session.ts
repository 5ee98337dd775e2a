import { labDown, labUp } from '../test/lab/lab.ts';

/**
 * Runs a benchmark's body on a lab it brings up, and takes the lab down when the body ends, also when it fails, so
 * that no benchmark leaves two servers running beside the next test or CI run. `PLAY_KEEP_LAB=1` keeps it up for
 * a look afterwards (`npm run lab:down` removes it then).
 *
 * @example
 * await inLab(async () => { await play(SITE); … });
 */
export async function inLab(body: () => Promise<void>): Promise<void> {
  await labUp();
  try {
    await body();
  } finally {
    if (!process.env.PLAY_KEEP_LAB) await labDown();
  }
}
