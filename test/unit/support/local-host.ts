import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalConnection } from '../../../src/connection/local.ts';
import { RecordingConnection } from '../../../src/connection/recording.ts';
import { FactCache } from '../../../src/facts/cache.ts';
import { applySteps } from '../../../src/engine/apply.ts';
import type { Plan, PlanContext, Task } from '../../../src/ops/op.ts';

/** The local machine as a test host: real /bin/sh, commands recorded, facts cached, a temp dir. */
export interface LocalHost {
  readonly connection: RecordingConnection;
  readonly facts: FactCache;
  /** A fresh temporary directory, removed by {@link LocalHost.cleanup}. */
  readonly dir: string;
  /** Host vars passed to prepare and plan. */
  vars: Record<string, unknown>;
  /** The role folder passed to prepare (for `templates/` and `files/`). */
  roleDir?: string;
  /** prepare → gather probes → plan; nothing applied. */
  plan(task: Task): Promise<Plan>;
  /** prepare → gather → plan → apply the steps → invalidate the cache; returns the plan. */
  converge(task: Task): Promise<Plan>;
  cleanup(): void;
}

/**
 * Makes a {@link LocalHost}; call `cleanup()` in `afterEach`.
 *
 * @example
 * const host = localHost();
 * const plan = await host.converge(file({ path: `${host.dir}/motd`, content: 'hi\n' }));
 */
export function localHost(options: { vars?: Record<string, unknown>; roleDir?: string } = {}): LocalHost {
  const connection = new RecordingConnection('local', new LocalConnection('local'));
  const facts = new FactCache(connection);
  const dir = mkdtempSync(join(tmpdir(), 'play-unit-'));
  const host: LocalHost = {
    connection,
    facts,
    dir,
    vars: options.vars ?? {},
    roleDir: options.roleDir,
    async plan(task: Task): Promise<Plan> {
      const op = task.op;
      if (op.prepare)
        await op.prepare({ host: 'local', vars: host.vars, ...(host.roleDir ? { roleDir: host.roleDir } : {}) });
      await facts.gather(op.probes());
      const context: PlanContext = {
        host: 'local',
        vars: host.vars,
        ...(host.roleDir ? { roleDir: host.roleDir } : {}),
        facts,
        earlierChangesPending: false,
      };
      return op.plan(context);
    },
    async converge(task: Task): Promise<Plan> {
      const plan = await host.plan(task);
      if (plan.changed) {
        try {
          await applySteps(connection, plan.steps, { host: 'local', task: task.name });
        } finally {
          facts.invalidate();
        }
      }
      facts.invalidate();
      return plan;
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return host;
}

/** Convenience for table tests: `await converge(host, task)`. */
export function converge(host: LocalHost, task: Task): Promise<Plan> {
  return host.converge(task);
}
