import { MaskTable } from './mask-table.ts';

/** Where an error happened: any of the host, role and task, and the playbook line that declared the task. */
export interface ErrorPlace {
  readonly host?: string;
  readonly role?: string;
  readonly task?: string;
  readonly declaredAt?: string;
  readonly file?: string;
  /** The release the failing tasks were built for (`Debian 13`), when the play's roles declare platforms. */
  readonly platform?: string;
}

/**
 * The base of every error play reports. Where it is shown (a run's report and events, `--json`, the CLI's last
 * line) it is masked with the run's {@link MaskTable}; an error that knows secrets of its own (a command's) is
 * built from text masked with them, given as `options.masks`.
 *
 * @example
 * throw new PlayError('unknown handler "reload nginx"', { host: 'web1', role: 'nginx' });
 */
export class PlayError extends Error {
  readonly place: ErrorPlace;
  constructor(message: string, place: ErrorPlace = {}, options: { cause?: unknown; masks?: MaskTable } = {}) {
    const { masks, ...errorOptions } = options;
    super(masks ? masks.mask(message) : message, errorOptions);
    this.name = new.target.name;
    this.place = place;
  }
  /**
   * The message preceded by where it happened, e.g. `web1 › nginx › site config (roles/nginx/index.ts:12): …`, or
   * with the release the tasks were built for, `web1 › php › pool on Debian 13 (roles/php/index.ts:9): …`.
   */
  describe(): string {
    const { host, role, task, declaredAt, file, platform } = this.place;
    const path = [[host, role, task].filter(Boolean).join(' › '), platform ? `on ${platform}` : '']
      .filter(Boolean)
      .join(' ');
    const at = declaredAt ?? file;
    const prefix = [path, at ? `(${at})` : ''].filter(Boolean).join(' ');
    return prefix ? `${prefix}: ${this.message}` : this.message;
  }
}

/** Invalid input found before any host is touched: usage, playbook, inventory, role vars. Exit code 2. */
export class ValidationError extends PlayError {
  /** Each problem with the property path it concerns. */
  readonly issues: readonly { path: string; message: string }[];
  constructor(message: string, place: ErrorPlace = {}, issues: readonly { path: string; message: string }[] = []) {
    super(message, place);
    this.issues = issues;
  }
}

/** A template that cannot be rendered (syntax error or undefined variable). Exit code 2. */
export class TemplateError extends PlayError {}

/** A host that cannot be reached or authenticated, or whose host key is unknown or changed. */
export class ConnectError extends PlayError {}

/**
 * A remote command that exited non-zero. Its message, command and stderr are masked with `masks`: the secrets of
 * the command that failed (a command may print what it was given).
 */
export class CommandError extends PlayError {
  readonly command: string;
  readonly exitCode: number | null;
  readonly stderr: string;
  /**
   * True when the failure left the host as it was: the plan's first step failed and it was a write, whose script
   * renames the new file in only as its very last command (refused by `validate`, arrived incomplete, …).
   */
  hostUnchanged = false;
  constructor(
    result: { command: string; exitCode: number | null; stdout: string; stderr: string },
    place: ErrorPlace = {},
    what = 'command failed',
    showCommand = true,
    masks: MaskTable = new MaskTable(),
  ) {
    const tail = lastLines(result.stderr || result.stdout, 6);
    super(
      `${what} (exit ${result.exitCode})${showCommand ? `: ${result.command}` : ''}${tail ? `\n${tail}` : ''}`,
      place,
      { masks },
    );
    this.command = masks.mask(result.command);
    this.exitCode = result.exitCode;
    this.stderr = masks.mask(tail);
  }
}

function lastLines(text: string, count: number): string {
  return text.trimEnd().split('\n').slice(-count).join('\n');
}

/** Places an error somewhere: a PlayError gains the missing parts of `place`; anything else is wrapped. */
export function placeError(error: unknown, place: ErrorPlace): PlayError {
  if (error instanceof PlayError) {
    // The innermost place wins: only the parts the error does not know yet are filled in.
    const known = error.place as Record<string, unknown>;
    for (const [key, value] of Object.entries(place)) if (known[key] === undefined) known[key] = value;
    return error;
  }
  const message = error instanceof Error ? error.message : String(error);
  return new PlayError(message, place, { cause: error });
}
