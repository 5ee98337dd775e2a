import { PlayError, ValidationError, TemplateError } from '../errors.ts';
import { ExitCode } from '../engine/report.ts';
import { playPackage } from '../package-info.ts';
import { Profiler } from '../profile.ts';
import { parseCliArgs, USAGE, type CliArgs } from './args.ts';
import { UserFileLoader } from './load.ts';
import type { RunContext } from './run-context.ts';

export { formatHostList, formatTaskList } from './listing.ts';

/** Where the CLI writes; tests pass their own. */
export interface CliStreams {
  readonly stdout: { write(text: string): unknown; isTTY?: boolean };
  readonly stderr: { write(text: string): unknown };
  /** The terminal a passphrase or `play init`'s questions are asked on; process.stdin by default. */
  readonly stdin?: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?(raw: boolean): unknown };
}

/** What the bin gives {@link main} beside the arguments: the command's own helpers (tests may leave them out). */
export interface MainOptions {
  /** The command's profiler, started by the bin with node's own start as its first phase; else a new one. */
  readonly profiler?: Profiler;
  /** How the playbook and inventory are loaded; the bin compiles TypeScript, the default leaves it to `import`. */
  readonly loader?: UserFileLoader;
}

/**
 * Runs the `play` command and returns its exit code (0 ok, 1 failed/unreachable, 2 invalid input, 3 changes
 * pending under --check --detailed-exitcode). The engine is loaded only once the arguments ask for a run, so
 * `--help` and `--version` cost little more than node itself.
 *
 * @example
 * process.exitCode = await main(['site.ts', '--check']);
 */
export async function main(
  argv: readonly string[],
  streams: CliStreams = process,
  options: MainOptions = {},
): Promise<number> {
  // The subcommands with flags of their own, loaded only when asked for.
  if (argv[0] === 'vault')
    return (await import('./vault-command.ts')).vaultCommand(argv.slice(1), {
      ...streams,
      stdin: streams.stdin ?? process.stdin,
    });
  if (argv[0] === 'init')
    return (await import('./init-command.ts')).initCommand(
      argv.slice(1),
      { ...streams, stdin: streams.stdin ?? process.stdin },
      options.loader ?? new UserFileLoader({ compileTypeScript: false }),
    );
  let args: CliArgs | undefined;
  let context: RunContext | undefined;
  try {
    args = parseCliArgs(argv);
    if (args.help) {
      streams.stdout.write(`${USAGE}\n`);
      return ExitCode.ok;
    }
    if (args.version) {
      streams.stdout.write(`play ${playPackage().version}\n`);
      return ExitCode.ok;
    }
    const [{ runCommand }, contextModule] = await Promise.all([import('./run-command.ts'), import('./run-context.ts')]);
    // One context per run, handed down: the vaults it uses, where their passphrases come from, the profiler.
    context = new contextModule.RunContext({
      profiler: options.profiler ?? new Profiler(),
      vaultPasswordFile: args.vaultPasswordFile,
      stderr: streams.stderr,
    });
    return await runCommand(args, streams, {
      context,
      loader: options.loader ?? new UserFileLoader({ compileTypeScript: false }),
    });
  } catch (error) {
    const invalid = error instanceof ValidationError || error instanceof TemplateError;
    // Masked with the run's table: an error of its compile or run may quote a secret the run met.
    const described =
      error instanceof PlayError
        ? error.describe()
        : error instanceof Error
          ? (error.stack ?? error.message)
          : String(error);
    const message = context ? context.masks.mask(described) : described;
    if (args?.json)
      streams.stdout.write(
        `${JSON.stringify({ error: message, exitCode: invalid ? ExitCode.invalid : ExitCode.failed })}\n`,
      );
    streams.stderr.write(`play: ${invalid ? 'invalid input: ' : ''}${message}\n`);
    return invalid ? ExitCode.invalid : ExitCode.failed;
  }
}
