import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Type, defineRole } from '../../../src/index.ts';
import { use } from '../../../src/model/role-use.ts';

const ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const TYPES = join(ROOT, 'test/fixtures/types');
const TSC = join(ROOT, 'node_modules/.bin/tsc');

const temps: string[] = [];
afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

/**
 * Runs `tsc --noEmit` on one fixture alone, through a small tsconfig that extends the repo's (same options; only
 * that file in the program), and returns its exit code and plain (unformatted) diagnostics.
 */
function typecheck(fixture: string): Promise<{ code: number; output: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'play-types-'));
  temps.push(dir);
  const config = join(dir, 'tsconfig.json');
  writeFileSync(
    config,
    JSON.stringify({
      extends: join(ROOT, 'tsconfig.json'),
      // Type packages are looked up beside the config: point at the repo's, since this one lives in a temp dir.
      compilerOptions: { noEmit: true, pretty: false, typeRoots: [join(ROOT, 'node_modules/@types')] },
      include: [],
      files: [fixture],
    }),
  );
  return new Promise((done) => {
    execFile(TSC, ['--noEmit', '-p', config], { cwd: ROOT, timeout: 120_000 }, (error, stdout, stderr) => {
      done({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, output: `${stdout}${stderr}` });
    });
  });
}

/** The `file(line,col): error TSnnnn: message` diagnostics of one file, as `line: TSnnnn` keys and full lines. */
function diagnostics(output: string, file: string): { at: string[]; lines: string[] } {
  const name = file.split('/').pop()!.replace(/\./g, '\\.');
  const pattern = new RegExp(`${name}\\((\\d+),\\d+\\): error (TS\\d+): `);
  const lines = output.split('\n').filter((l) => pattern.test(l));
  return {
    at: lines.map((l) => {
      const [, line, code] = pattern.exec(l)!;
      return `${line}: ${code}`;
    }),
    lines,
  };
}

/** What a fixture expects: one `// error TSnnnn` comment on each line that must fail. */
function expectedErrors(file: string): string[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .flatMap((text, index) => [...text.matchAll(/\/\/ error (TS\d+)/g)].map((m) => `${index + 1}: ${m[1]}`));
}

describe('typed role params (tsc)', () => {
  it('a key a role does not have, a value of the wrong type and a key of another role fail to compile, each on its line', {
    timeout: 120_000,
  }, async () => {
    const file = join(TYPES, 'bad-role-vars.ts');
    const expected = expectedErrors(file);
    expect(expected.length).toBeGreaterThanOrEqual(9);
    const { code, output } = await typecheck(file);
    expect(code, output).not.toBe(0);
    const { at, lines } = diagnostics(output, file);
    expect(at, output).toEqual(expected);
    // The messages a user sees: the misspelled key, the role's vars and TypeScript's suggestion.
    expect(lines[0]).toContain(
      "'manageCertificat' does not exist in type 'Partial<{ documentRoot: string; domain: string; hstsMaxAge: number; manageCertificate: boolean;",
    );
    expect(lines[0]).toContain("Did you mean to write 'manageCertificate'?");
    expect(lines[2]).toContain("'holdForReplication' does not exist in type 'Partial<{ documentRoot: string;");
    expect(lines[3]).toContain("'ned' does not exist in type '{ start: string; end: string; }'");
  });

  it('every shape of role use with fitting params compiles: inline, use(), lists and plays built apart', {
    timeout: 120_000,
  }, async () => {
    const { code, output } = await typecheck(join(TYPES, 'good-role-vars.ts'));
    expect(output).toBe('');
    expect(code).toBe(0);
  });
});

describe('use', () => {
  const motd = defineRole({
    name: 'motd',
    schema: Type.Object({ message: Type.String() }),
    tasks: () => [],
  });

  it('is the role with its params, and its tags when given', () => {
    expect(use(motd, { message: 'hi' })).toEqual({ role: motd, vars: { message: 'hi' } });
    expect(use(motd, { message: 'hi' })).not.toHaveProperty('tags');
    expect(use(motd, {}, { tags: ['motd'] })).toEqual({ role: motd, vars: {}, tags: ['motd'] });
  });
});
