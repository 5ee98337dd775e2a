import { Secret, MASK } from '../secret.ts';

/**
 * A shell command for a remote POSIX `/bin/sh`, built only through the {@link sh} tagged template.
 * `text` is what runs; `display` is the same with secrets masked, for logs and errors; `secrets` are the secrets
 * interpolated into it (also through nested commands), for a mask table to mask what the command prints.
 */
export class ShellCommand {
  constructor(
    readonly text: string,
    readonly display: string,
    readonly secrets: readonly Secret[] = [],
  ) {}
  toString(): string {
    return this.display;
  }
}

/** A fragment of shell text inserted as-is (not quoted): for operators built by code, never for user data. */
export class RawShell {
  constructor(readonly text: string) {}
}

/** Marks trusted shell syntax to insert unquoted into {@link sh}, e.g. `sh`a ${raw('&&')} b``. */
export function raw(text: string): RawShell {
  return new RawShell(text);
}

/** POSIX single-quote quoting: safe for any string in `/bin/sh`. */
export function quote(value: string): string {
  if (value !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

type ShellValue = string | number | Secret | ShellCommand | RawShell | readonly (string | number | Secret)[];

/** The secrets an interpolated value holds. */
function secretsOf(value: ShellValue): readonly Secret[] {
  if (value instanceof ShellCommand) return value.secrets;
  if (value instanceof Secret) return [value];
  if (Array.isArray(value)) return value.filter((v): v is Secret => v instanceof Secret);
  return [];
}

function render(value: ShellValue, reveal: boolean): string {
  if (value instanceof ShellCommand) return reveal ? value.text : value.display;
  if (value instanceof RawShell) return value.text;
  if (value instanceof Secret) return reveal ? quote(value.reveal()) : MASK;
  if (Array.isArray(value)) return value.map((v) => render(v, reveal)).join(' ');
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return quote(value);
  throw new TypeError(`sh: cannot interpolate ${typeof value}`);
}

/**
 * Builds a {@link ShellCommand}; every interpolated value is POSIX-quoted (arrays become several words,
 * nested commands are inserted as they are, secrets are masked in the displayed form).
 *
 * @example
 * sh`install -d -m ${mode} ${path}`          // install -d -m 0755 '/srv/my dir'
 * sh`apt-get install -y ${['bind9', 'dnsutils']}`
 */
export function sh(strings: TemplateStringsArray, ...values: ShellValue[]): ShellCommand {
  // A backslash the template cannot read (`\(`, `\1`) leaves its piece undefined: say so rather than run "undefined".
  const broken = strings.findIndex((piece) => typeof piece !== 'string');
  if (broken >= 0)
    throw new TypeError(
      `sh: an invalid escape in the template's text near ${JSON.stringify(strings.raw[broken].slice(0, 40))}: double the backslash`,
    );
  let text = strings[0];
  let display = strings[0];
  const secrets: Secret[] = [];
  values.forEach((value, i) => {
    text += render(value, true) + strings[i + 1];
    display += render(value, false) + strings[i + 1];
    secrets.push(...secretsOf(value));
  });
  return new ShellCommand(text, display, secrets);
}

/**
 * A whole command as one quoted word, to hand to another shell (`sh -c ${asArgument(cmd)}`, `su -c …`); its
 * displayed form still masks secrets.
 */
export function asArgument(command: ShellCommand): ShellCommand {
  return new ShellCommand(quote(command.text), quote(command.display), command.secrets);
}

/** Joins commands with a separator such as `' && '` or `'\n'`. */
export function joinCommands(commands: readonly ShellCommand[], separator: string): ShellCommand {
  return new ShellCommand(
    commands.map((c) => c.text).join(separator),
    commands.map((c) => c.display).join(separator),
    commands.flatMap((c) => c.secrets),
  );
}
