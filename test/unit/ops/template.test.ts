import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sh } from '../../../src/connection/sh.ts';
import { TemplateError } from '../../../src/errors.ts';
import { template, resolveSource } from '../../../src/ops/template.ts';
import type { Plan, WriteStep } from '../../../src/ops/op.ts';
import { MaskTable } from '../../../src/mask-table.ts';
import { formatDiff } from '../../../src/render/diff.ts';
import { secret } from '../../../src/secret.ts';
import { localHost, type LocalHost } from '../support/local-host.ts';

let host: LocalHost;
let roleDir: string;
beforeEach(() => {
  host = localHost();
  roleDir = join(host.dir, 'roles', 'dns');
  mkdirSync(join(roleDir, 'templates'), { recursive: true });
  host.roleDir = roleDir;
  host.vars = { domain: 'smknh.sch.id', serial: 2024010101 };
  writeFileSync(
    join(roleDir, 'templates', 'zone.ejs'),
    '$ORIGIN <%= domain %>.\n; serial <%= serial %>\n<% for (const ns of nameservers) { %>@ NS <%= ns %>\n<% } %>',
  );
});
afterEach(() => host.cleanup());

function changed(plan: Plan): Extract<Plan, { changed: true }> {
  if (!plan.changed) throw new Error(`expected a change, got: ${plan.reason}`);
  return plan;
}

describe('resolveSource', () => {
  it.each([
    ['zone.ejs', 'templates', '/r', '/r/templates/zone.ejs'],
    ['sub/a.ejs', 'files', '/r', '/r/files/sub/a.ejs'],
    ['/abs/a.ejs', 'templates', '/r', '/abs/a.ejs'],
    ['rel.ejs', 'templates', undefined, 'rel.ejs'],
  ] as const)('%s in %s of %s is %s', (src, folder, role, expected) => {
    expect(resolveSource(src, folder, role)).toBe(expected);
  });
});

describe('template', () => {
  const dest = () => join(host.dir, 'db.zone');
  const zone = (ns: string[]) => template({ src: 'zone.ejs', dest: dest(), vars: { nameservers: ns }, mode: '0640' });

  it('renders from the role templates/ with host vars and task vars, then converges', async () => {
    const plan = changed(await host.converge(zone(['ns1', 'ns2'])));
    expect(plan.summary).toBe(`create ${dest()}`);
    expect(readFileSync(dest(), 'utf8')).toBe('$ORIGIN smknh.sch.id.\n; serial 2024010101\n@ NS ns1\n@ NS ns2\n');
    expect(await host.converge(zone(['ns1', 'ns2']))).toMatchObject({ changed: false });
  });

  it('task vars override host vars', async () => {
    await host.converge(template({ src: 'zone.ejs', dest: dest(), vars: { nameservers: [], domain: 'other.id' } }));
    expect(readFileSync(dest(), 'utf8')).toContain('$ORIGIN other.id.');
  });

  it('a changed var gives an update with a diff of the rendered text', async () => {
    await host.converge(zone(['ns1']));
    const plan = changed(await host.plan(zone(['ns1', 'ns2'])));
    expect(plan.summary).toBe(`update ${dest()}`);
    expect(plan.diffs[0]).toMatchObject({
      before: expect.stringContaining('@ NS ns1\n'),
      after: expect.stringContaining('@ NS ns2\n'),
    });
    expect(formatDiff(plan.diffs[0], new MaskTable())).toContain('+@ NS ns2');
    expect((plan.steps[0] as WriteStep).mode).toBe('0640');
  });

  it('does not HTML-escape', async () => {
    writeFileSync(join(roleDir, 'templates', 'html.ejs'), 'v=<%= v %>\n');
    await host.converge(template({ src: 'html.ejs', dest: dest(), vars: { v: '<a & "b">' } }));
    expect(readFileSync(dest(), 'utf8')).toBe('v=<a & "b">\n');
  });

  it('an undefined variable is a TemplateError naming the template and line, before any command', async () => {
    writeFileSync(join(roleDir, 'templates', 'bad.ejs'), 'ok\n<%= nope %>\n');
    const error = await host.plan(template({ src: 'bad.ejs', dest: dest() })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TemplateError);
    expect((error as TemplateError).message).toContain(`${join(roleDir, 'templates', 'bad.ejs')}:2`);
    expect((error as TemplateError).message).toContain('nope is not defined');
    expect(host.connection.commandCount).toBe(0);
  });

  it('a missing template is a TemplateError', async () => {
    await expect(host.plan(template({ src: 'missing.ejs', dest: dest() }))).rejects.toThrow(TemplateError);
  });

  it('writes secrets revealed, and the diff masks them', async () => {
    writeFileSync(join(roleDir, 'templates', 'pw.ejs'), 'user=app\npassword=<%= password %>\n');
    host.vars = { password: secret('tmpl-pw-123') };
    const plan = changed(await host.converge(template({ src: 'pw.ejs', dest: dest(), mode: '0600' })));
    expect(readFileSync(dest(), 'utf8')).toBe('user=app\npassword=tmpl-pw-123\n');
    expect(formatDiff(plan.diffs[0], new MaskTable())).not.toContain('tmpl-pw-123');
    expect(await host.converge(template({ src: 'pw.ejs', dest: dest(), mode: '0600' }))).toMatchObject({
      changed: false,
    });
  });

  it('validate refusing the rendered file keeps the old one', async () => {
    writeFileSync(dest(), 'good\n');
    writeFileSync(join(roleDir, 'templates', 'v.ejs'), '<%= word %>\n');
    host.vars = { word: 'bad' };
    await expect(
      host.converge(template({ src: 'v.ejs', dest: dest(), validate: (p) => sh`grep -q good ${p}` })),
    ).rejects.toThrow(/validate refused/);
    expect(readFileSync(dest(), 'utf8')).toBe('good\n');
  });

  it('an absolute src ignores the role folder', async () => {
    const abs = join(host.dir, 'abs.ejs');
    writeFileSync(abs, 'abs <%= domain %>');
    await host.converge(template({ src: abs, dest: dest() }));
    expect(readFileSync(dest(), 'utf8')).toBe('abs smknh.sch.id');
  });
});
