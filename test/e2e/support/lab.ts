import { labDown, labUp } from '../../lab/lab.ts';

/**
 * A fresh lab for one test file: whatever an earlier file did to the hosts is gone (about 10 s).
 * Call it from `beforeAll`; the global teardown removes the lab at the end of the run.
 */
export async function freshLab(): Promise<void> {
  await labDown();
  await labUp();
}
