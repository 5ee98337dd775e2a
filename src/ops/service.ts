import { sh, type ShellCommand } from '../connection/sh.ts';
import { PlayError } from '../errors.ts';
import { serviceProbe, type ServiceState } from '../facts/service.ts';
import { opOnFact, task, type Plan, type Task, type TaskOptions } from './op.ts';

/**
 * The wanted state of a service: running or not (or restarted/reloaded now), started at boot or not.
 *
 * @example
 * const params: ServiceParams = { name: 'bind9', state: 'started', enabled: true };
 */
export interface ServiceParams extends Omit<TaskOptions, 'name'> {
  /** The systemd unit (`nginx` means `nginx.service`) or, without systemd, the `/etc/init.d` script. */
  readonly name: string;
  /** The task's name in the output and for `notify` (`name` is the service here); defaults to `service NAME`. */
  readonly taskName?: string;
  /**
   * `started`/`stopped` change only when needed; `restarted`/`reloaded` always act (they are meant for
   * handlers). Omit to manage only `enabled`.
   */
  readonly state?: 'started' | 'stopped' | 'restarted' | 'reloaded';
  /** Start at boot (true) or not (false); omit to leave as it is. */
  readonly enabled?: boolean;
}

type Action = 'start' | 'stop' | 'restart' | 'reload' | 'enable' | 'disable';

const STATES = ['started', 'stopped', 'restarted', 'reloaded'] as const;

function wantedActions(params: ServiceParams, current: ServiceState | undefined): Action[] {
  const actions: Action[] = [];
  switch (params.state) {
    case 'started':
      if (!current?.active) actions.push('start');
      break;
    case 'stopped':
      if (!current || current.active) actions.push('stop');
      break;
    case 'restarted':
      actions.push('restart');
      break;
    case 'reloaded':
      actions.push('reload');
      break;
  }
  if (params.enabled === true && !current?.enabled) actions.push('enable');
  if (params.enabled === false && (!current || current.enabled)) actions.push('disable');
  return actions;
}

function actionCommand(manager: ServiceState['manager'], name: string, action: Action): ShellCommand {
  if (manager === 'systemd') return sh`systemctl ${action} -- ${name}`;
  if (action === 'enable' || action === 'disable') return sh`update-rc.d ${name} ${action}`;
  return sh`/etc/init.d/${name} ${action}`;
}

/**
 * A service managed through systemd (`systemctl`), or through its init script and `update-rc.d` on a host
 * without systemd.
 *
 * @example
 * service({ name: 'bind9', state: 'started', enabled: true })
 * // a handler, notified as 'reload nginx':
 * service({ name: 'nginx', state: 'reloaded', taskName: 'reload nginx' })
 */
export function service(params: ServiceParams): Task {
  const name = params.name;
  if (typeof name !== 'string' || name === '' || name.includes('/'))
    throw new PlayError(`service: invalid service name ${JSON.stringify(name)}`);
  if (params.state !== undefined && !STATES.includes(params.state)) {
    throw new PlayError(
      `service ${name}: state must be one of ${STATES.join(', ')}, got ${JSON.stringify(params.state)}`,
    );
  }
  if (params.state === undefined && params.enabled === undefined)
    throw new PlayError(`service ${name}: give state, enabled or both`);
  const op = opOnFact({
    kind: 'service',
    title: `service ${name}`,
    fact: serviceProbe(name),
    async plan(current, context): Promise<Plan> {
      if (!current.exists) {
        if (!context.earlierChangesPending) throw new PlayError(`service ${name} not found on host`);
        return {
          changed: true,
          summary: `${wantedActions(params, undefined).join(' and ')} ${name} (once an earlier change installs it)`,
          steps: [],
          diffs: [],
        };
      }
      const actions = wantedActions(params, current);
      if (actions.length === 0) {
        const parts = [
          params.state !== undefined ? (current.active ? 'running' : 'stopped') : '',
          params.enabled !== undefined ? (current.enabled ? 'enabled' : 'disabled') : '',
        ];
        return { changed: false, reason: `${name} is ${parts.filter(Boolean).join(' and ')}` };
      }
      return {
        changed: true,
        summary: `${actions.join(' and ')} ${name}`,
        steps: actions.map((action) => ({ kind: 'exec', command: actionCommand(current.manager, name, action) })),
        diffs: [],
      };
    },
  });
  return task(op, { notify: params.notify, tags: params.tags, name: params.taskName });
}
