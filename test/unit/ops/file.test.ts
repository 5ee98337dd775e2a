import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sh } from '../../../src/connection/sh.ts';
import { CommandError, PlayError } from '../../../src/errors.ts';
import { file } from '../../../src/ops/file.ts';
import type { Plan, Step, WriteStep } from '../../../src/ops/op.ts';
import { MaskTable } from '../../../src/mask-table.ts';
import { formatDiff } from '../../../src/render/diff.ts';
import { secret, Secret } from '../../../src/secret.ts';
import { localHost, type LocalHost } from '../support/local-host.ts';
import { modeOf, ownerOf } from '../support/path-owner.ts';

const isRoot = process.getuid?.() === 0;
const me = execFileSync('id', ['-un'], { encoding: 'utf8' }).trim();
const myGroup = execFileSync('id', ['-gn'], { encoding: 'utf8' }).trim();

function changed(plan: Plan): Extract<Plan, { changed: true }> {
  if (!plan.changed) throw new Error(`expected a change, got: ${plan.reason}`);
  return plan;
}
const writeStep = (step: Step | undefined): WriteStep => {
  if (step?.kind !== 'write') throw new Error(`expected a write step, got ${step?.kind}`);
  return step;
};

let host: LocalHost;
beforeEach(() => {
  host = localHost();
});
afterEach(() => host.cleanup());

function put(name: string, content: string, mode = 0o644): string {
  const path = join(host.dir, name);
  writeFileSync(path, content);
  chmodSync(path, mode);
  return path;
}

describe('file: plans', () => {
  it('a missing file is created with mode 0644 by default', async () => {
    const path = join(host.dir, 'motd');
    const plan = changed(await host.plan(file({ path, content: 'Welcome\n' })));
    expect(plan.summary).toBe(`create ${path}`);
    expect(plan.steps).toHaveLength(1);
    const step = writeStep(plan.steps[0]);
    expect(step).toMatchObject({ kind: 'write', path, mode: '0644' });
    expect(step.content.toString()).toBe('Welcome\n');
    expect(plan.diffs).toEqual([{ path, before: '', after: 'Welcome\n' }]);
    expect(existsSync(path)).toBe(false);
  });

  it('a missing file with a mode shows the mode in the diff', async () => {
    const path = join(host.dir, 'secret.conf');
    const plan = changed(await host.plan(file({ path, content: 'x\n', mode: '640' })));
    expect(writeStep(plan.steps[0]).mode).toBe('0640');
    expect(plan.diffs[0].attributes).toEqual([{ name: 'mode', before: '(none)', after: '0640' }]);
  });

  it.each<[string, { content: string; mode?: number }, { content?: string; mode?: string }, string | false]>([
    ['same content, no attributes asked', { content: 'a\n' }, { content: 'a\n' }, false],
    ['same content and mode', { content: 'a\n', mode: 0o600 }, { content: 'a\n', mode: '0600' }, false],
    ['same content, other mode', { content: 'a\n', mode: 0o644 }, { content: 'a\n', mode: '0600' }, 'set mode of'],
    ['other content', { content: 'a\n' }, { content: 'b\n' }, 'update'],
    ['other content and mode', { content: 'a\n', mode: 0o644 }, { content: 'b\n', mode: '0640' }, 'update'],
    ['empty file, content wanted', { content: '' }, { content: 'x' }, 'update'],
    ['content, empty wanted', { content: 'x' }, { content: '' }, 'update'],
  ])('%s', async (_, existing, wanted, summary) => {
    const path = put('f', existing.content, existing.mode);
    const plan = await host.plan(file({ path, ...wanted }));
    if (summary === false) {
      expect(plan).toEqual({ changed: false, reason: 'content and attributes match' });
    } else {
      expect(changed(plan).summary).toBe(`${summary} ${path}`);
    }
    expect(readFileSync(path, 'utf8')).toBe(existing.content);
  });

  it('a mode change only is one chmod, and a diff of attributes only', async () => {
    const path = put('f', 'a\n', 0o644);
    const plan = changed(await host.plan(file({ path, content: 'a\n', mode: '0600' })));
    expect(plan.steps).toEqual([
      { kind: 'exec', command: expect.objectContaining({ text: `chmod 00600 ${path}` }), affects: [path] },
    ]);
    expect(plan.diffs).toEqual([{ path, attributes: [{ name: 'mode', before: '0644', after: '0600' }] }]);
  });

  it.runIf(isRoot)('an owner and group change only is chown and chgrp', async () => {
    const path = put('f', 'a\n');
    const plan = changed(await host.plan(file({ path, content: 'a\n', owner: 'nobody', group: 'nogroup' })));
    expect(plan.summary).toBe(`set owner, group of ${path}`);
    expect(plan.steps).toHaveLength(1);
    expect((plan.steps[0] as { command: { text: string } }).command.text).toBe(
      `chown nobody ${path} && chgrp nogroup ${path}`,
    );
    expect(plan.diffs[0].attributes).toEqual([
      { name: 'owner', before: me, after: 'nobody' },
      { name: 'group', before: myGroup, after: 'nogroup' },
    ]);
  });

  it('a content change shows the old and new text, and keeps the attributes the file has', async () => {
    const path = put('f', 'line 1\nold\nline 3\n', 0o640);
    const plan = changed(await host.plan(file({ path, content: 'line 1\nnew\nline 3\n' })));
    expect(plan.diffs).toEqual([{ path, before: 'line 1\nold\nline 3\n', after: 'line 1\nnew\nline 3\n' }]);
    expect(writeStep(plan.steps[0])).toMatchObject({ path, mode: '0640', owner: me, group: myGroup });
    const text = formatDiff(plan.diffs[0], new MaskTable());
    expect(text).toContain('-old');
    expect(text).toContain('+new');
  });

  it('a content and mode change lists the mode in the diff', async () => {
    const path = put('f', 'a\n', 0o644);
    const plan = changed(await host.plan(file({ path, content: 'b\n', mode: '0600' })));
    expect(plan.diffs[0]).toMatchObject({
      before: 'a\n',
      after: 'b\n',
      attributes: [{ name: 'mode', before: '0644', after: '0600' }],
    });
    expect(writeStep(plan.steps[0]).mode).toBe('0600');
  });

  it('secret content stays a Secret in the diff, and real in the write step', async () => {
    const path = put('f', 'old-secret-content\n');
    const plan = changed(await host.plan(file({ path, content: secret('new-secret-content\n') })));
    expect(plan.diffs[0].before).toBeInstanceOf(Secret);
    expect(plan.diffs[0].after).toBeInstanceOf(Secret);
    expect(writeStep(plan.steps[0]).content.toString()).toBe('new-secret-content\n');
    expect(formatDiff(plan.diffs[0], new MaskTable())).not.toContain('secret-content');
  });

  it('a directory where a file is wanted is an error', async () => {
    const path = join(host.dir, 'dir');
    mkdirSync(path);
    await expect(host.plan(file({ path, content: 'x' }))).rejects.toThrow(PlayError);
    await expect(host.plan(file({ path, content: 'x' }))).rejects.toThrow(/is a directory, not a regular file/);
  });

  it('a bad mode is refused when the task is declared', () => {
    expect(() => file({ path: '/x', content: '', mode: '644x' })).toThrow(/mode must be a string of octal digits/);
    expect(() => file({ path: '/x', content: '', mode: 644 as unknown as string })).toThrow(PlayError);
  });

  it('absent: removes an existing file, with its content in the diff', async () => {
    const path = put('f', 'bye\n');
    const plan = changed(await host.plan(file({ path, state: 'absent' })));
    expect(plan.summary).toBe(`remove ${path}`);
    expect(plan.diffs).toEqual([{ path, before: 'bye\n', after: '' }]);
  });

  it('absent: nothing to do for a missing file', async () => {
    const plan = await host.plan(file({ path: join(host.dir, 'none'), state: 'absent' }));
    expect(plan.changed).toBe(false);
  });

  it('attributes only: an existing file keeps its content', async () => {
    const path = put('f', 'keep\n', 0o644);
    const plan = changed(await host.plan(file({ path, mode: '0600' })));
    expect(plan.summary).toBe(`set mode of ${path}`);
    expect(plan.steps.every((s) => s.kind === 'exec')).toBe(true);
    expect(await host.plan(file({ path, mode: '0644' }))).toMatchObject({ changed: false });
  });

  it('attributes only: a missing file is created empty', async () => {
    const path = join(host.dir, 'new');
    const plan = changed(await host.plan(file({ path, mode: '0600' })));
    expect(plan.summary).toBe(`create ${path}`);
    expect(writeStep(plan.steps[0]).content.length).toBe(0);
  });

  it('plans read facts in one command', async () => {
    const path = put('f', 'a\n');
    await host.plan(file({ path, content: 'a\n' }));
    expect(host.connection.commandCount).toBe(1);
  });
});

describe('file: converge', () => {
  it.each(['0600', '0640', '0755', '0444', '2755'])('creates a file with mode %s, then is unchanged', async (mode) => {
    const path = join(host.dir, 'new file');
    const plan = await host.converge(file({ path, content: 'hello\n', mode }));
    expect(plan.changed).toBe(true);
    expect(readFileSync(path, 'utf8')).toBe('hello\n');
    expect(modeOf(path)).toBe(mode);
    expect(await host.converge(file({ path, content: 'hello\n', mode }))).toMatchObject({ changed: false });
  });

  it('creates a file with the default mode 0644', async () => {
    const path = join(host.dir, 'default');
    await host.converge(file({ path, content: 'x' }));
    expect(modeOf(path)).toBe('0644');
  });

  it('updates content, keeping the mode, then is unchanged', async () => {
    const path = put('f', 'old\n', 0o640);
    await host.converge(file({ path, content: 'new\n' }));
    expect(readFileSync(path, 'utf8')).toBe('new\n');
    expect(modeOf(path)).toBe('0640');
    expect(await host.converge(file({ path, content: 'new\n' }))).toMatchObject({ changed: false });
  });

  it('writes binary content byte for byte', async () => {
    const path = join(host.dir, 'bin');
    const content = Buffer.from([0, 1, 2, 0xff, 0x0a, 0x00]);
    await host.converge(file({ path, content }));
    expect(readFileSync(path)).toEqual(content);
    expect(await host.converge(file({ path, content }))).toMatchObject({ changed: false });
  });

  it('writes the real value of a secret', async () => {
    const path = join(host.dir, 'pw');
    await host.converge(file({ path, content: secret('real-pass\n'), mode: '0600' }));
    expect(readFileSync(path, 'utf8')).toBe('real-pass\n');
    expect(await host.converge(file({ path, content: secret('real-pass\n'), mode: '0600' }))).toMatchObject({
      changed: false,
    });
  });

  it('changes the mode only', async () => {
    const path = put('f', 'same\n', 0o644);
    await host.converge(file({ path, content: 'same\n', mode: '0600' }));
    expect(modeOf(path)).toBe('0600');
    expect(readFileSync(path, 'utf8')).toBe('same\n');
    expect(await host.converge(file({ path, content: 'same\n', mode: '0600' }))).toMatchObject({ changed: false });
  });

  it.runIf(isRoot)('changes owner and group only', async () => {
    const path = put('f', 'same\n');
    const task = () => file({ path, content: 'same\n', owner: 'nobody', group: 'nogroup' });
    await host.converge(task());
    expect(ownerOf(path)).toBe('nobody:nogroup');
    expect(await host.converge(task())).toMatchObject({ changed: false });
  });

  it.runIf(isRoot)('creates a file with owner, group and mode', async () => {
    const path = join(host.dir, 'owned');
    const task = () => file({ path, content: 'x\n', owner: 'nobody', group: 'nogroup', mode: '0640' });
    await host.converge(task());
    expect(ownerOf(path)).toBe('nobody:nogroup');
    expect(modeOf(path)).toBe('0640');
    expect(await host.converge(task())).toMatchObject({ changed: false });
  });

  it.runIf(isRoot)('an update keeps an owner and group the task does not name', async () => {
    const path = put('f', 'old\n', 0o640);
    execFileSync('chown', ['nobody:nogroup', path]);
    await host.converge(file({ path, content: 'new\n' }));
    expect(ownerOf(path)).toBe('nobody:nogroup');
    expect(modeOf(path)).toBe('0640');
  });

  it('validate refusing the content leaves the old file in place and no temp file behind', async () => {
    const path = put('conf', 'good old\n', 0o600);
    const task = file({ path, content: 'bad new\n', validate: (p) => sh`grep -q good ${p}` });
    const error = await host.converge(task).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandError);
    expect((error as CommandError).message).toMatch(/validate refused/);
    expect(readFileSync(path, 'utf8')).toBe('good old\n');
    expect(modeOf(path)).toBe('0600');
    expect(readdirSync(host.dir)).toEqual(['conf']);
  });

  it('validate accepting the content lets it through', async () => {
    const path = put('conf', 'good old\n');
    await host.converge(file({ path, content: 'good new\n', validate: (p) => sh`grep -q good ${p}` }));
    expect(readFileSync(path, 'utf8')).toBe('good new\n');
    expect(readdirSync(host.dir)).toEqual(['conf']);
  });

  it('validate also checks a new file, and a refused new file is not created', async () => {
    const path = join(host.dir, 'new.conf');
    await expect(
      host.converge(file({ path, content: 'bad\n', validate: (p) => sh`grep -q good ${p}` })),
    ).rejects.toThrow(CommandError);
    expect(readdirSync(host.dir)).toEqual([]);
  });

  it('validate sees the new content with its final mode', async () => {
    const path = put('conf', 'x\n');
    await host.converge(
      file({ path, content: 'y\n', mode: '0600', validate: (p) => sh`test "$(stat -c %a ${p})" = 600` }),
    );
    expect(readFileSync(path, 'utf8')).toBe('y\n');
  });

  it('backup: true keeps the old file as PATH.<timestamp>~', async () => {
    const path = put('conf', 'version 1\n', 0o640);
    await host.converge(file({ path, content: 'version 2\n', backup: true }));
    expect(readFileSync(path, 'utf8')).toBe('version 2\n');
    const backups = readdirSync(host.dir).filter((n) => n !== 'conf');
    expect(backups).toHaveLength(1);
    expect(backups[0]).toMatch(/^conf\.\d{8}T\d{6}~$/);
    expect(readFileSync(join(host.dir, backups[0]), 'utf8')).toBe('version 1\n');
    expect(modeOf(join(host.dir, backups[0]))).toBe('0640');
  });

  it('without backup no copy is kept', async () => {
    const path = put('conf', 'version 1\n');
    await host.converge(file({ path, content: 'version 2\n' }));
    expect(readdirSync(host.dir)).toEqual(['conf']);
  });

  it('absent removes the file, then is unchanged', async () => {
    const path = put('gone', 'x');
    await host.converge(file({ path, state: 'absent' }));
    expect(existsSync(path)).toBe(false);
    expect(await host.converge(file({ path, state: 'absent' }))).toMatchObject({ changed: false });
  });

  it('a missing parent directory is an error naming the path', async () => {
    const path = join(host.dir, 'no', 'such', 'dir', 'f');
    await expect(host.converge(file({ path, content: 'x' }))).rejects.toThrow(/does not exist/);
  });

  it('paths with spaces and quotes work', async () => {
    const path = join(host.dir, "it's a $(file) *");
    await host.converge(file({ path, content: 'x\n', mode: '0600' }));
    expect(readFileSync(path, 'utf8')).toBe('x\n');
    expect(await host.converge(file({ path, content: 'x\n', mode: '0600' }))).toMatchObject({ changed: false });
  });
});
