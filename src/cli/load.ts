import { existsSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ValidationError } from '../errors.ts';
import type { Inventory } from '../model/inventory.ts';
import type { Playbook } from '../model/playbook.ts';

/**
 * Where a playbook named on the command line is: the path as given, else in `playbooks/`, with `.ts` added
 * when the name has no extension.
 *
 * @example
 * findPlaybook('site') // '/repo/playbooks/site.ts'
 */
export function findPlaybook(name: string, cwd = process.cwd()): string {
  const names = /\.[cm]?[jt]s$/.test(name) ? [name] : [name, `${name}.ts`];
  const candidates = isAbsolute(name) ? names : names.flatMap((n) => [resolve(cwd, n), resolve(cwd, 'playbooks', n)]);
  // A folder that happens to share the name (e.g. `site/` beside `playbooks/site.ts`) is not a playbook.
  const found = candidates.find((c) => statSync(c, { throwIfNoEntry: false })?.isFile() === true);
  if (!found) throw new ValidationError(`playbook not found: ${name} (looked for ${candidates.join(', ')})`);
  return found;
}

let typeScriptLoader: 'off' | 'wanted' | 'registered' = 'off';

/**
 * Lets the loaders below register tsx before they import a user's `.ts` file (the `play` binary calls this;
 * under a test runner that already loads TypeScript it stays off). The engine itself is built JavaScript.
 *
 * @example
 * enableTypeScriptLoader(); await loadPlaybook('playbooks/site.ts');
 */
export function enableTypeScriptLoader(): void {
  if (typeScriptLoader === 'off') typeScriptLoader = 'wanted';
}

async function registerTypeScriptLoader(file: string): Promise<void> {
  if (typeScriptLoader !== 'wanted' || !/\.[cm]?tsx?$/.test(file)) return;
  const { register } = await import('tsx/esm/api');
  register();
  typeScriptLoader = 'registered';
}

async function importDefault(file: string, what: string): Promise<unknown> {
  try {
    await registerTypeScriptLoader(file);
    const module = (await import(pathToFileURL(file).href)) as { default?: unknown };
    return module.default;
  } catch (error) {
    if (error instanceof ValidationError) throw error;
    throw new ValidationError(`cannot load ${what} ${file}: ${(error as Error).message}`, { file });
  }
}

/** Loads a playbook file; its default export must come from `definePlaybook`. */
export async function loadPlaybook(file: string): Promise<Playbook> {
  const playbook = (await importDefault(file, 'playbook')) as Playbook | undefined;
  if (!playbook || typeof playbook !== 'object' || !Array.isArray(playbook.plays)) {
    throw new ValidationError(`${file} does not export default definePlaybook({ inventory, plays })`, { file });
  }
  // The file named on the command line, even when a helper (e.g. `schoolPlaybook`) called definePlaybook.
  return { ...playbook, source: file };
}

/** Loads an inventory file; its default export must come from `defineInventory`. */
export async function loadInventory(file: string): Promise<Inventory> {
  const path = resolve(file);
  if (!existsSync(path)) throw new ValidationError(`inventory not found: ${file}`);
  const inventory = (await importDefault(path, 'inventory')) as Inventory | undefined;
  if (!inventory || typeof inventory !== 'object' || typeof inventory.hosts !== 'object') {
    throw new ValidationError(`${file} does not export default defineInventory({ hosts, groups, vars })`, { file: path });
  }
  return { ...inventory, source: inventory.source ?? path };
}
