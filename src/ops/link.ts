import { sh } from '../connection/sh.ts';
import { pathProbe } from '../facts/file.ts';
import { PlayError } from '../errors.ts';
import { planAbsent } from './managed-file.ts';
import { opOnFact, task, type Task, type TaskOptions } from './op.ts';

/** A symbolic link's wanted state. */
export interface LinkParams extends TaskOptions {
  readonly path: string;
  /** What the link points to (required unless `state: 'absent'`). */
  readonly target?: string;
  readonly state?: 'present' | 'absent';
  /** Replace a regular file or empty directory standing at `path`. */
  readonly force?: boolean;
}

/**
 * A symbolic link at `path` pointing to `target`.
 *
 * @example
 * link({ path: '/etc/apache2/sites-enabled/mail.conf', target: '../sites-available/mail.conf' })
 */
export function link(params: LinkParams): Task {
  const op = opOnFact({
    kind: 'link',
    title: `link ${params.path}`,
    fact: pathProbe(params.path),
    async plan(state, context) {
      if (params.state === 'absent') return planAbsent(params.path, context);
      if (!params.target) throw new PlayError(`link ${params.path}: target is required`);
      if (state.type === 'link' && state.linkTarget === params.target)
        return { changed: false, reason: `points to ${params.target}` };
      if (state.type !== 'absent' && state.type !== 'link' && !params.force) {
        throw new PlayError(`${params.path} is a ${state.type}; set force: true to replace it with a link`);
      }
      const before = state.type === 'link' ? (state.linkTarget ?? '') : state.type;
      const command =
        state.type === 'file' || state.type === 'directory'
          ? sh`rm -f -- ${params.path} 2>/dev/null || rmdir -- ${params.path}; ln -sfn -- ${params.target} ${params.path}`
          : sh`ln -sfn -- ${params.target} ${params.path}`;
      return {
        changed: true,
        summary: `link ${params.path} → ${params.target}`,
        steps: [{ kind: 'exec', command, affects: [params.path] }],
        diffs: [{ path: params.path, attributes: [{ name: 'link', before, after: params.target }] }],
      };
    },
  });
  return task(op, params);
}
