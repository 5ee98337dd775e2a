import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalConnection } from '../../../src/connection/local.ts';
import { compileRun } from '../../../src/engine/compile.ts';
import { hostStatePaths } from '../../../src/remote/host-state.ts';
import { executeRun, type RunOptions } from '../../../src/engine/run.ts';
import { command, configSet, defineInventory, definePlaybook, defineRole, file, sh } from '../../../src/index.ts';
import { REMOTE_EXIT } from '../../../src/remote/protocol.ts';

let dir: string;
const stateDir = process.env.PLAY_STATE_DIR;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'play-durable-'));
  // Each test's hosts start with no state: nothing owed from the test before.
  process.env.PLAY_STATE_DIR = join(dir, 'state');
});
afterEach(() => {
  process.env.PLAY_STATE_DIR = stateDir;
  rmSync(dir, { recursive: true, force: true });
});

const log = () => (existsSync(join(dir, 'log')) ? readFileSync(join(dir, 'log'), 'utf8').trim().split('\n') : []);
const journal = (host = 'alpha') => {
  const path = hostStatePaths(host).pendingHandlers;
  return existsSync(path) ? readFileSync(path, 'utf8') : '';
};

/** A config file that notifies a reload, then a task that fails while `dir/broken` exists. */
function playbook() {
  const role = defineRole({
    name: 'svc',
    tasks: () => [
      file({
        name: 'config',
        path: join(dir, 'svc.conf'),
        content: readFileSync(join(dir, 'wanted'), 'utf8'),
        notify: 'reload svc',
      }),
      command({
        name: 'later step',
        cmd: sh`if [ -f ${join(dir, 'broken')} ]; then echo broken >&2; exit 9; fi; echo task >> ${join(dir, 'log')}`,
      }),
    ],
    handlers: () => [
      command({ name: 'reload svc', cmd: sh`echo reload $(cat ${join(dir, 'svc.conf')}) >> ${join(dir, 'log')}` }),
    ],
  });
  const inventory = defineInventory({ hosts: { alpha: { address: 'localhost', connection: 'local' } } });
  return definePlaybook({ inventory, plays: [{ name: 'service', hosts: 'alpha', roles: [role] }] });
}

async function run(options: Partial<RunOptions> = {}) {
  const book = playbook();
  return executeRun(await compileRun(book, book.inventory), {
    check: false,
    forks: 1,
    connect: async (h) => new LocalConnection(h),
    ...options,
  });
}

describe('durable handlers', () => {
  beforeEach(() => {
    writeFileSync(join(dir, 'wanted'), 'v1\n');
    writeFileSync(join(dir, 'broken'), '');
  });

  it('a change notifies a reload and a later task fails: the reload is owed on the host, and the next run runs it first though the file no longer changes', async () => {
    const failed = await run();
    expect(failed.hosts.alpha).toMatchObject({ changed: 1, failed: 1 });
    expect(log()).toEqual([]);
    expect(journal()).toBe('{"play":"service","handler":"reload svc"}\n');

    rmSync(join(dir, 'broken'));
    const next = await run();
    expect(next.hosts.alpha.failed).toBe(0);
    // The pending reload ran before the tasks, on the config it was owed for.
    expect(log()).toEqual(['reload v1', 'task']);
    const handler = next.tasks.find((t) => t.handler)!;
    expect(handler).toMatchObject({ task: 'reload svc', status: 'changed' });
    expect(handler.summary).toContain('(pending from an earlier run)');
    expect(next.tasks.find((t) => t.task === 'config')).toMatchObject({ status: 'ok' });
    expect(journal()).toBe('');
    // And it is not owed twice.
    await run();
    expect(log()).toEqual(['reload v1', 'task', 'task']);
  });

  it('--check shows the owed handler as one that would run, runs nothing and keeps it owed', async () => {
    await run();
    rmSync(join(dir, 'broken'));
    const check = await run({ check: true });
    const handler = check.tasks.find((t) => t.handler)!;
    expect(handler).toMatchObject({ task: 'reload svc', status: 'changed' });
    expect(handler.summary).toContain('(pending from an earlier run)');
    expect(log()).toEqual([]);
    expect(journal()).toContain('reload svc');
  });

  it('--force-handlers runs the handlers notified so far although a task failed', async () => {
    const report = await run({ forceHandlers: true });
    expect(report.hosts.alpha.failed).toBe(1);
    expect(log()).toEqual(['reload v1']);
    expect(journal()).toBe('');
  });

  it('--flush-handlers runs only what is owed, no task', async () => {
    await run();
    writeFileSync(join(dir, 'wanted'), 'v2\n');
    const flushed = await run({ flushHandlersOnly: true });
    expect(flushed.tasks.map((t) => t.task)).toEqual(['reload svc']);
    expect(readFileSync(join(dir, 'svc.conf'), 'utf8')).toBe('v1\n');
    expect(log()).toEqual(['reload v1']);
    expect(journal()).toBe('');
  });

  it('a change its validate refuses was never made: it owes no handler', async () => {
    rmSync(join(dir, 'broken'));
    const refusing = defineRole({
      name: 'svc',
      tasks: () => [
        file({
          name: 'config',
          path: join(dir, 'svc.conf'),
          content: 'bad\n',
          validate: (p) => sh`test "$(cat ${p})" != bad`,
          notify: 'reload svc',
        }),
      ],
      handlers: () => [command({ name: 'reload svc', cmd: sh`echo reload >> ${join(dir, 'log')}` })],
    });
    const inventory = defineInventory({ hosts: { alpha: { address: 'localhost', connection: 'local' } } });
    const book = definePlaybook({ inventory, plays: [{ name: 'service', hosts: 'alpha', roles: [refusing] }] });
    const refused = await executeRun(await compileRun(book, inventory), {
      check: false,
      forks: 1,
      connect: async (h) => new LocalConnection(h),
    });
    expect(refused.hosts.alpha.failed).toBe(1);
    expect(refused.tasks[0].error).toContain('validate refused');
    expect(existsSync(join(dir, 'svc.conf'))).toBe(false);
    expect(journal()).toBe('');
    const next = await run();
    expect(next.tasks.filter((t) => t.handler).map((t) => t.summary ?? '')).not.toContainEqual(
      expect.stringContaining('pending from an earlier run'),
    );
  });

  /** A config set of one file whose check or activation may fail, notifying a reload; its run's journal after it. */
  async function setRun(failing: 'check' | 'activation' | 'restore') {
    rmSync(join(dir, 'broken'));
    mkdirSync(join(dir, 'tree'));
    mkdirSync(join(dir, 'stage'));
    writeFileSync(join(dir, 'tree', 'svc.conf'), 'old\n');
    const role = defineRole({
      name: 'svc',
      tasks: () => [
        configSet({
          name: 'svc set',
          tree: join(dir, 'tree'),
          files: [{ path: join(dir, 'tree', 'svc.conf'), content: 'new\n' }],
          validate: () => (failing === 'check' ? sh`echo 'unknown directive' >&2; false` : sh`true`),
          activate: failing === 'check' ? sh`true` : sh`test "$(cat ${join(dir, 'tree', 'svc.conf')})" = old`,
          restore: failing === 'restore' ? sh`false` : undefined,
          stageRoot: join(dir, 'stage'),
          notify: 'reload svc',
        }),
      ],
      handlers: () => [command({ name: 'reload svc', cmd: sh`echo reload >> ${join(dir, 'log')}` })],
    });
    const inventory = defineInventory({ hosts: { alpha: { address: 'localhost', connection: 'local' } } });
    const book = definePlaybook({ inventory, plays: [{ name: 'service', hosts: 'alpha', roles: [role] }] });
    const result = await executeRun(await compileRun(book, inventory), {
      check: false,
      forks: 1,
      connect: async (h) => new LocalConnection(h),
    });
    return { result, file: readFileSync(join(dir, 'tree', 'svc.conf'), 'utf8') };
  }

  it('a config set its check refused was never applied: it owes no handler, and its exit code is its own', async () => {
    const { result, file } = await setRun('check');
    expect(result.hosts.alpha.failed).toBe(1);
    expect(result.tasks[0].error).toContain(`(exit ${REMOTE_EXIT.setRefused})`);
    expect(REMOTE_EXIT.setRefused).not.toBe(REMOTE_EXIT.validateRefused);
    expect(file).toBe('old\n');
    expect(journal()).toBe('');
    expect(log()).toEqual([]);
  });

  it('a config set rolled back after a failed activation left the host as it was: it owes no handler', async () => {
    const { result, file } = await setRun('activation');
    expect(result.tasks[0].error).toContain(`(exit ${REMOTE_EXIT.setRolledBack})`);
    expect(file).toBe('old\n');
    expect(journal()).toBe('');
  });

  it('a config set whose restore failed too needs a person: its handler stays owed', async () => {
    const { result } = await setRun('restore');
    expect(result.tasks[0].error).toContain(`(exit ${REMOTE_EXIT.setRestoreFailed})`);
    expect(journal()).toBe('{"play":"service","handler":"reload svc"}\n');
  });

  it('a failing handler stays owed; a notified handler that ran is struck out', async () => {
    rmSync(join(dir, 'broken'));
    const ok = await run();
    expect(log()).toEqual(['task', 'reload v1']);
    expect(ok.hosts.alpha.failed).toBe(0);
    expect(journal()).toBe('');
  });
});

describe('the run lock in a run', () => {
  it('a second run with waitForLock: false fails at once on a host another run is changing, naming the holder, and touches nothing', async () => {
    writeFileSync(join(dir, 'wanted'), 'v1\n');
    const inventory = defineInventory({ hosts: { alpha: { address: 'localhost', connection: 'local' } } });
    const slow = defineRole({
      name: 'slow',
      tasks: () => [
        command({
          name: 'hold on',
          cmd: sh`touch ${join(dir, 'started')}; while [ ! -f ${join(dir, 'go')} ]; do sleep 0.05; done`,
        }),
      ],
    });
    const quick = defineRole({ name: 'quick', tasks: () => [file({ path: join(dir, 'quick.txt'), content: 'x\n' })] });
    const first = definePlaybook({ inventory, plays: [{ hosts: 'alpha', roles: [slow] }] });
    const second = definePlaybook({ inventory, plays: [{ hosts: 'alpha', roles: [quick] }] });
    const options = { check: false, forks: 1, connect: async (h: string) => new LocalConnection(h) };
    const running = executeRun(await compileRun(first, inventory), options);
    while (!existsSync(join(dir, 'started'))) await new Promise((r) => setTimeout(r, 20));
    const refused = await executeRun(await compileRun(second, inventory), { ...options, waitForLock: false });
    expect(refused.hosts.alpha.failed).toBe(1);
    expect(refused.tasks[0].error).toMatch(
      /alpha is locked by another play run \(\S+@\S+ pid \d+ since \d{4}-\d\d-\d\dT/,
    );
    expect(existsSync(join(dir, 'quick.txt'))).toBe(false);

    // A waiting run goes on once the first is done.
    const waits: string[] = [];
    const waiting = executeRun(await compileRun(second, inventory), {
      ...options,
      onEvent: (e) => e.type === 'host-waiting' && waits.push(e.holder),
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(existsSync(join(dir, 'quick.txt'))).toBe(false);
    writeFileSync(join(dir, 'go'), '');
    expect((await running).hosts.alpha.failed).toBe(0);
    expect((await waiting).hosts.alpha).toMatchObject({ changed: 1, failed: 0 });
    expect(waits).toHaveLength(1);
    expect(readFileSync(join(dir, 'quick.txt'), 'utf8')).toBe('x\n');
  });
});

describe('a controller killed between a change and its handler (the real binary, SIGKILL)', () => {
  it('the next run runs the owed reload first, and the killed run held no lock any more', async () => {
    const { spawn } = await import('node:child_process');
    const root = join(import.meta.dirname, '../../..');
    const env = { ...process.env, CI: '1', PLAY_TEST_DIR: dir, PLAY_STATE_DIR: join(dir, 'state') };
    const bin = join(root, 'dist/src/cli/play.js');
    const playbookFile = join(root, 'test/fixtures/cli/durable.ts');
    const killed = spawn(process.execPath, [bin, playbookFile], { env, stdio: 'ignore' });
    while (!existsSync(join(dir, 'waiting'))) await new Promise((r) => setTimeout(r, 20));
    killed.kill('SIGKILL');
    await new Promise((r) => killed.on('close', r));
    expect(journal()).toBe('{"play":"service","handler":"reload svc"}\n');
    // The waiting task's shell outlives the controller for a moment; let the next run's task pass at once.
    writeFileSync(join(dir, 'go'), '');
    const next = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(process.execPath, [bin, playbookFile, '--no-wait'], {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      child.on('close', (code) => resolve({ code, out }));
    });
    expect(next.code, next.out).toBe(0);
    expect(next.out).toMatch(/alpha \| changed \| svc › handler reload svc \(.*pending from an earlier run\)/);
    // First, before the tasks (the killed run's waiting shell, orphaned on this local host, may also log its task).
    expect(next.out.indexOf('handler reload svc')).toBeLessThan(next.out.indexOf('svc › later step'));
    expect(log().filter((l) => l === 'reload')).toEqual(['reload']);
    expect(journal()).toBe('');
  }, 60_000);
});
