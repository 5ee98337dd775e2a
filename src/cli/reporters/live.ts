import { Listr, type ListrTaskWrapper } from 'listr2';
import type { RunEvent } from '../../engine/events.ts';

type HostTask = ListrTaskWrapper<unknown, never, never>;

/**
 * The live terminal view: one listr2 line per host showing its current role and task, with the diff of a
 * change under it before the change is made. It only draws: the engine runs on its own and emits events.
 *
 * @example
 * const live = liveReporter(run.hosts, { diff: true });
 * const report = await executeRun(run, { ..., onEvent: live.onEvent });
 * await live.done();
 */
export function liveReporter(hosts: readonly string[], options: { diff: boolean }) {
  const wrappers = new Map<string, HostTask>();
  const finish = new Map<string, { resolve: () => void; reject: (e: Error) => void }>();
  const counts = new Map<string, { changed: number; failed: boolean; error?: string }>();
  const list = new Listr(
    hosts.map((host) => ({
      title: host,
      task: (_ctx: unknown, task: HostTask) =>
        new Promise<void>((resolve, reject) => {
          wrappers.set(host, task);
          finish.set(host, { resolve, reject });
        }),
      rendererOptions: { persistentOutput: true, outputBar: 12 },
    })),
    {
      concurrent: true,
      exitOnError: false,
      renderer: 'default',
      rendererOptions: { collapseSubtasks: false, collapseErrors: false },
    },
  );
  const running = list.run().catch(() => undefined);

  const onEvent = (event: RunEvent): void => {
    const host = 'host' in event ? event.host : 'result' in event ? event.result.host : undefined;
    if (!host) return;
    const state = counts.get(host) ?? { changed: 0, failed: false };
    counts.set(host, state);
    // Counted even before listr has started the host's line, so the final title is right.
    if (event.type === 'task-end') {
      if (event.result.status === 'changed') state.changed++;
      if (event.result.status === 'failed' || event.result.status === 'unreachable') {
        state.failed = true;
        state.error = event.result.error;
      }
    }
    const task = wrappers.get(host);
    if (!task) return;
    switch (event.type) {
      case 'task-start':
        task.title = `${host}: ${[event.role, event.handler ? `handler ${event.task}` : event.task].filter(Boolean).join(' › ')}`;
        break;
      case 'task-planned':
        task.output = `${event.check ? 'would ' : ''}${event.summary}${options.diff && event.diff ? `\n${event.diff}` : ''}`;
        break;
      case 'host-waiting':
        task.output = `waiting for the run lock, held by ${event.holder}`;
        break;
      default:
        break;
    }
  };

  /** Marks every host finished and waits for the view to close. */
  const done = async (): Promise<void> => {
    for (const host of hosts) {
      const state = counts.get(host) ?? { changed: 0, failed: false };
      const task = wrappers.get(host);
      if (task) task.title = `${host}: ${state.failed ? 'failed' : `done, ${state.changed} changed`}`;
      const handle = finish.get(host);
      if (state.failed) handle?.reject(new Error(state.error ?? 'failed'));
      else handle?.resolve();
    }
    await running;
  };
  return { onEvent, done };
}
