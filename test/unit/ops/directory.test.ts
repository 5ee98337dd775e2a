import { existsSync, mkdirSync, chmodSync, statSync, writeFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PlayError } from '../../../src/errors.ts';
import { directory } from '../../../src/ops/directory.ts';
import type { Plan } from '../../../src/ops/op.ts';
import { localHost, type LocalHost } from '../support/local-host.ts';
import { modeOf, ownerOf } from '../support/path-owner.ts';

const isRoot = process.getuid?.() === 0;
let host: LocalHost;
beforeEach(() => {
  host = localHost();
});
afterEach(() => host.cleanup());

function changed(plan: Plan): Extract<Plan, { changed: true }> {
  if (!plan.changed) throw new Error(`expected a change, got: ${plan.reason}`);
  return plan;
}
const mode = modeOf;

describe('directory: plans', () => {
  it.each<[string, number | undefined, string | undefined, string | false]>([
    ['missing', undefined, '0750', 'create directory'],
    ['missing, no mode', undefined, undefined, 'create directory'],
    ['exists, no mode asked', 0o755, undefined, false],
    ['exists, same mode', 0o750, '0750', false],
    ['exists, other mode', 0o755, '0750', 'set mode of'],
    ['exists, setgid wanted', 0o755, '2775', 'set mode of'],
  ])('%s', async (_, existing, wantedMode, summary) => {
    const path = join(host.dir, 'd');
    if (existing !== undefined) {
      mkdirSync(path);
      chmodSync(path, existing);
    }
    const plan = await host.plan(directory({ path, mode: wantedMode }));
    if (summary === false) expect(plan.changed).toBe(false);
    else expect(changed(plan).summary).toBe(`${summary} ${path}`);
  });

  it('a missing directory shows the type change', async () => {
    const path = join(host.dir, 'd');
    const plan = changed(await host.plan(directory({ path })));
    expect(plan.diffs).toEqual([{ path, attributes: [{ name: 'type', before: 'absent', after: 'directory' }] }]);
  });

  it('a file where a directory is wanted is an error', async () => {
    const path = join(host.dir, 'f');
    writeFileSync(path, 'x');
    await expect(host.plan(directory({ path }))).rejects.toThrow(PlayError);
    await expect(host.plan(directory({ path }))).rejects.toThrow(/is a file, not a directory/);
  });

  it('a link where a directory is wanted is an error', async () => {
    const path = join(host.dir, 'l');
    mkdirSync(join(host.dir, 'real'));
    symlinkSync('real', path);
    await expect(host.plan(directory({ path }))).rejects.toThrow(/is a link, not a directory/);
  });
});

describe('directory: converge', () => {
  it('creates nested directories with the mode, then is unchanged', async () => {
    const path = join(host.dir, 'a', 'b', 'c d');
    await host.converge(directory({ path, mode: '0750' }));
    expect(statSync(path).isDirectory()).toBe(true);
    expect(mode(path)).toBe('0750');
    expect(await host.converge(directory({ path, mode: '0750' }))).toMatchObject({ changed: false });
  });

  it('changes the mode of an existing directory', async () => {
    const path = join(host.dir, 'd');
    mkdirSync(path);
    chmodSync(path, 0o755);
    await host.converge(directory({ path, mode: '1777' }));
    expect(mode(path)).toBe('1777');
    expect(await host.converge(directory({ path, mode: '1777' }))).toMatchObject({ changed: false });
  });

  it.runIf(isRoot)('creates with owner and group', async () => {
    const path = join(host.dir, 'owned');
    const task = () => directory({ path, owner: 'nobody', group: 'nogroup', mode: '0700' });
    await host.converge(task());
    expect(ownerOf(path)).toBe('nobody:nogroup');
    expect(mode(path)).toBe('0700');
    expect(await host.converge(task())).toMatchObject({ changed: false });
  });

  it.runIf(isRoot)('changes owner and group only', async () => {
    const path = join(host.dir, 'd');
    mkdirSync(path);
    await host.converge(directory({ path, owner: 'nobody', group: 'nogroup' }));
    expect(ownerOf(path)).toBe('nobody:nogroup');
    expect(await host.converge(directory({ path, owner: 'nobody', group: 'nogroup' }))).toMatchObject({
      changed: false,
    });
  });

  it('absent removes the directory with its content, then is unchanged', async () => {
    const path = join(host.dir, 'd');
    mkdirSync(join(path, 'sub'), { recursive: true });
    writeFileSync(join(path, 'sub', 'f'), 'x');
    const plan = changed(await host.converge(directory({ path, state: 'absent' })));
    expect(plan.summary).toBe(`remove ${path}`);
    expect(existsSync(path)).toBe(false);
    expect(await host.converge(directory({ path, state: 'absent' }))).toMatchObject({ changed: false });
  });
});

describe('mode under a setgid parent', () => {
  it('sets exactly the mode asked for, clearing an inherited setgid bit (GNU chmod keeps it for 0755)', async () => {
    const parent = join(host.dir, 'parent');
    mkdirSync(parent);
    chmodSync(parent, 0o2755);
    const child = join(parent, 'child');
    await host.converge(directory({ path: child, mode: '0755' }));
    expect((statSync(child).mode & 0o7777).toString(8)).toBe('755');
    expect((await host.plan(directory({ path: child, mode: '0755' }))).changed).toBe(false);
    chmodSync(child, 0o2755);
    host.facts.invalidate();
    const plan = await host.converge(directory({ path: child, mode: '0755' }));
    expect(plan.changed).toBe(true);
    expect((statSync(child).mode & 0o7777).toString(8)).toBe('755');
  });
});
