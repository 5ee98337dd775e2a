import type { CompiledRun } from '../engine/compile.ts';

/** The `--list-hosts` text: each play and the hosts it would run on, in batches. */
export function formatHostList(run: CompiledRun): string {
  return run.plays
    .map((play) => `play "${play.name}" (${play.batches.flat().length} hosts):\n${play.batches.map((b, i) => `  ${play.batches.length > 1 ? `batch ${i + 1}: ` : ''}${b.join(', ')}`).join('\n')}`)
    .join('\n');
}

/** The `--list-tasks` text: for each play and host, its tasks with role, tags and declaring line. */
export function formatTaskList(run: CompiledRun): string {
  const lines: string[] = [];
  for (const play of run.plays) {
    lines.push(`play "${play.name}":`);
    for (const [host, work] of play.work) {
      lines.push(`  ${host}:`);
      for (const bound of work.tasks) {
        const tags = bound.tags.length ? ` [${bound.tags.join(', ')}]` : '';
        lines.push(`    ${[bound.role, bound.task.name].filter(Boolean).join(' › ')}${tags}${bound.task.declaredAt ? `  (${bound.task.declaredAt})` : ''}`);
      }
      if (work.handlers.length) lines.push(`    handlers: ${work.handlers.map((h) => h.task.name).join(', ')}`);
    }
  }
  return lines.join('\n');
}

/** The `--list-hosts --list-tasks --json` document. */
export function listJson(run: CompiledRun) {
  return {
    plays: run.plays.map((p) => ({
      name: p.name,
      batches: p.batches,
      hosts: Object.fromEntries([...p.work].map(([h, w]) => [h, { tasks: w.tasks.map((t) => ({ role: t.role, task: t.task.name, tags: t.tags, declaredAt: t.task.declaredAt })), handlers: w.handlers.map((t) => t.task.name) }])),
    })),
  };
}
