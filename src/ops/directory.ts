import { dirname } from 'node:path';
import { sh, joinCommands } from '../connection/sh.ts';
import { pathProbe } from '../facts/file.ts';
import { PlayError } from '../errors.ts';
import {
  attributeChanges,
  chmodMode,
  normalizeMode,
  planAbsent,
  planAttributes,
  type FileAttributes,
} from './managed-file.ts';
import { opOnFact, task, type Task, type TaskOptions } from './op.ts';

/** A path and every directory above it, e.g. `/a/b` → `['/a/b', '/a']`. */
export function selfAndAncestors(path: string): string[] {
  const paths: string[] = [];
  for (let p = path.replace(/\/+$/, ''); p && p !== '/' && p !== '.'; p = dirname(p)) paths.push(p);
  return paths;
}

/** A directory's wanted state. */
export interface DirectoryParams extends FileAttributes, TaskOptions {
  readonly path: string;
  /** `present` (default, parents created as needed) or `absent` (removed with its content). */
  readonly state?: 'present' | 'absent';
}

/**
 * A directory with the given mode, owner and group.
 *
 * @example
 * directory({ path: '/var/lib/roundcube/db', owner: 'www-data', mode: '0750' })
 */
export function directory(params: DirectoryParams): Task {
  const mode = normalizeMode(params.mode, `directory ${params.path}`);
  const wanted = { mode, owner: params.owner, group: params.group };
  const op = opOnFact({
    kind: 'directory',
    title: `directory ${params.path}`,
    fact: pathProbe(params.path),
    async plan(state, context) {
      if (params.state === 'absent') return planAbsent(params.path, context);
      if (state.type === 'absent') {
        const commands = [sh`mkdir -p -- ${params.path}`];
        if (mode) commands.push(sh`chmod ${chmodMode(mode)} ${params.path}`);
        if (params.owner) commands.push(sh`chown ${params.owner} ${params.path}`);
        if (params.group) commands.push(sh`chgrp ${params.group} ${params.path}`);
        return {
          changed: true,
          summary: `create directory ${params.path}`,
          // mkdir -p may create parents too.
          steps: [{ kind: 'exec', command: joinCommands(commands, ' && '), affects: selfAndAncestors(params.path) }],
          diffs: [{ path: params.path, attributes: [{ name: 'type', before: 'absent', after: 'directory' }] }],
        };
      }
      if (state.type !== 'directory') throw new PlayError(`${params.path} is a ${state.type}, not a directory`);
      return planAttributes(params.path, attributeChanges(state, wanted), 'directory exists with its attributes');
    },
  });
  return task(op, params);
}
