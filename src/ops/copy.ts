import { readFileSync } from 'node:fs';
import { PlayError } from '../errors.ts';
import { controllerFileTask, type ControllerFileParams } from './managed-file.ts';
import { resolveSource } from './template.ts';
import type { PrepareContext, Task } from './op.ts';

/** A file copied as it is from the controller. */
export interface CopyParams extends ControllerFileParams {
  /** The source: relative to the role's `files/` folder (or the current folder outside a role), or absolute. */
  readonly src: string;
}

/**
 * A file copied byte for byte from the controller.
 *
 * @example
 * copy({ src: 'logo.png', dest: '/var/www/logo.png', mode: '0644' })
 */
export function copy(params: CopyParams): Task {
  return controllerFileTask('copy', params, (context: PrepareContext): Buffer => {
    const source = resolveSource(params.src, 'files', context.roleDir);
    try {
      return readFileSync(source);
    } catch (error) {
      throw new PlayError(`copy: cannot read ${source}: ${(error as Error).message}`);
    }
  });
}
