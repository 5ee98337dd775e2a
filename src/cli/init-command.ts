import { ValidationError } from '../errors.ts';
import type { InitStreams } from '../init-template.ts';
import type { UserFileLoader } from './load.ts';

/** The template `play init` starts from without `--from`: the school's webmail pair. */
export const DEFAULT_INIT_TEMPLATE = 'play/school';

/** What `play init --help` prints before the default template's own help. */
export const INIT_COMMAND_USAGE = `Usage: play init DIR [--from TEMPLATE] [the template's options]

Starts a project in DIR from a template: a package whose export initTemplate comes from defineInitTemplate
(default: ${DEFAULT_INIT_TEMPLATE}), or such a file (--from ./my-template.ts). \`play init --from TEMPLATE --help\`
shows that template's options. Exit codes: 0 written, 2 refused (nothing written).`;

/** The command line of `play init` split into the template to use and what the template is given. */
function takeFrom(argv: readonly string[]): { from: string | undefined; rest: string[] } {
  const rest: string[] = [];
  let from: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    if (arg === '--from' || arg.startsWith('--from=')) {
      const value = arg === '--from' ? argv[++i] : arg.slice('--from='.length);
      if (value === undefined || value === '' || value.startsWith('-'))
        throw new ValidationError('--from needs a template: a package (play/school) or a file (./template.ts)');
      if (from !== undefined) throw new ValidationError(`--from given twice: ${from} and ${value}`);
      from = value;
    } else {
      rest.push(arg);
    }
  }
  return { from, rest };
}

/**
 * `play init DIR [--from TEMPLATE] …`: loads the template (default {@link DEFAULT_INIT_TEMPLATE}) through the run's
 * loader and hands it the rest of the command line. A template that cannot be loaded, or a bad `--from`, is refused
 * with exit code 2 and one line on stderr. Returns the exit code.
 *
 * @example
 * process.exitCode = await initCommand(['smahb', '--school', 'SMA Harapan Bangsa', …], process, loader);
 */
export async function initCommand(argv: readonly string[], io: InitStreams, loader: UserFileLoader): Promise<number> {
  try {
    const { from, rest } = takeFrom(argv);
    const template = await loader.loadInitTemplate(from ?? DEFAULT_INIT_TEMPLATE);
    if (from === undefined && (rest.includes('--help') || rest.includes('-h')))
      io.stdout.write(
        `${INIT_COMMAND_USAGE}\n\nThe default template, ${DEFAULT_INIT_TEMPLATE}: ${template.description}.\n\n`,
      );
    return await template.run(rest, io);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    io.stderr.write(`play init: ${error.message}\n`);
    return 2;
  }
}
