import { inspect } from 'node:util';

/** The text shown wherever a secret value would otherwise appear. */
export const MASK = '********';

/**
 * A value that is never shown: it prints as `********` in logs, diffs, errors and reports. Where its revealed value
 * may end up in text (a rendered file, a command's output), the run's `MaskTable` (src/mask-table.ts) masks it.
 *
 * @example
 * const dbPassword = secret(process.env.DB_PASSWORD!);
 * `${dbPassword}`       // '********'
 * dbPassword.reveal()   // the real value, for templates and commands only
 */
export class Secret {
  #value: string | undefined;
  readonly #load: (() => string) | undefined;
  /**
   * What the value is loaded from (the vault that made it), so a run can find the sources it uses and open only
   * those; undefined for a value given as it is.
   */
  readonly origin: object | undefined;
  /** A value, or a function that loads it when it is first needed (e.g. from a vault file), and where it comes from. */
  constructor(value: string | (() => string), origin?: object) {
    if (typeof value === 'function') this.#load = value;
    else this.#value = value;
    this.origin = origin;
  }
  /** The real value. Only templates, file contents and command builders should call this. */
  reveal(): string {
    // One of the two is always set: the constructor takes a value or a loader.
    this.#value ??= this.#load?.() ?? '';
    return this.#value;
  }
  /** Whether the value is known without loading it: given as it is, or revealed already. */
  get isRevealed(): boolean {
    return this.#value !== undefined;
  }
  toString(): string {
    return MASK;
  }
  toJSON(): string {
    return MASK;
  }
  [inspect.custom](): string {
    return `Secret(${MASK})`;
  }
}

/**
 * Wraps a value so it is masked wherever it is shown.
 *
 * @example
 * vars: { dkimKey: secret(readFileSync('/vault/dkim.key', 'utf8')) }
 */
export function secret(value: string): Secret {
  return new Secret(value);
}

/** Reads a secret from an environment variable; throws when the variable is unset or empty. */
secret.fromEnv = function fromEnv(name: string): Secret {
  const value = process.env[name];
  if (!value) throw new Error(`secret: environment variable ${name} is not set`);
  return new Secret(value);
};

/** The real value of a secret, or the value itself when it is a plain string. */
export function reveal(value: string | Secret): string {
  return value instanceof Secret ? value.reveal() : value;
}
