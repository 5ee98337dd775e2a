import { existsSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ValidationError } from '../errors.ts';
import { type InitTemplate, isInitTemplate } from '../init-template.ts';
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

const TYPESCRIPT = /\.[cm]?tsx?$/;

/** A file a run loads, and what it is to the run (for messages). */
export interface UserFile {
  readonly file: string;
  readonly what: 'playbook' | 'inventory' | 'init template';
}

/**
 * Loads a command's playbook and inventory. With `compileTypeScript` (the `play` binary: the engine itself is
 * built JavaScript), a user's `.ts` files are compiled through the cache of `./typescript-cache.ts`, the playbook
 * and its `-i` inventory in one build, so a module both import runs once; under a test runner that already loads
 * TypeScript, files are left to `import`.
 *
 * @example
 * const loader = new UserFileLoader({ compileTypeScript: true });
 * await loader.compile([{ file: findPlaybook('site'), what: 'playbook' }, { file: 'inventory/lab.ts', what: 'inventory' }]);
 * const playbook = await loader.loadPlaybook(findPlaybook('site'));
 */
export class UserFileLoader {
  /** The modules compiled so far, by absolute path. */
  readonly #compiled = new Map<string, unknown>();
  readonly #compileTypeScript: boolean;

  constructor(options: { readonly compileTypeScript: boolean }) {
    this.#compileTypeScript = options.compileTypeScript;
  }

  /** Compiles the TypeScript files among these (those not compiled yet) in one build. */
  async compile(files: readonly UserFile[]): Promise<void> {
    const wantedFiles = files
      .map(({ file, what }) => ({ file: resolve(file), what }))
      .filter(
        ({ file }) => this.#compileTypeScript && TYPESCRIPT.test(file) && !this.#compiled.has(file) && existsSync(file),
      );
    if (wantedFiles.length === 0) return;
    const wanted = wantedFiles.map(({ file }) => file);
    const { importCompiled } = await import('./typescript-cache.ts');
    let modules: Map<string, unknown>;
    try {
      modules = await importCompiled(wanted);
    } catch (error) {
      if (error instanceof ValidationError) throw error;
      // A syntax error names its file, line and column; an import that cannot be found names what imported it.
      const named = wantedFiles.map(({ file, what }) => `${what} ${file}`).join(' and ');
      throw new ValidationError(`cannot load ${named}: ${(error as Error).message}`, { file: wanted[0] });
    }
    for (const [file, module] of modules) this.#compiled.set(file, module);
  }

  async #importDefault(file: string, what: UserFile['what']): Promise<unknown> {
    await this.compile([{ file, what }]);
    try {
      const module = (this.#compiled.get(resolve(file)) ?? (await import(pathToFileURL(file).href))) as {
        default?: unknown;
      };
      return module.default;
    } catch (error) {
      if (error instanceof ValidationError) throw error;
      throw new ValidationError(`cannot load ${what} ${file}: ${(error as Error).message}`, { file });
    }
  }

  /** Loads a playbook file; its default export must come from `definePlaybook`. */
  async loadPlaybook(file: string): Promise<Playbook> {
    const playbook = (await this.#importDefault(file, 'playbook')) as Playbook | undefined;
    if (!playbook || typeof playbook !== 'object' || !Array.isArray(playbook.plays)) {
      throw new ValidationError(`${file} does not export default definePlaybook({ inventory, plays })`, { file });
    }
    // The file named on the command line, even when a helper (e.g. `schoolPlaybook`) called definePlaybook.
    return { ...playbook, source: file };
  }

  /** Loads an inventory file; its default export must come from `defineInventory`. */
  async loadInventory(file: string): Promise<Inventory> {
    const path = resolve(file);
    if (!existsSync(path)) throw new ValidationError(`inventory not found: ${file}`);
    const inventory = (await this.#importDefault(path, 'inventory')) as Inventory | undefined;
    if (!inventory || typeof inventory !== 'object' || typeof inventory.hosts !== 'object') {
      throw new ValidationError(`${file} does not export default defineInventory({ hosts, groups, vars })`, {
        file: path,
      });
    }
    return { ...inventory, source: inventory.source ?? path };
  }

  /**
   * Loads the project template of `play init --from`: a file (a path starting with `.` or `/`, relative to the
   * working folder) or a package (`play/school`, `@district/school-template`); its export `initTemplate` must come
   * from `defineInitTemplate`.
   */
  async loadInitTemplate(specifier: string): Promise<InitTemplate> {
    const isFile = specifier.startsWith('.') || isAbsolute(specifier);
    let module: { initTemplate?: unknown };
    if (isFile) {
      const file = resolve(specifier);
      if (!existsSync(file)) throw new ValidationError(`init template not found: ${specifier}`, { file });
      await this.compile([{ file, what: 'init template' }]);
      module = (this.#compiled.get(file) ??
        (await importOrExplain(pathToFileURL(file).href, specifier))) as typeof module;
    } else {
      module = (await importOrExplain(specifier, specifier)) as typeof module;
    }
    if (!isInitTemplate(module.initTemplate))
      throw new ValidationError(
        `${specifier} is not a play init template: it has no export initTemplate made with defineInitTemplate({ description, run })`,
      );
    return module.initTemplate;
  }
}

/** Imports a module; a module that is missing or fails to load is a ValidationError naming it. */
async function importOrExplain(url: string, named: string): Promise<unknown> {
  try {
    return await import(url);
  } catch (error) {
    throw new ValidationError(`cannot load init template ${named}: ${(error as Error).message}`);
  }
}

/** Loads a playbook file with `import` (no TypeScript compiling of its own); see {@link UserFileLoader}. */
export function loadPlaybook(file: string): Promise<Playbook> {
  return new UserFileLoader({ compileTypeScript: false }).loadPlaybook(file);
}

/** Loads an inventory file with `import` (no TypeScript compiling of its own); see {@link UserFileLoader}. */
export function loadInventory(file: string): Promise<Inventory> {
  return new UserFileLoader({ compileTypeScript: false }).loadInventory(file);
}
