import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { importCompiled, typeScriptCacheDir } from '../../../src/cli/typescript-cache.ts';

let project: string;
let env: NodeJS.ProcessEnv;

function write(path: string, text: string): string {
  const file = join(project, path);
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, text);
  return file;
}

function builds(): string[] {
  const root = typeScriptCacheDir(env);
  return readdirSync(root).flatMap((key) => readdirSync(join(root, key)).filter((n) => n.startsWith('build-')));
}

beforeEach(() => {
  project = mkdtempSync(join(tmpdir(), 'play-tscache-'));
  env = { PLAY_CACHE_DIR: join(project, '.cache') };
  // A package with different files for import and require: the build must pick Node's ESM choice.
  write(
    'node_modules/dual/package.json',
    JSON.stringify({ name: 'dual', type: 'module', exports: { '.': { import: './esm.js', require: './cjs.cjs' } } }),
  );
  write(
    'node_modules/dual/esm.js',
    'export const flavour = "esm";\nglobalThis.dualLoads = (globalThis.dualLoads ?? 0) + 1;\n',
  );
  write('node_modules/dual/cjs.cjs', 'exports.flavour = "cjs";\n');
});

afterEach(() => {
  rmSync(project, { recursive: true, force: true });
});

describe('importCompiled (user TypeScript compiled into a cache)', () => {
  it('types are stripped, each file keeps its own import.meta, and packages are imported where they lie (import condition)', async () => {
    write(
      'roles/web/index.ts',
      'import { flavour } from "dual";\nexport const where: string = import.meta.dirname;\nexport const url: string = import.meta.url;\nexport const file: string = import.meta.filename;\nexport { flavour };\n',
    );
    const entry = write(
      'playbooks/site.ts',
      'import * as web from "../roles/web/index.ts";\ninterface X { a: number }\nconst x: X = { a: 1 };\nexport default { web, x, here: import.meta.dirname };\n',
    );
    const module = (await importCompiled([entry], env)).get(entry) as {
      default: { web: Record<string, string>; x: { a: number }; here: string };
    };
    expect(module.default.x).toEqual({ a: 1 });
    expect(module.default.here).toBe(join(project, 'playbooks'));
    expect(module.default.web.where).toBe(join(project, 'roles/web'));
    expect(module.default.web.file).toBe(join(project, 'roles/web/index.ts'));
    expect(module.default.web.url).toBe(`file://${join(project, 'roles/web/index.ts')}`);
    expect(module.default.web.flavour).toBe('esm');
  });

  it('two entries share the modules both import: a package and a local module each run once', async () => {
    (globalThis as { dualLoads?: number }).dualLoads = 0;
    write(
      'roles/count.ts',
      'import "dual";\nexport const runs = ((globalThis as any).countRuns = ((globalThis as any).countRuns ?? 0) + 1);\n',
    );
    const site = write('playbooks/site.ts', 'import { runs } from "../roles/count.ts";\nexport default runs;\n');
    const inventory = write('inventory/lab.ts', 'import { runs } from "../roles/count.ts";\nexport default runs;\n');
    (globalThis as { countRuns?: number }).countRuns = 0;
    const modules = await importCompiled([site, inventory], env);
    expect((modules.get(site) as { default: number }).default).toBe(1);
    expect((modules.get(inventory) as { default: number }).default).toBe(1);
    expect((globalThis as { countRuns?: number }).countRuns).toBe(1);
    expect((globalThis as { dualLoads?: number }).dualLoads).toBe(1);
  });

  it('a second run uses the cached build; a changed source (its size or mtime) builds again', async () => {
    const helper = write('roles/value.ts', 'export const value: number = 1;\n');
    const entry = write('playbooks/a.ts', 'export { value as default } from "../roles/value.ts";\n');
    await importCompiled([entry], env);
    const first = builds();
    expect(first).toHaveLength(1);
    await importCompiled([entry], env);
    expect(builds()).toEqual(first);
    writeFileSync(helper, 'export const value: number = 22;\n');
    utimesSync(helper, new Date(), new Date(Date.now() + 5000));
    const again = (await importCompiled([entry], env)).get(entry) as { default: number };
    expect(again.default).toBe(22);
    const now = builds();
    expect(now).toHaveLength(1);
    expect(now).not.toEqual(first);
    const manifest = JSON.parse(
      readFileSync(join(typeScriptCacheDir(env), readdirSync(typeScriptCacheDir(env))[0]!, 'manifest.json'), 'utf8'),
    ) as { sources: { path: string }[] };
    expect(manifest.sources.map((s) => s.path).sort()).toEqual([entry, helper].sort());
  });

  it('a syntax error names the file, line and column; a missing import names what is missing', async () => {
    const broken = write('playbooks/broken.ts', 'const a = 1;\nexport default {\n  a: ,\n};\n');
    await expect(importCompiled([broken], env)).rejects.toThrow(
      new RegExp(`${broken.replaceAll('.', '\\.')}:3:6: Unexpected ","`),
    );
    const missing = write('playbooks/missing.ts', 'import x from "../roles/nowhere.ts";\nexport default x;\n');
    await expect(importCompiled([missing], env)).rejects.toThrow(/Could not resolve "\.\.\/roles\/nowhere\.ts"/);
  });

  it('an error thrown by a user file names that file and line in its stack', async () => {
    write('roles/bad.ts', 'type T = string;\nexport function fail(): T {\n  throw new Error("bad vars");\n}\n');
    const entry = write('playbooks/site.ts', 'import { fail } from "../roles/bad.ts";\nexport default fail;\n');
    const fail = ((await importCompiled([entry], env)).get(entry) as { default: () => void }).default;
    let stack = '';
    try {
      fail();
    } catch (error) {
      stack = (error as Error).stack ?? '';
    }
    expect(stack).toContain(`${join(project, 'roles/bad.ts')}:3:`);
  });
});
