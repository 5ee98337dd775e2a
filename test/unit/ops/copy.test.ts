import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PlayError } from '../../../src/errors.ts';
import { copy } from '../../../src/ops/copy.ts';
import type { Plan } from '../../../src/ops/op.ts';
import { localHost, type LocalHost } from '../support/local-host.ts';

let host: LocalHost;
let filesDir: string;
const logo = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0xff]);
beforeEach(() => {
  host = localHost();
  host.roleDir = join(host.dir, 'roles', 'web');
  filesDir = join(host.roleDir, 'files');
  mkdirSync(join(filesDir, 'sub'), { recursive: true });
  writeFileSync(join(filesDir, 'logo.png'), logo);
  writeFileSync(join(filesDir, 'sub', 'index.html'), '<h1>hi</h1>\n');
  mkdirSync(join(host.dir, 'www'));
});
afterEach(() => host.cleanup());

function changed(plan: Plan): Extract<Plan, { changed: true }> {
  if (!plan.changed) throw new Error(`expected a change, got: ${plan.reason}`);
  return plan;
}
const mode = (p: string) => (statSync(p).mode & 0o7777).toString(8).padStart(4, '0');

describe('copy', () => {
  it('copies a binary file from the role files/ folder byte for byte, then is unchanged', async () => {
    const dest = join(host.dir, 'www', 'logo.png');
    const plan = changed(await host.converge(copy({ src: 'logo.png', dest, mode: '0644' })));
    expect(plan.summary).toBe(`create ${dest}`);
    expect(readFileSync(dest)).toEqual(logo);
    expect(mode(dest)).toBe('0644');
    expect(await host.converge(copy({ src: 'logo.png', dest, mode: '0644' }))).toMatchObject({ changed: false });
  });

  it('copies from a sub folder of files/', async () => {
    const dest = join(host.dir, 'www', 'index.html');
    await host.converge(copy({ src: 'sub/index.html', dest }));
    expect(readFileSync(dest, 'utf8')).toBe('<h1>hi</h1>\n');
  });

  it('a changed source gives an update with a diff', async () => {
    const dest = join(host.dir, 'www', 'index.html');
    writeFileSync(dest, '<h1>old</h1>\n');
    const plan = changed(await host.plan(copy({ src: 'sub/index.html', dest })));
    expect(plan.summary).toBe(`update ${dest}`);
    expect(plan.diffs[0]).toMatchObject({ before: '<h1>old</h1>\n', after: '<h1>hi</h1>\n' });
  });

  it('a changed binary file: update', async () => {
    const dest = join(host.dir, 'www', 'logo.png');
    writeFileSync(dest, Buffer.from([0x89, 0x00, 0x01]));
    const plan = changed(await host.converge(copy({ src: 'logo.png', dest })));
    expect(plan.summary).toBe(`update ${dest}`);
    expect(readFileSync(dest)).toEqual(logo);
  });

  it('a missing source is a PlayError before any command', async () => {
    await expect(host.plan(copy({ src: 'nope.txt', dest: join(host.dir, 'x') }))).rejects.toThrow(PlayError);
    await expect(host.plan(copy({ src: 'nope.txt', dest: join(host.dir, 'x') }))).rejects.toThrow(
      /cannot read .*files\/nope\.txt/,
    );
    expect(host.connection.commandCount).toBe(0);
  });

  it('backup keeps the old copy', async () => {
    const dest = join(host.dir, 'www', 'index.html');
    writeFileSync(dest, 'old\n');
    await host.converge(copy({ src: 'sub/index.html', dest, backup: true }));
    expect(readdirSync(join(host.dir, 'www')).filter((n) => n.endsWith('~'))).toHaveLength(1);
  });

  it('a directory at dest is an error', async () => {
    await expect(host.plan(copy({ src: 'logo.png', dest: join(host.dir, 'www') }))).rejects.toThrow(/is a directory/);
  });
});
