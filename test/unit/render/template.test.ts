import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderTemplate, renderTemplateFile } from '../../../src/render/template.ts';
import { TemplateError } from '../../../src/errors.ts';
import { MASK, secret } from '../../../src/secret.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'play-tpl-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function templateFile(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function renderError(file: string, locals: Record<string, unknown>): TemplateError {
  try {
    renderTemplate(file, locals);
  } catch (error) {
    expect(error).toBeInstanceOf(TemplateError);
    return error as TemplateError;
  }
  throw new Error('expected a TemplateError');
}

describe('renderTemplate', () => {
  it('prints values without HTML escaping', () => {
    const file = templateFile('plain.ejs', 'a=<%= a %>\nb=<%- b %>\n');
    expect(renderTemplate(file, { a: `<x & "y" 'z'>`, b: '<&>' })).toBe(`a=<x & "y" 'z'>\nb=<&>\n`);
  });

  it('prints numbers, zero and false', () => {
    const file = templateFile('numbers.ejs', '<%= n %> <%= zero %> <%= no %>');
    expect(renderTemplate(file, { n: 42, zero: 0, no: false })).toBe('42 0 false');
  });

  it('runs loops and conditions', () => {
    const file = templateFile(
      'loop.ejs',
      '<% for (const h of hosts) { %>server <%= h %>;\n<% } %><% if (extra) { %>extra\n<% } %>',
    );
    expect(renderTemplate(file, { hosts: ['ns1', 'ns2'], extra: false })).toBe('server ns1;\nserver ns2;\n');
  });

  it('reveals secrets in the rendered text', () => {
    const file = templateFile('secret.ejs', 'password = <%= password %>\n');
    expect(renderTemplate(file, { password: secret('tpl-s3cret!') })).toBe('password = tpl-s3cret!\n');
  });

  it('an undefined variable is a TemplateError naming the file and the line', () => {
    const file = templateFile('undefined.ejs', 'line one\nline two\nvalue=<%= missing %>\n');
    const error = renderError(file, { other: 1 });
    expect(error.message).toContain(`${file}:3`);
    expect(error.message).toMatch(/missing is not defined/);
    expect(error.place.file).toBe(`${file}:3`);
  });

  it('a variable that is present but undefined (or null) is an error, not the word "undefined"', () => {
    const file = templateFile('undef-value.ejs', 'first\nx=<%= value %>\n');
    const undefinedError = renderError(file, { value: undefined });
    expect(undefinedError.message).toContain(`${file}:2`);
    expect(undefinedError.message).toMatch(/undefined/);
    const nullError = renderError(file, { value: null });
    expect(nullError.message).toContain(`${file}:2`);
    expect(nullError.message).toMatch(/null/);
  });

  it('a missing property of a variable is an error too', () => {
    const file = templateFile('prop.ejs', 'host=<%= db.host %>\n');
    const error = renderError(file, { db: {} });
    expect(error.message).toContain(`${file}:1`);
  });

  it('a syntax error is a TemplateError with the real reason', () => {
    const file = templateFile('syntax.ejs', 'a\n<% if (x) { %>\nb\n');
    const error = renderError(file, { x: true });
    expect(error.message).toContain(file);
    expect(error.message).not.toMatch(/async function/);
    expect(error.message).toMatch(/Unexpected|missing|expected/i);
  });

  it('a missing template file is a TemplateError naming it', () => {
    const error = renderError(join(dir, 'nope.ejs'), {});
    expect(error.message).toContain('nope.ejs');
  });

  it('an error message never shows a secret', () => {
    const file = templateFile('secret-error.ejs', '<%= password %>\n<%= missing %>\n');
    const error = renderError(file, { password: secret('leaky-tpl-secret') });
    expect(error.message).not.toContain('leaky-tpl-secret');
    expect(error.message.includes(MASK) || !error.message.includes('password')).toBe(true);
  });

  it('includes relative to the template', () => {
    templateFile('part.ejs', 'part <%= name %>');
    const file = templateFile('main.ejs', "main <%- include('part.ejs', { name: 'x' }) %>");
    expect(renderTemplate(file, {})).toBe('main part x');
  });
});

describe('raw output tags', () => {
  it('<%- prints like <%=: secrets revealed, undefined refused', () => {
    const dir = mkdtempSync(join(tmpdir(), 'play-raw-'));
    try {
      writeFileSync(join(dir, 't.ejs'), 'key=<%- key %>\n');
      expect(renderTemplate(join(dir, 't.ejs'), { key: secret('raw-secret-42') })).toBe('key=raw-secret-42\n');
      expect(() => renderTemplate(join(dir, 't.ejs'), { key: undefined })).toThrow(/t\.ejs:1/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('one template rendered many times (compiled once)', () => {
  it('each render prints its own values and tells its own secrets, and an edited file renders anew', async () => {
    const file = templateFile('many.conf.ejs', 'key = <%= key %>\n');
    expect(renderTemplateFile(file, { key: secret('s3cret-one') })).toEqual({
      text: 'key = s3cret-one\n',
      holdsSecret: true,
    });
    expect(renderTemplateFile(file, { key: 'plain' })).toEqual({ text: 'key = plain\n', holdsSecret: false });
    expect(() => renderTemplateFile(file, {})).toThrow(TemplateError);
    expect(renderTemplateFile(file, { key: 'again' })).toEqual({ text: 'key = again\n', holdsSecret: false });
    writeFileSync(file, 'changed = <%= key %>\n');
    expect(renderTemplateFile(file, { key: 'x' }).text).toBe('changed = x\n');
  });

  it('a template that renders another through include prints with the outer render rules', () => {
    templateFile('part.ejs', 'inner = <%= inner %>');
    const outer = templateFile('outer.ejs', "<%- include('part.ejs', { inner }) %>\nouter = <%= outer %>\n");
    expect(renderTemplateFile(outer, { inner: secret('in-secret'), outer: 'o' })).toEqual({
      text: 'inner = in-secret\nouter = o\n',
      holdsSecret: true,
    });
    expect(renderTemplateFile(outer, { inner: 'i', outer: 'o' })).toEqual({
      text: 'inner = i\nouter = o\n',
      holdsSecret: false,
    });
  });
});
