import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir, userInfo } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Message, PartialMessage, Plugin, PluginBuild, TransformResult } from 'esbuild';
import { playPackage } from '../package-info.ts';

/**
 * A user's TypeScript (playbook, inventory, own roles), compiled once into plain ES modules under a cache folder
 * and imported from there. Node 20 cannot strip types itself, and a loader hook (tsx) costs a loader thread and
 * an esbuild process on every run (about 0.3 s of the site's start); a cached build costs a `stat` per source file.
 *
 * - **One build for all the entry files of a run** (the playbook and the `-i` inventory): esbuild bundles the
 *   user's own files into chunks the entries share, so a module both import (e.g. `roles/school`) runs once.
 * - **Packages stay outside the build**: every bare import (`play`, `play/school`, `node:fs`) is resolved where the
 *   importing file is and imported from there, so the engine the playbook uses is the one running it.
 * - **Each file keeps its own `import.meta.url`, `import.meta.dirname` and `import.meta.filename`** (a role finds
 *   its templates beside itself), and stack traces name the original files and lines (inline source maps).
 * - **The cache is keyed by the entry files**; its manifest lists every bundled source file with its size and
 *   mtime, and any change to one rebuilds. The folder is `$PLAY_CACHE_DIR`, else `$XDG_CACHE_HOME/play`, else
 *   `~/.cache/play`. A build is written under a new name and then renamed in, so two runs never read half of one.
 */

/** Where compiled user modules are kept between runs. */
export function typeScriptCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.PLAY_CACHE_DIR) return resolve(env.PLAY_CACHE_DIR);
  if (env.XDG_CACHE_HOME && isAbsolute(env.XDG_CACHE_HOME)) return join(env.XDG_CACHE_HOME, 'play');
  const home = homedir();
  return home ? join(home, '.cache', 'play') : join(tmpdir(), `play-cache-${userInfo().uid}`);
}

interface SourceStamp {
  readonly path: string;
  readonly size: number;
  readonly mtimeMs: number;
}

interface Manifest {
  /** The build folder, relative to the entries' cache folder. */
  readonly build: string;
  /** Original entry path → its compiled module, relative to the build folder. */
  readonly entries: Record<string, string>;
  readonly sources: readonly SourceStamp[];
}

/** The build's inputs, for the cache key: what compiled it and for which entry files. */
function cacheKey(entries: readonly string[]): string {
  const hash = createHash('sha256');
  hash.update(`play ${playPackage().version} node ${process.versions.node.split('.')[0]}\n`);
  for (const entry of entries) hash.update(`${entry}\n`);
  return hash.digest('hex').slice(0, 24);
}

function stampOf(path: string): SourceStamp | undefined {
  const stat = statSync(path, { throwIfNoEntry: false });
  return stat ? { path, size: stat.size, mtimeMs: stat.mtimeMs } : undefined;
}

function readManifest(file: string): Manifest | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Manifest;
  } catch {
    return undefined;
  }
}

function isFresh(manifest: Manifest, entries: readonly string[]): boolean {
  if (!entries.every((entry) => typeof manifest.entries[entry] === 'string')) return false;
  return manifest.sources.every((source) => {
    const now = stampOf(source.path);
    return now !== undefined && now.size === source.size && now.mtimeMs === source.mtimeMs;
  });
}

const SOURCE_FILE = /\.([cm]?[jt]sx?)$/;

/**
 * The esbuild plugin that keeps packages out of the bundle (resolved from the importing file, imported by
 * absolute URL) and gives each bundled file its own `import.meta` values.
 */
function userSourcesOnly(esbuild: typeof import('esbuild')): Plugin {
  return {
    name: 'play-user-sources',
    setup(build: PluginBuild) {
      build.onResolve({ filter: /^[^./]/ }, async (args) => {
        if (args.pluginData === 'play-resolving' || args.kind === 'entry-point') return undefined;
        if (args.path.startsWith('node:')) return { path: args.path, external: true };
        const found = await build.resolve(args.path, {
          kind: args.kind,
          resolveDir: args.resolveDir,
          importer: args.importer,
          pluginData: 'play-resolving',
        });
        if (found.errors.length > 0) return { errors: found.errors };
        // A Node builtin without its prefix (`fs`) stays as written; a package is imported where it lies.
        if (found.external) return { path: args.path, external: true };
        return { path: pathToFileURL(found.path).href, external: true };
      });
      build.onLoad({ filter: SOURCE_FILE }, async (args) => {
        const source = readFileSync(args.path, 'utf8');
        // The filter matched the path, so it has one of the extensions.
        const extension = SOURCE_FILE.exec(args.path)?.[1] ?? 'ts';
        const loader = extension.includes('t')
          ? extension.endsWith('x')
            ? 'tsx'
            : 'ts'
          : extension.endsWith('x')
            ? 'jsx'
            : 'js';
        let compiled: TransformResult;
        try {
          compiled = await esbuild.transform(source, {
            loader,
            format: 'esm',
            target: 'node20',
            sourcefile: args.path,
            sourcemap: 'inline',
            define: {
              'import.meta.url': JSON.stringify(pathToFileURL(args.path).href),
              'import.meta.dirname': JSON.stringify(dirname(args.path)),
              'import.meta.filename': JSON.stringify(args.path),
            },
          });
        } catch (error) {
          // Reported as the build's own errors, with their file, line and column.
          const failure = error as { errors?: PartialMessage[] };
          if (Array.isArray(failure.errors)) return { errors: failure.errors };
          throw error;
        }
        return { contents: compiled.code, loader: 'js', resolveDir: dirname(args.path) };
      });
    },
  };
}

async function build(entries: readonly string[], keyDir: string): Promise<Manifest> {
  const esbuild = await import('esbuild');
  const name = `build-${process.pid}-${Date.now().toString(36)}`;
  const outdir = join(keyDir, name);
  const result = await esbuild.build({
    entryPoints: [...entries],
    absWorkingDir: keyDir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // Node's own conditions: `import` (or `require`), `node`, `default`; no `module`.
    conditions: [],
    outdir,
    outExtension: { '.js': '.mjs' },
    entryNames: '[name]-[hash]',
    sourcemap: 'inline',
    metafile: true,
    logLevel: 'silent',
    plugins: [userSourcesOnly(esbuild)],
  });
  const outputs = Object.entries(result.metafile.outputs);
  const entryOutputs: Record<string, string> = {};
  for (const entry of entries) {
    const output = outputs.find(([, o]) => o.entryPoint !== undefined && resolve(keyDir, o.entryPoint) === entry);
    if (!output) throw new Error(`esbuild wrote no module for ${entry}`);
    entryOutputs[entry] = relative(outdir, resolve(keyDir, output[0]));
  }
  const sources = Object.keys(result.metafile.inputs).flatMap((input) => stampOf(resolve(keyDir, input)) ?? []);
  return { build: name, entries: entryOutputs, sources };
}

function errorText(error: unknown, keyDir: string): string {
  const failure = error as { errors?: Message[] };
  if (Array.isArray(failure.errors) && failure.errors.length > 0) {
    return failure.errors
      .map((e) =>
        e.location
          ? `${resolve(keyDir, e.location.file)}:${e.location.line}:${e.location.column + 1}: ${e.text}`
          : e.text,
      )
      .join('; ');
  }
  return (error as Error).message;
}

/**
 * Imports TypeScript (or JavaScript) entry files through the cache: a fresh build when one of their sources
 * changed, else the modules built last time. Returns each entry's module namespace by its absolute path.
 *
 * @example
 * const [playbook] = Object.values(await importCompiled(['/school/playbooks/site.ts']));
 */
export async function importCompiled(
  files: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<Map<string, unknown>> {
  const entries = [...new Set(files.map((f) => resolve(f)))].sort();
  const keyDir = join(typeScriptCacheDir(env), cacheKey(entries));
  const manifestFile = join(keyDir, 'manifest.json');
  let manifest = readManifest(manifestFile);
  if (!manifest || !isFresh(manifest, entries)) {
    mkdirSync(keyDir, { recursive: true, mode: 0o700 });
    let built: Manifest;
    try {
      built = await build(entries, keyDir);
    } catch (error) {
      throw Object.assign(new Error(errorText(error, keyDir)), { cause: error });
    }
    const temporary = `${manifestFile}.${process.pid}`;
    writeFileSync(temporary, JSON.stringify(built));
    renameSync(temporary, manifestFile);
    // The previous build goes; a run still importing it has already read it.
    if (manifest && manifest.build !== built.build)
      rmSync(join(keyDir, manifest.build), { recursive: true, force: true });
    manifest = built;
  }
  // Stack traces through the compiled modules name the user's own files and lines (their inline source maps).
  process.setSourceMapsEnabled(true);
  const modules = new Map<string, unknown>();
  for (const entry of entries) {
    const built = manifest.entries[entry];
    if (built === undefined) throw new Error(`the TypeScript cache in ${keyDir} has no build of ${entry}`);
    modules.set(entry, await import(pathToFileURL(join(keyDir, manifest.build, built)).href));
  }
  return modules;
}
