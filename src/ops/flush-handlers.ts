import { task, type Op, type Task } from './op.ts';

/**
 * A task that runs the handlers notified so far, here instead of at the end of the play (Ansible's
 * `meta: flush_handlers`).
 *
 * @example
 * tasks: () => [template({ ... notify: 'restart bind9' }), flushHandlers(), command({ cmd: sh`dig @127.0.0.1 ...` })]
 */
export function flushHandlers(): Task {
  const op: Op = {
    kind: 'flush-handlers',
    flushesHandlers: true,
    title: 'flush handlers',
    probes: () => [],
    plan: async () => ({ changed: false, reason: 'handlers flushed' }),
  };
  return task(op);
}
