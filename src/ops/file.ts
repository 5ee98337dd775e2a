import type { ShellCommand } from '../connection/sh.ts';
import { pathProbe } from '../facts/file.ts';
import { Secret } from '../secret.ts';
import {
  attributeChanges,
  attributeSteps,
  normalizeMode,
  planAbsent,
  planFile,
  type FileAttributes,
} from './managed-file.ts';
import { task, type Op, type Plan, type PlanContext, type Task, type TaskOptions } from './op.ts';

/** A file's wanted state: its content (or only its attributes), or its absence. */
export interface FileParams extends FileAttributes, TaskOptions {
  readonly path: string;
  /** The whole content; omit to manage only the attributes of a file (created empty when missing). */
  readonly content?: string | Buffer | Secret;
  /** `present` (default) or `absent`. */
  readonly state?: 'present' | 'absent';
  /** A checker run on the new content before it replaces the old, e.g. `(p) => sh\`visudo -cf ${p}\``. */
  readonly validate?: (tempPath: string) => ShellCommand;
  /** Keep the old file as `PATH.YYYYMMDDTHHMMSS~` when it changes. */
  readonly backup?: boolean;
}

/**
 * A regular file with the given content, mode, owner and group, or no file at all.
 *
 * @example
 * file({ path: '/etc/motd', content: 'Welcome\n', mode: '0644', notify: 'restart sshd' })
 */
export function file(params: FileParams): Task {
  const mode = normalizeMode(params.mode, `file ${params.path}`);
  const op: Op = {
    kind: 'file',
    batchable: true,
    title: `file ${params.path}`,
    probes: () => [pathProbe(params.path)],
    async plan(context: PlanContext): Promise<Plan> {
      if (params.state === 'absent') return planAbsent(params.path, context);
      if (params.content === undefined) return planAttributesOnly(params.path, { ...params, mode }, context);
      const content = params.content instanceof Secret ? params.content : Buffer.from(params.content);
      return planFile({ ...params, mode, content }, context);
    },
  };
  return task(op, params);
}

async function planAttributesOnly(path: string, wanted: FileAttributes, context: PlanContext): Promise<Plan> {
  const state = await context.facts.get(pathProbe(path));
  if (state.type === 'absent') return planFile({ path, content: Buffer.alloc(0), ...wanted }, context);
  const changes = attributeChanges(state, wanted);
  if (changes.length === 0) return { changed: false, reason: 'attributes match' };
  return {
    changed: true,
    summary: `set ${changes.map((c) => c.name).join(', ')} of ${path}`,
    steps: attributeSteps(path, changes),
    diffs: [{ path, attributes: changes }],
  };
}
