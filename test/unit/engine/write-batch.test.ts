import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalConnection } from '../../../src/connection/local.ts';
import { RecordingConnection } from '../../../src/connection/recording.ts';
import { sh } from '../../../src/connection/sh.ts';
import { applyWriteBatch, writeBatchCommand } from '../../../src/engine/apply.ts';
import { compileRun } from '../../../src/engine/compile.ts';
import { executeRun } from '../../../src/engine/run.ts';
import { REMOTE_MARKER } from '../../../src/remote/protocol.ts';
import { command, defineInventory, definePlaybook, file, type Task } from '../../../src/index.ts';
import type { WriteStep } from '../../../src/ops/op.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'play-batch-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const FILES = 30;
const content = (i: number, v: string) => `${v}:${i}\n`.repeat(100);
const path = (i: number) => join(dir, `file-${i}.txt`);
const leftovers = () => readdirSync(dir).filter((n) => n.includes('.play-'));

function setup(tasks: (version: string) => Task[], handlers: Task[] = []) {
  const connections: RecordingConnection[] = [];
  const run = async (version: string) => {
    const inventory = defineInventory({ hosts: { alpha: { address: 'localhost', connection: 'local' } } });
    const playbook = definePlaybook({
      inventory,
      plays: [{ name: 'batch', hosts: 'alpha', tasks: tasks(version), handlers }],
    });
    const connect = async (host: string) => {
      const c = new RecordingConnection(host, new LocalConnection(host));
      connections.push(c);
      return c;
    };
    const events: string[] = [];
    const report = await executeRun(await compileRun(playbook, inventory), {
      check: false,
      forks: 10,
      connect,
      onEvent: (e) => {
        if (e.type === 'task-planned') events.push(`planned ${e.task}`);
        if (e.type === 'task-end') events.push(`${e.result.status} ${e.result.task}`);
      },
    });
    return { report, events, commands: connections.at(-1)!.commands };
  };
  return run;
}

const files = (version: string, extra: (i: number) => Partial<Parameters<typeof file>[0]> = () => ({})) =>
  Array.from({ length: FILES }, (_, i) =>
    file({ path: path(i), content: content(i, version), mode: '0644', ...extra(i) }),
  );

describe('write batches', () => {
  it('rewrites 30 changed files in a handful of round trips, every diff shown before the writes, each file checked and renamed in', async () => {
    const run = setup((v) => files(v));
    expect((await run('A')).report.hosts.alpha.changed).toBe(FILES);
    const { report, events, commands } = await run('B');
    expect(report.hosts.alpha).toMatchObject({ changed: FILES, failed: 0 });
    for (let i = 0; i < FILES; i++) expect(readFileSync(path(i), 'utf8')).toBe(content(i, 'B'));
    expect(leftovers()).toEqual([]);
    // All 30 travel together: the first probes, the lock, the probes read again under it, the old contents (for the
    // diffs) in one command, the writes in one more. One by one it was two round trips per file.
    const changes = commands.filter((c) => !c.text.startsWith(REMOTE_MARKER.probe));
    expect(report.hosts.alpha.commands).toBeLessThanOrEqual(6);
    expect(changes.filter((c) => c.text.startsWith(REMOTE_MARKER.writeBatch))).toHaveLength(1);
    // Every diff is shown (planned) before any file of the batch is reported written.
    const firstEnd = events.findIndex((e) => e.startsWith('changed'));
    expect(events.slice(0, firstEnd).filter((e) => e.startsWith('planned'))).toHaveLength(FILES);
    expect(
      report.tasks
        .filter((t) => t.status === 'changed')
        .every((t) => t.diff?.includes('-A:') && t.diff.includes('+B:')),
    ).toBe(true);
    // A no-op after it: one command.
    expect((await run('B')).report.hosts.alpha).toMatchObject({ changed: 0, commands: 1 });
  });

  it('a write its validate refuses stops the batch: the files before it are new, it and those after it are old, the tasks after it do not run', async () => {
    const log = join(dir, 'handlers.log');
    const run = setup(
      (v) => [
        ...files(v, (i) =>
          i === 12
            ? { validate: (p: string) => sh`grep -q '^A:' ${p}`, notify: 'late' }
            : i < 5
              ? { notify: 'early' }
              : {},
        ),
      ],
      [
        command({ name: 'early', cmd: sh`echo early >> ${log}` }),
        command({ name: 'late', cmd: sh`echo late >> ${log}` }),
      ],
    );
    await run('A');
    rmSync(log, { force: true });
    const { report } = await run('B');
    expect(report.hosts.alpha.failed).toBe(1);
    const failed = report.tasks.find((t) => t.status === 'failed')!;
    expect(failed.task).toBe(`file ${path(12)}`);
    expect(failed.error).toContain(`validate refused the new ${path(12)}`);
    expect(report.tasks.filter((t) => t.status === 'changed')).toHaveLength(12);
    expect(report.tasks).toHaveLength(13);
    for (let i = 0; i < FILES; i++)
      expect(readFileSync(path(i), 'utf8'), `file ${i}`).toBe(content(i, i < 12 ? 'B' : 'A'));
    expect(leftovers()).toEqual([]);
    // 'early' was notified by files that were written: it stays owed; 'late' only by the refused one: owed nothing.
    const journal = readFileSync(join(process.env.PLAY_STATE_DIR!, 'alpha', 'pending-handlers'), 'utf8');
    expect(journal).toContain('"handler":"early"');
    expect(journal).not.toContain('"handler":"late"');
  });

  it('a batch stops at a task that is not a whole-file write, and at a second write of the same path', async () => {
    const marker = join(dir, 'ran');
    const run = setup((v) => [
      ...files(v).slice(0, 5),
      command({ cmd: sh`touch ${marker}`, creates: marker }),
      ...files(v).slice(5, 10),
      file({ path: path(7), content: content(7, `${v}2`) }),
      ...files(v).slice(10, 12),
    ]);
    await run('A');
    const { report, commands } = await run('B');
    expect(report.hosts.alpha.failed).toBe(0);
    expect(readFileSync(path(7), 'utf8')).toBe(content(7, 'B2'));
    expect(readFileSync(path(11), 'utf8')).toBe(content(11, 'B'));
    // Batches: files 1-4 (file 0 took the lock), files 5-9, then the rewrite of file 7 with files 10 and 11.
    expect(commands.filter((c) => c.text.startsWith(REMOTE_MARKER.writeBatch))).toHaveLength(3);
  });
});

describe('applyWriteBatch', () => {
  const step = (i: number, v: string): WriteStep => ({
    kind: 'write',
    path: path(i),
    content: Buffer.from(content(i, v)),
    mode: '0640',
  });

  it('a content cut short mid-way (the controller gone) leaves every file old or new, and no temp file', async () => {
    for (let i = 0; i < 5; i++) writeFileSync(path(i), content(i, 'A'));
    const steps = Array.from({ length: 5 }, (_, i) => step(i, 'B'));
    const { command: batch, stdin, contentOffset } = writeBatchCommand(steps);
    // stdin ends in the middle of the fourth file's content.
    const cut = contentOffset + steps.slice(0, 3).reduce((n, s) => n + s.content.length, 0) + 50;
    const result = await new LocalConnection('local').exec(batch, { stdin: stdin.subarray(0, cut) });
    expect(result.exitCode).toBe(98);
    expect(result.stderr).toContain(`the content of ${path(3)} arrived incomplete`);
    for (let i = 0; i < 5; i++) expect(readFileSync(path(i), 'utf8')).toBe(content(i, i < 3 ? 'B' : 'A'));
    expect(leftovers()).toEqual([]);
  });

  it('a script cut short runs nothing: it is checked whole before a line of it runs', async () => {
    for (let i = 0; i < 3; i++) writeFileSync(path(i), content(i, 'A'));
    const {
      command: batch,
      stdin,
      contentOffset,
    } = writeBatchCommand(Array.from({ length: 3 }, (_, i) => step(i, 'B')));
    const result = await new LocalConnection('local').exec(batch, {
      stdin: stdin.subarray(0, Math.floor(contentOffset * 0.8)),
    });
    expect(result.exitCode).toBe(98);
    expect(result.stderr).toContain('the write batch arrived incomplete');
    expect(result.stdout).not.toContain('play-write-done');
    for (let i = 0; i < 3; i++) expect(readFileSync(path(i), 'utf8')).toBe(content(i, 'A'));
  });

  it('names the failed write and how many are in place', async () => {
    const steps = [step(0, 'B'), { ...step(1, 'B'), path: join(dir, 'no-such-dir', 'f') }, step(2, 'B')];
    const outcome = await applyWriteBatch(
      new LocalConnection('local'),
      steps,
      steps.map((s) => ({ host: 'local', task: `file ${s.path}` })),
    );
    expect(outcome.done).toBe(1);
    expect(outcome.error?.message).toContain(`writing ${join(dir, 'no-such-dir', 'f')} failed`);
    expect(outcome.error?.message).toContain('directory of');
    expect(existsSync(path(0))).toBe(true);
    expect(existsSync(path(2))).toBe(false);
  });
});
