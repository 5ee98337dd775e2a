import { labDown, labUp } from '../lab/lab.ts';

/**
 * Every end-to-end run starts from a fresh lab (also cleaning what a killed run left) and removes it after;
 * each test file also starts from a fresh lab of its own (support/lab.ts).
 */
export async function setup(): Promise<void> {
  if (process.env.PLAY_REUSE_LAB) return void (await labUp());
  await labDown();
  try {
    await labUp();
  } catch (error) {
    await labDown();
    throw error;
  }
}

export async function teardown(): Promise<void> {
  if (process.env.PLAY_KEEP_LAB) return;
  await labDown();
}
