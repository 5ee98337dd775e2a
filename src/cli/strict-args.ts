import { type ParseArgsConfig, parseArgs } from 'node:util';

/** The options of a command, as node's `parseArgs` takes them. */
export type CommandOptions = NonNullable<ParseArgsConfig['options']>;

/** What {@link parseStrictArgs} gives back: the options' values and the positionals. */
export type StrictArgs<Options extends CommandOptions> = ReturnType<
  typeof parseArgs<{ args: string[]; options: Options; allowPositionals: true; strict: true }>
>;

/**
 * Parses a command's arguments as every play command does: options strict, positionals allowed. A bad option or a
 * missing value becomes the error `refuse` makes of node's message (a usage error, exit code 2).
 *
 * @example
 * const { values, positionals } = parseStrictArgs(argv, { help: { type: 'boolean', short: 'h' } }, (m) => new ValidationError(m));
 */
export function parseStrictArgs<const Options extends CommandOptions>(
  argv: readonly string[],
  options: Options,
  refuse: (message: string) => Error,
): StrictArgs<Options> {
  try {
    return parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (error) {
    throw refuse((error as Error).message);
  }
}
