import { readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** play's own package: the folder holding its package.json, and its version. */
export interface PlayPackage {
  readonly root: string;
  readonly version: string;
}

/**
 * play's own package.json, found by walking up from this file: the same answer from the source tree
 * (src/), from the built engine (dist/src/) and from an installed copy under node_modules. Read anew on each call
 * (`--version`, `play init`: a few times a run at most).
 *
 * @example
 * playPackage().version // '0.1.0'
 */
export function playPackage(): PlayPackage {
  for (let dir = import.meta.dirname; ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (statSync(file, { throwIfNoEntry: false })?.isFile()) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'play' && pkg.version) return { root: dir, version: pkg.version };
    }
    if (dirname(dir) === dir) throw new Error(`play's package.json not found above ${import.meta.dirname}`);
  }
}
