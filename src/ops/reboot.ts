import { ShellCommand } from '../connection/sh.ts';
import { PlayError } from '../errors.ts';
import { commandSucceedsProbe } from '../facts/command-status.ts';
import { task, type Op, type Plan, type Task, type TaskOptions } from './op.ts';

/**
 * A reboot, and how long the host may take to come back.
 *
 * @example
 * const params: RebootParams = { timeoutSeconds: 900, unless: sh`test ! -e /run/reboot-required` };
 */
export interface RebootParams extends TaskOptions {
  /** How long the host may take to go down, come back and finish booting (default 600, as Ansible's). */
  readonly timeoutSeconds?: number;
  /** A read-only check (it also runs in check mode): no reboot when it exits 0. */
  readonly unless?: ShellCommand;
}

/**
 * Reboots the host and waits until it is back and has finished booting (Ansible's `reboot`); the tasks after it
 * run on the new boot, with every fact read again. Without `unless` it reboots on every run.
 *
 * @example
 * reboot({ unless: sh`test ! -e /run/reboot-required` })
 */
export function reboot(params: RebootParams = {}): Task {
  const timeoutSeconds = params.timeoutSeconds ?? 600;
  if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 1)
    throw new PlayError(`reboot: timeoutSeconds must be a whole number of seconds above 0, got ${timeoutSeconds}`);
  if (params.unless !== undefined && !(params.unless instanceof ShellCommand))
    throw new PlayError('reboot: unless must be built with sh`…` (a ShellCommand)');
  const unless = params.unless;
  const op: Op = {
    kind: 'reboot',
    title: 'reboot',
    probes: () => (unless ? [commandSucceedsProbe(unless)] : []),
    async plan(context): Promise<Plan> {
      if (unless && (await context.facts.get(commandSucceedsProbe(unless))))
        return { changed: false, reason: 'unless check succeeded: no reboot needed' };
      return {
        changed: true,
        summary: `reboot, and wait up to ${timeoutSeconds} s until the host is back`,
        steps: [{ kind: 'reboot', timeoutSeconds }],
        diffs: [],
      };
    },
  };
  return task(op, params);
}
