import { inspect } from 'node:util';

/** The text shown wherever a secret value would otherwise appear. */
export const MASK = '********';

const knownSecrets = new Set<string>();

/**
 * The forms a secret takes once something escapes it: inside a JSON string (`--json`, a JSON config), and with
 * backslashes before quotes and backslashes (a PHP or shell string, an error that quotes a line).
 */
function escapedForms(value: string): string[] {
  return [JSON.stringify(value).slice(1, -1), value.replace(/['"\\]/g, '\\$&')].filter((form) => form !== value);
}

/** Registers a secret value for masking, and returns it. */
function remember(value: string): string {
  if (value.length > 0) for (const form of [value, ...escapedForms(value)]) knownSecrets.add(form);
  // A multi-line secret (a key, a certificate) shows up line by line in diffs and logs: mask each line too.
  for (const line of value.split('\n')) if (line.trim().length >= 4 && line !== value) knownSecrets.add(line);
  return value;
}

/**
 * A value that is never shown: it prints as `********` in logs, diffs, errors and reports.
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
    else this.#value = remember(value);
    this.origin = origin;
  }
  /** The real value. Only templates, file contents and command builders should call this. */
  reveal(): string {
    this.#value ??= remember(this.#load!());
    return this.#value;
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

/**
 * Replaces every known secret value in a text with `********`.
 *
 * @example
 * mask(`password=${s.reveal()}`) // 'password=********'
 */
export function mask(text: string): string {
  if (knownSecrets.size === 0 || text.length === 0) return text;
  let masked = text;
  // Longest first, so a secret that contains another is masked whole.
  for (const value of [...knownSecrets].sort((a, b) => b.length - a.length)) {
    if (masked.includes(value)) masked = masked.split(value).join(MASK);
  }
  return masked;
}
