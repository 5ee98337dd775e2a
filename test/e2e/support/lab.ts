import { labDown, labUp } from '../../lab/lab.ts';

/**
 * A fresh lab for one test file: whatever an earlier file did to the hosts is gone (about 10 s).
 * Call it from `beforeAll`; the global teardown removes the lab at the end of the run. While writing a test,
 * `PLAY_REUSE_LAB=1` keeps the running lab as it is (with `PLAY_KEEP_LAB=1`, and `-t` to pick tests).
 */
export async function freshLab(): Promise<void> {
  if (process.env.PLAY_REUSE_LAB) return;
  await labDown();
  await labUp();
}
