import { chmodSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sh } from '../../../src/connection/sh.ts';
import { PlayError } from '../../../src/errors.ts';
import { editLines, line, type LineParams } from '../../../src/ops/line.ts';
import type { Plan, PlanContext } from '../../../src/ops/op.ts';
import { MaskTable } from '../../../src/mask-table.ts';
import { formatDiff } from '../../../src/render/diff.ts';
import { localHost, type LocalHost } from '../support/local-host.ts';

type EditParams = Pick<LineParams, 'regexp' | 'state' | 'insertAfter'> & { line?: string };

describe('editLines', () => {
  it.each<[string, string, EditParams, string | undefined]>([
    // present, no regexp
    ['adds a missing line at the end', 'a\nb\n', { line: 'c' }, 'a\nb\nc\n'],
    ['adds to an empty file', '', { line: 'c' }, 'c\n'],
    ['adds after a last line without newline', 'a\nb', { line: 'c' }, 'a\nb\nc\n'],
    ['leaves a present line', 'a\nb\n', { line: 'a' }, undefined],
    ['leaves a present last line without newline', 'a\nb', { line: 'b' }, undefined],
    // replace
    ['replaces the matching line', 'a=1\nb=2\n', { line: 'a=2', regexp: /^a=/ }, 'a=2\nb=2\n'],
    ['replaces the last of several matches', 'a=1\nx\na=3\n', { line: 'a=9', regexp: /^a=/ }, 'a=1\nx\na=9\n'],
    ['leaves a matching line that is already right', 'a=1\nb=2\n', { line: 'a=1', regexp: /^a=/ }, undefined],
    ['keeps a missing final newline when replacing', 'a=1\nb=2', { line: 'b=3', regexp: /^b=/ }, 'a=1\nb=3'],
    ['adds when nothing matches the regexp', 'b=2\n', { line: 'a=1', regexp: /^a=/ }, 'b=2\na=1\n'],
    [
      'leaves the line when present though the regexp does not match',
      'a=1\n',
      { line: 'a=1', regexp: /^zzz/ },
      undefined,
    ],
    [
      'replaces a commented default',
      '#PermitRootLogin yes\nX\n',
      { line: 'PermitRootLogin no', regexp: /^#?PermitRootLogin\b/ },
      'PermitRootLogin no\nX\n',
    ],
    ['a global regexp still finds the last match', 'a=1\na=2\n', { line: 'a=9', regexp: /^a=/g }, 'a=1\na=9\n'],
    // insertAfter
    [
      'inserts after the last anchor',
      '[main]\nx=1\n[other]\ny=1\n',
      { line: 'z=1', insertAfter: /^\[main\]/ },
      '[main]\nz=1\nx=1\n[other]\ny=1\n',
    ],
    ['inserts at the end when the anchor is missing', 'a\n', { line: 'z', insertAfter: /^nope/ }, 'a\nz\n'],
    [
      'does not insert when the regexp matches',
      'k=1\n[s]\n',
      { line: 'k=2', regexp: /^k=/, insertAfter: /^\[s\]/ },
      'k=2\n[s]\n',
    ],
    // absent
    ['removes a line', 'a\nb\nc\n', { line: 'b', state: 'absent' }, 'a\nc\n'],
    ['removes every line matching the regexp', 'a=1\nb\na=2\n', { regexp: /^a=/, state: 'absent' }, 'b\n'],
    ['removes the only line', 'a\n', { line: 'a', state: 'absent' }, ''],
    ['nothing to remove', 'a\nb\n', { line: 'c', state: 'absent' }, undefined],
    ['nothing to remove from an empty file', '', { line: 'c', state: 'absent' }, undefined],
    ['a global regexp removes every match', 'a=1\na=2\na=3\n', { regexp: /^a=/g, state: 'absent' }, ''],
  ])('%s', (_, text, params, expected) => {
    expect(editLines(text, params)).toBe(expected);
  });

  it('is idempotent: editing the result again changes nothing', () => {
    const once = editLines('a=1\n', { line: 'a=2', regexp: /^a=/ }) as string;
    expect(editLines(once, { line: 'a=2', regexp: /^a=/ })).toBeUndefined();
  });
});

let host: LocalHost;
beforeEach(() => {
  host = localHost();
});
afterEach(() => host.cleanup());

function changed(plan: Plan): Extract<Plan, { changed: true }> {
  if (!plan.changed) throw new Error(`expected a change, got: ${plan.reason}`);
  return plan;
}
function put(name: string, content: string | Buffer, mode = 0o644): string {
  const path = join(host.dir, name);
  writeFileSync(path, content);
  chmodSync(path, mode);
  return path;
}
const mode = (p: string) => (statSync(p).mode & 0o7777).toString(8).padStart(4, '0');

describe('line: plans and converge', () => {
  it('replaces a line, keeping the mode, then is unchanged', async () => {
    const path = put('isc-dhcp-server', '# Defaults\nINTERFACESv4=""\nINTERFACESv6=""\n', 0o640);
    const task = () => line({ path, regexp: /^INTERFACESv4=/, line: 'INTERFACESv4="eth0"' });
    const plan = changed(await host.converge(task()));
    expect(plan.summary).toBe(`update ${path}`);
    expect(plan.diffs[0]).toMatchObject({
      before: '# Defaults\nINTERFACESv4=""\nINTERFACESv6=""\n',
      after: '# Defaults\nINTERFACESv4="eth0"\nINTERFACESv6=""\n',
    });
    expect(formatDiff(plan.diffs[0], new MaskTable())).toContain('+INTERFACESv4="eth0"');
    expect(readFileSync(path, 'utf8')).toBe('# Defaults\nINTERFACESv4="eth0"\nINTERFACESv6=""\n');
    expect(mode(path)).toBe('0640');
    expect(await host.converge(task())).toMatchObject({ changed: false });
  });

  it('inserts a line, then is unchanged', async () => {
    const path = put('hosts', '127.0.0.1 localhost\n');
    const task = () => line({ path, line: '10.0.0.2 ns1.smknh.sch.id ns1' });
    await host.converge(task());
    expect(readFileSync(path, 'utf8')).toBe('127.0.0.1 localhost\n10.0.0.2 ns1.smknh.sch.id ns1\n');
    expect(await host.converge(task())).toMatchObject({ changed: false });
  });

  it('absent removes the lines, then is unchanged', async () => {
    const path = put('conf', 'keep\nremove me=1\nkeep too\nremove me=2\n');
    const task = () => line({ path, regexp: /^remove me=/, state: 'absent' });
    const plan = changed(await host.converge(task()));
    expect(plan.diffs[0]).toMatchObject({ after: 'keep\nkeep too\n' });
    expect(readFileSync(path, 'utf8')).toBe('keep\nkeep too\n');
    expect(await host.converge(task())).toMatchObject({ changed: false });
  });

  it('a line already there with a wrong mode: only the mode changes', async () => {
    const path = put('conf', 'a=1\n', 0o644);
    const plan = changed(await host.converge(line({ path, line: 'a=1', mode: '0600' })));
    expect(plan.summary).toBe(`set mode of ${path}`);
    expect(mode(path)).toBe('0600');
  });

  it('a missing file is an error without create', async () => {
    const path = join(host.dir, 'missing');
    await expect(host.plan(line({ path, line: 'x' }))).rejects.toThrow(PlayError);
    await expect(host.plan(line({ path, line: 'x' }))).rejects.toThrow(/does not exist \(set create: true/);
  });

  it('a missing file is a pending change when earlier changes are pending (check mode)', async () => {
    const path = join(host.dir, 'missing');
    const task = line({ path, line: 'x' });
    const context: PlanContext = { host: 'local', vars: {}, facts: host.facts, earlierChangesPending: true };
    const plan = changed(await task.op.plan(context));
    expect(plan.steps).toEqual([]);
  });

  it('create: true creates the file with the line and the mode', async () => {
    const path = join(host.dir, 'new');
    const task = () => line({ path, line: 'x=1', create: true, mode: '0600' });
    const plan = changed(await host.converge(task()));
    expect(plan.summary).toBe(`create ${path}`);
    expect(readFileSync(path, 'utf8')).toBe('x=1\n');
    expect(mode(path)).toBe('0600');
    expect(await host.converge(task())).toMatchObject({ changed: false });
  });

  it('absent on a missing file is unchanged, even with create: true', async () => {
    const path = join(host.dir, 'missing');
    expect(await host.converge(line({ path, line: 'x', state: 'absent' }))).toMatchObject({ changed: false });
    expect(await host.converge(line({ path, line: 'x', state: 'absent', create: true }))).toMatchObject({
      changed: false,
    });
    expect(existsSync(path)).toBe(false);
  });

  it('a file with NUL bytes and no final newline is left alone when the line is there', async () => {
    const content = Buffer.from('key=1\nblob\u0000data\n\n');
    const path = put('bin.conf', content);
    expect(await host.converge(line({ path, line: 'key=1' }))).toMatchObject({ changed: false });
    expect(readFileSync(path)).toEqual(content);
  });

  it('trailing empty lines are kept when a line is added', async () => {
    const path = put('conf', 'a\n\n\n');
    await host.converge(line({ path, line: 'b' }));
    expect(readFileSync(path, 'utf8')).toBe('a\n\n\nb\n');
  });

  it('validate refusing the edit keeps the old file and no temp file', async () => {
    const path = put('conf', 'good\n');
    await expect(
      host.converge(line({ path, line: 'bad', regexp: /^good$/, validate: (p) => sh`grep -q good ${p}` })),
    ).rejects.toThrow(/validate refused/);
    expect(readFileSync(path, 'utf8')).toBe('good\n');
    expect(readdirSync(host.dir)).toEqual(['conf']);
  });

  it('backup keeps the old file', async () => {
    const path = put('conf', 'a=1\n');
    await host.converge(line({ path, regexp: /^a=/, line: 'a=2', backup: true }));
    const backups = readdirSync(host.dir).filter((n) => n !== 'conf');
    expect(backups).toHaveLength(1);
    expect(readFileSync(join(host.dir, backups[0]), 'utf8')).toBe('a=1\n');
  });

  it('a line with a newline, or no line for present, is refused', () => {
    expect(() => line({ path: '/x', line: 'a\nb' })).toThrow(/must not contain a newline/);
    expect(() => line({ path: '/x' })).toThrow(/line is required/);
  });

  it('a global regexp gives the same plan every time', async () => {
    const path = put('conf', 'a=2\nb\na=1\n');
    const task = line({ path, regexp: /^a=/g, line: 'a=2' });
    for (let i = 0; i < 3; i++) {
      host.facts.invalidate();
      expect(await host.plan(task)).toMatchObject({ changed: true });
    }
  });
});
