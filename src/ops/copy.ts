import { readFileSync } from 'node:fs';
import type { ShellCommand } from '../connection/sh.ts';
import { pathProbe } from '../facts/file.ts';
import { PlayError } from '../errors.ts';
import { normalizeMode, planFile, type FileAttributes } from './managed-file.ts';
import { resolveSource } from './template.ts';
import { task, type Op, type PrepareContext, type Task, type TaskOptions } from './op.ts';

/** A file copied as it is from the controller. */
export interface CopyParams extends FileAttributes, TaskOptions {
  /** The source: relative to the role's `files/` folder (or the current folder outside a role), or absolute. */
  readonly src: string;
  readonly dest: string;
  readonly validate?: (tempPath: string) => ShellCommand;
  readonly backup?: boolean;
}

/**
 * A file copied byte for byte from the controller.
 *
 * @example
 * copy({ src: 'logo.png', dest: '/var/www/logo.png', mode: '0644' })
 */
export function copy(params: CopyParams): Task {
  const mode = normalizeMode(params.mode, `copy ${params.dest}`);
  const read = (context: PrepareContext): Buffer => {
    const source = resolveSource(params.src, 'files', context.roleDir);
    try {
      return readFileSync(source);
    } catch (error) {
      throw new PlayError(`copy: cannot read ${source}: ${(error as Error).message}`);
    }
  };
  const op: Op<Buffer> = {
    kind: 'copy',
    batchable: true,
    title: `copy ${params.dest}`,
    prepare: read,
    probes: () => [pathProbe(params.dest)],
    async plan(context) {
      return planFile({ ...params, path: params.dest, mode, content: context.prepared ?? read(context) }, context);
    },
  };
  return task(op, params);
}
