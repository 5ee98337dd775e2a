import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PlayError } from '../../../src/errors.ts';
import { link } from '../../../src/ops/link.ts';
import type { Plan } from '../../../src/ops/op.ts';
import { localHost, type LocalHost } from '../support/local-host.ts';

let host: LocalHost;
beforeEach(() => {
  host = localHost();
  mkdirSync(join(host.dir, 'sites-available'));
  mkdirSync(join(host.dir, 'sites-enabled'));
  writeFileSync(join(host.dir, 'sites-available', 'mail.conf'), 'mail\n');
  writeFileSync(join(host.dir, 'sites-available', 'web.conf'), 'web\n');
});
afterEach(() => host.cleanup());

function changed(plan: Plan): Extract<Plan, { changed: true }> {
  if (!plan.changed) throw new Error(`expected a change, got: ${plan.reason}`);
  return plan;
}

describe('link', () => {
  const path = () => join(host.dir, 'sites-enabled', 'site.conf');

  it('creates a relative link, then is unchanged', async () => {
    const plan = changed(await host.converge(link({ path: path(), target: '../sites-available/mail.conf' })));
    expect(plan.summary).toBe(`link ${path()} → ../sites-available/mail.conf`);
    expect(plan.diffs).toEqual([
      { path: path(), attributes: [{ name: 'link', before: 'absent', after: '../sites-available/mail.conf' }] },
    ]);
    expect(readlinkSync(path())).toBe('../sites-available/mail.conf');
    expect(readFileSync(path(), 'utf8')).toBe('mail\n');
    expect(await host.converge(link({ path: path(), target: '../sites-available/mail.conf' }))).toMatchObject({
      changed: false,
    });
  });

  it('retargets an existing link', async () => {
    symlinkSync('../sites-available/mail.conf', path());
    const plan = changed(await host.converge(link({ path: path(), target: '../sites-available/web.conf' })));
    expect(plan.diffs[0].attributes).toEqual([
      { name: 'link', before: '../sites-available/mail.conf', after: '../sites-available/web.conf' },
    ]);
    expect(readlinkSync(path())).toBe('../sites-available/web.conf');
    expect(await host.converge(link({ path: path(), target: '../sites-available/web.conf' }))).toMatchObject({
      changed: false,
    });
  });

  it('retargets a link that points to a directory (replacing the link, not writing inside it)', async () => {
    const p = join(host.dir, 'current');
    symlinkSync('sites-available', p);
    await host.converge(link({ path: p, target: 'sites-enabled' }));
    expect(readlinkSync(p)).toBe('sites-enabled');
    expect(existsSync(join(host.dir, 'sites-available', 'sites-enabled'))).toBe(false);
  });

  it('a dangling link can be created', async () => {
    await host.converge(link({ path: path(), target: '/nonexistent/target' }));
    expect(readlinkSync(path())).toBe('/nonexistent/target');
  });

  it('a regular file in the way is an error without force', async () => {
    writeFileSync(path(), 'real file');
    await expect(host.plan(link({ path: path(), target: 'x' }))).rejects.toThrow(PlayError);
    await expect(host.plan(link({ path: path(), target: 'x' }))).rejects.toThrow(/is a file; set force: true/);
  });

  it('force replaces a regular file', async () => {
    writeFileSync(path(), 'real file');
    await host.converge(link({ path: path(), target: '../sites-available/web.conf', force: true }));
    expect(lstatSync(path()).isSymbolicLink()).toBe(true);
    expect(readlinkSync(path())).toBe('../sites-available/web.conf');
  });

  it('force replaces an empty directory', async () => {
    const p = join(host.dir, 'emptydir');
    mkdirSync(p);
    await host.converge(link({ path: p, target: 'sites-available', force: true }));
    expect(readlinkSync(p)).toBe('sites-available');
  });

  it('a target is required', async () => {
    await expect(host.plan(link({ path: path() }))).rejects.toThrow(/target is required/);
  });

  it('absent removes the link but not its target, then is unchanged', async () => {
    symlinkSync('../sites-available/mail.conf', path());
    const plan = changed(await host.converge(link({ path: path(), state: 'absent' })));
    expect(plan.diffs).toEqual([{ path: path(), attributes: [{ name: 'type', before: 'link', after: 'absent' }] }]);
    expect(existsSync(path())).toBe(false);
    expect(readFileSync(join(host.dir, 'sites-available', 'mail.conf'), 'utf8')).toBe('mail\n');
    expect(await host.converge(link({ path: path(), state: 'absent' }))).toMatchObject({ changed: false });
  });

  it('absent on a link to a directory keeps the directory content', async () => {
    const p = join(host.dir, 'current');
    symlinkSync('sites-available', p);
    await host.converge(link({ path: p, state: 'absent' }));
    expect(existsSync(p)).toBe(false);
    expect(existsSync(join(host.dir, 'sites-available', 'mail.conf'))).toBe(true);
  });
});
