import type { BoundTask, CompiledRun, HostPlatformWork, HostWork } from '../engine/compile.ts';
import { platformName } from '../model/platform.ts';

/** The `--list-hosts` text: each play and the hosts it would run on, in batches. */
export function formatHostList(run: CompiledRun): string {
  return run.plays
    .map(
      (play) =>
        `play "${play.name}" (${play.batches.flat().length} hosts):\n${play.batches.map((b, i) => `  ${play.batches.length > 1 ? `batch ${i + 1}: ` : ''}${b.join(', ')}`).join('\n')}`,
    )
    .join('\n');
}

/** One task as the listings show it: role, name, tags and declaring line. */
const listedTask = (bound: BoundTask) => ({
  role: bound.role,
  task: bound.task.name,
  tags: bound.tags,
  declaredAt: bound.task.declaredAt,
});

/** A work's tasks and handlers as the listings show them. */
const listedWork = (work: HostWork) => ({
  tasks: work.tasks.map(listedTask),
  handlers: work.handlers.map((t) => t.task.name),
});

/** Whether every release's work of a host lists the same tasks and handlers (then they are listed once). */
function sameOnEveryRelease(choice: HostPlatformWork): boolean {
  const first = JSON.stringify(listedWork(choice.works[0]));
  return choice.works.every((work) => JSON.stringify(listedWork(work)) === first);
}

/** The releases a host's work was built for, as listings name them (none when the play's roles declare none). */
const releasesOf = (choice: HostPlatformWork) =>
  choice.works.flatMap((w) => (w.platform ? [platformName(w.platform)] : []));

/**
 * The `--list-tasks` text: for each play and host, its tasks with role, tags and declaring line. When the play's
 * roles declare platforms, the host names the releases; tasks that differ between releases are listed per release.
 *
 * @example
 * formatTaskList(await compileRun(playbook, inventory, { render: false }));
 * // play "mail":\n  primary (Debian 12, Debian 13):\n    dovecot › packages [mail]  (roles/dovecot/index.ts:20)
 */
export function formatTaskList(run: CompiledRun): string {
  const lines: string[] = [];
  const listWork = (work: HostWork, indent: string) => {
    for (const bound of work.tasks) {
      const tags = bound.tags.length ? ` [${bound.tags.join(', ')}]` : '';
      lines.push(
        `${indent}${[bound.role, bound.task.name].filter(Boolean).join(' › ')}${tags}${bound.task.declaredAt ? `  (${bound.task.declaredAt})` : ''}`,
      );
    }
    if (work.handlers.length) lines.push(`${indent}handlers: ${work.handlers.map((h) => h.task.name).join(', ')}`);
  };
  for (const play of run.plays) {
    lines.push(`play "${play.name}":`);
    for (const [host, choice] of play.work) {
      const releases = releasesOf(choice);
      lines.push(`  ${host}${releases.length ? ` (${releases.join(', ')})` : ''}:`);
      if (sameOnEveryRelease(choice)) {
        listWork(choice.works[0], '    ');
        continue;
      }
      for (const work of choice.works) {
        lines.push(`    on ${work.platform ? platformName(work.platform) : 'any release'}:`);
        listWork(work, '      ');
      }
    }
  }
  return lines.join('\n');
}

/**
 * The `--list-hosts --list-tasks --json` document. A host's entry has its `tasks` and `handlers`, and, when the
 * play's roles declare platforms, `platforms` (the releases it may run); tasks that differ between releases are
 * given per release instead, in `byPlatform`.
 *
 * @example
 * stdout.write(`${JSON.stringify(listJson(run))}\n`);
 */
export function listJson(run: CompiledRun) {
  return {
    plays: run.plays.map((p) => ({
      name: p.name,
      batches: p.batches,
      hosts: Object.fromEntries(
        [...p.work].map(([h, choice]) => {
          const releases = releasesOf(choice);
          const platforms = releases.length ? { platforms: releases } : {};
          if (sameOnEveryRelease(choice)) return [h, { ...listedWork(choice.works[0]), ...platforms }];
          return [
            h,
            {
              ...platforms,
              byPlatform: Object.fromEntries(
                choice.works.map((w) => [w.platform ? platformName(w.platform) : 'any release', listedWork(w)]),
              ),
            },
          ];
        }),
      ),
    })),
  };
}
