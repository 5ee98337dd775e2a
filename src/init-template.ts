import type { PromptStreams } from './vault/passphrase.ts';

/**
 * Where `play init` and its template talk: the report, the errors and questions, and the terminal it may ask on.
 *
 * @example
 * await template.run(argv, { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin });
 */
export interface InitStreams {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  readonly stdin?: PromptStreams['stdin'];
  /** Whether stdin is a terminal the template may ask on (default: `stdin.isTTY`). */
  readonly isTTY?: boolean;
}

/**
 * A project template for `play init DIR --from MODULE`: the export `initTemplate` of MODULE (a package such as
 * `play/school`, or a file). play takes `--from` off the command line and hands the template the rest (DIR and its
 * own options, `--help` too); the template checks them, writes the project and returns the exit code: 0 when it
 * wrote the project, 2 when it refused (a message on stderr, nothing written).
 *
 * @example
 * export const initTemplate = defineInitTemplate({
 *   description: 'a project with one playbook',
 *   async run([dir], io) { writeProject(dir); io.stdout.write(`wrote ${dir}\n`); return 0; },
 * });
 */
export interface InitTemplate {
  /** One line: what kind of project it starts (shown by `play init --help`). */
  readonly description: string;
  /** Writes the project from the command line after `play init` (without `--from`); returns the exit code. */
  run(argv: readonly string[], io: InitStreams): Promise<number>;
}

/** Declares a project template for `play init --from` (see {@link InitTemplate}); returns it as it is. */
export function defineInitTemplate(template: InitTemplate): InitTemplate {
  return template;
}

/** Whether a module's `initTemplate` export is a template play can run. */
export function isInitTemplate(value: unknown): value is InitTemplate {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as InitTemplate).run === 'function' &&
    typeof (value as InitTemplate).description === 'string'
  );
}
