import { sh } from '../connection/sh.ts';
import { PlayError } from '../errors.ts';
import { groupProbe } from '../facts/account.ts';
import { opOnFact, task, type Plan, type Task, type TaskOptions } from './op.ts';

/**
 * The wanted state of a local group.
 *
 * @example
 * const params: GroupParams = { name: 'vmail', gid: 5000, system: true };
 */
export interface GroupParams extends Omit<TaskOptions, 'name'> {
  /** The group's name. */
  readonly name: string;
  /** The task's name in the output and for `notify` (`name` is the group here); defaults to `group NAME`. */
  readonly taskName?: string;
  /** The numeric id; omit to let the host choose (and to accept any id of an existing group). */
  readonly gid?: number;
  /** A system group (`groupadd -r`); only used when the group is created. */
  readonly system?: boolean;
  /** `present` (default) or `absent`. */
  readonly state?: 'present' | 'absent';
}

/**
 * A local group with an optional fixed gid, or no such group.
 *
 * @example
 * group({ name: 'vmail', gid: 5000, system: true })
 * group({ name: 'games', state: 'absent' })
 */
export function group(params: GroupParams): Task {
  const name = params.name;
  if (typeof name !== 'string' || !/^[^\s:,/]+$/.test(name))
    throw new PlayError(`group: invalid group name ${JSON.stringify(name)}`);
  if (params.gid !== undefined && (!Number.isInteger(params.gid) || params.gid < 0))
    throw new PlayError(`group ${name}: gid must be a non-negative integer`);
  if (params.state !== undefined && params.state !== 'present' && params.state !== 'absent') {
    throw new PlayError(`group ${name}: state must be 'present' or 'absent', got ${JSON.stringify(params.state)}`);
  }
  const op = opOnFact({
    kind: 'group',
    title: `group ${name}`,
    fact: groupProbe(name),
    async plan(current): Promise<Plan> {
      if (params.state === 'absent') {
        if (!current) return { changed: false, reason: `group ${name} does not exist` };
        return {
          changed: true,
          summary: `remove group ${name}`,
          steps: [{ kind: 'exec', command: sh`groupdel -- ${name}` }],
          diffs: [],
        };
      }
      if (!current) {
        const flags: string[] = [];
        if (params.gid !== undefined) flags.push('-g', String(params.gid));
        if (params.system) flags.push('-r');
        return {
          changed: true,
          summary: `create group ${name}`,
          steps: [{ kind: 'exec', command: sh`groupadd ${[...flags, '--', name]}` }],
          diffs: [],
        };
      }
      if (params.gid !== undefined && params.gid !== current.gid) {
        return {
          changed: true,
          summary: `update group ${name} (gid ${current.gid} → ${params.gid})`,
          steps: [{ kind: 'exec', command: sh`groupmod -g ${String(params.gid)} -- ${name}` }],
          diffs: [],
        };
      }
      return { changed: false, reason: `group ${name} exists (gid ${current.gid})` };
    },
  });
  return task(op, { notify: params.notify, tags: params.tags, name: params.taskName });
}
