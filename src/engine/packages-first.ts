import { packagesProbe } from '../facts/packages.ts';
import type { FactReader, PackageWant, Plan } from '../ops/op.ts';
import { installSteps } from '../ops/package.ts';
import type { BoundTask } from './compile.ts';

/** The name under which a play's packages installed first are reported. */
export const PACKAGES_FIRST_TASK = "the play's packages, installed first";

/**
 * The tasks of one host's play whose packages a play with `installPackagesFirst` installs before its batches:
 * packages ops that want packages present and notify no handler (a handler must see its own task change).
 */
export function packagesFirstTasks(tasks: readonly BoundTask[]): BoundTask[] {
  return tasks.filter((bound) => bound.task.op.packageWant !== undefined && bound.task.notify.length === 0);
}

/**
 * Installing in one go what those tasks want and the host lacks ({@link installSteps}: one `apt-get install`, two
 * when some want no recommends), read from the same package facts the tasks themselves read.
 */
export async function packagesFirstPlan(tasks: readonly BoundTask[], facts: FactReader): Promise<Plan> {
  const wants: PackageWant[] = [];
  for (const bound of tasks) {
    const want = bound.task.op.packageWant;
    if (want === undefined) continue;
    const versions = await facts.get(packagesProbe(want.names));
    const missing = want.names.filter((name) => versions.get(name) === undefined);
    if (missing.length) wants.push({ ...want, names: missing });
  }
  if (wants.length === 0) return { changed: false, reason: 'every package is installed' };
  const names = [...new Set(wants.flatMap((w) => w.names))];
  return { changed: true, summary: `install ${names.join(', ')}`, steps: installSteps(wants), diffs: [] };
}
