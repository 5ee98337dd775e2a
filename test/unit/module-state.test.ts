import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { moduleStateIn, type ModuleStateFinding } from './support/module-state.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Every TypeScript file of src, relative to the repository. */
function sourceFiles(): string[] {
  return readdirSync(join(ROOT, 'src'), { recursive: true, encoding: 'utf8' })
    .filter((path) => path.endsWith('.ts'))
    .map((path) => join('src', path))
    .sort();
}

const describeFinding = (f: ModuleStateFinding) => `${f.file}:${f.line} ${f.name}: ${f.why}`;

describe('module state in src', () => {
  it('searches every .ts file of src', () => {
    const files = sourceFiles();
    expect(files).toContain('src/vault.ts');
    expect(files).toContain(join('src', 'cli', 'main.ts'));
    expect(files.length).toBeGreaterThan(50);
  });

  it('no module of src keeps mutable state: no module-level let or var, no module-level Map, Set, array or object written after load', () => {
    const findings = moduleStateIn(
      Object.fromEntries(sourceFiles().map((file) => [file, readFileSync(join(ROOT, file), 'utf8')])),
    );
    expect(findings.map(describeFinding)).toEqual([]);
  });
});

describe('the search for module state', () => {
  it('finds a module-level let or var, naming file and line, and not one inside a function', () => {
    const text = [
      'const fine = 1;',
      'let count = 0;',
      'export var legacy = "x";',
      'function f() {',
      '  let local = 1;',
      '  return local;',
      '}',
    ].join('\n');
    expect(moduleStateIn({ 'x.ts': text }).map(describeFinding)).toEqual([
      'x.ts:2 count: a module-level let',
      'x.ts:3 legacy: a module-level var',
    ]);
  });

  it('finds a module-level Map, Set, array or object written anywhere in the file, and only those', () => {
    const text = [
      'const cache = new Map<string, number>();',
      'const seen = new Set<string>();',
      'const queue: string[] = [];',
      'const settings = { verbose: false };',
      'const counts = {} as Record<string, number>;',
      'const frozen = new Set(["a", "b"]);',
      'const table = [1, 2, 3];',
      'export function remember(key: string) {',
      '  cache.set(key, 1);',
      '  seen.add(key);',
      '  queue.push(key);',
      '  settings.verbose = true;',
      '  counts[key]++;',
      '  return frozen.has(key) && table.map((n) => n + 1).push(4);',
      '}',
    ].join('\n');
    expect(moduleStateIn({ 'y.ts': text }).map(describeFinding)).toEqual([
      'y.ts:1 cache: a module-level Map written by .set',
      'y.ts:2 seen: a module-level Set written by .add',
      'y.ts:3 queue: a module-level array written by .push',
      'y.ts:4 settings: a module-level object written by assignment',
      'y.ts:5 counts: a module-level object written by ++',
    ]);
  });

  it('finds a container cleared or emptied by delete, inside a class method too', () => {
    const text = [
      'const byName: Record<string, string> = {};',
      'const all = new Set<string>();',
      'class C {',
      '  reset() {',
      '    delete byName.x;',
      '    all.clear();',
      '  }',
      '}',
    ].join('\n');
    expect(moduleStateIn({ 'z.ts': text }).map(describeFinding)).toEqual([
      'z.ts:1 byName: a module-level object written by delete',
      'z.ts:2 all: a module-level Set written by .clear',
    ]);
  });
});
