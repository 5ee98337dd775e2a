import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ValidationError } from './errors.ts';
import { Secret } from './secret.ts';

/** A secret that cannot be read: the vault file or the name is missing. Invalid input (exit code 2). */
export class SecretUnavailableError extends ValidationError {}

/** How a missing secret is made when the vault may generate: random letters and digits, or random bytes in base64. */
export type SecretShape = { readonly length: number } | { readonly base64Bytes: number };

/** A file of named secrets, kept outside the repository. */
export interface Vault {
  readonly path: string;
  /**
   * The named secret, read from the file when first revealed (so loading an inventory never needs the vault).
   * A vault opened with `generate: true` makes a missing one, random, and writes it back.
   */
  secret(name: string, shape?: SecretShape): Secret;
}

const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';

function randomValue(shape: SecretShape): string {
  if ('base64Bytes' in shape) return randomBytes(shape.base64Bytes).toString('base64');
  // Rejection sampling keeps every letter equally likely.
  let value = '';
  while (value.length < shape.length) {
    for (const byte of randomBytes(shape.length * 2)) {
      if (byte < 256 - (256 % ALPHABET.length) && value.length < shape.length) value += ALPHABET[byte % ALPHABET.length];
    }
  }
  return value;
}

/**
 * Refuses a vault file that others could read or change, or that belongs to someone else: its secrets would not be
 * secret, or not the owner's.
 */
function checkVaultFile(path: string): void {
  const stat = statSync(path);
  if ((stat.mode & 0o077) !== 0) {
    const mode = (stat.mode & 0o777).toString(8).padStart(4, '0');
    throw new ValidationError(`vault ${path} is open to others (mode ${mode}): only its owner may read it (chmod 600 ${path})`);
  }
  const uid = process.getuid?.();
  if (uid !== undefined && stat.uid !== uid) {
    throw new ValidationError(`vault ${path} belongs to uid ${stat.uid}, not to uid ${uid} who runs play: chown it, or run play as its owner`);
  }
}

/** A vault's contents: an object whose every value is a non-empty string, or an error naming the first that is not. */
function checkVaultShape(path: string, parsed: unknown): Record<string, string> {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ValidationError(`vault ${path} is not a JSON object of strings: it holds ${kindOf(parsed)}`);
  }
  for (const [name, value] of Object.entries(parsed)) {
    if (typeof value !== 'string' || value === '') {
      throw new ValidationError(`vault ${path}: secret "${name}" must be a non-empty string, but it is ${value === '' ? 'an empty string' : kindOf(value)}`);
    }
  }
  return parsed as Record<string, string>;
}

/** What a JSON value is, for a message: `null`, `an array`, `an object`, `a number`. */
function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/**
 * Opens a vault: a JSON file `{ "name": "value", … }` readable by its owner only (mode 0600), outside the
 * repository. Secrets are loaded lazily; a missing file or name, a file others may read or that belongs to someone
 * else, and a value that is not a non-empty string are errors naming the file (exit code 2, before any host is
 * touched, because play reveals the secrets in vars while it validates them).
 *
 * @example
 * const vault = openVault(process.env.PLAY_VAULT ?? '/etc/play/smknh.json');
 * vars: { keepalivedPassword: vault.secret('keepalived_password') }
 */
export function openVault(path: string, options: { generate?: boolean } = {}): Vault {
  let contents: Record<string, string> | undefined;
  const read = (): Record<string, string> => {
    if (contents) return contents;
    if (!existsSync(path)) {
      if (!options.generate) throw new SecretUnavailableError(`vault ${path} does not exist (a JSON file of named secrets, mode 0600)`);
      contents = {};
      return contents;
    }
    checkVaultFile(path);
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(path, 'utf8'));
    } catch (error) {
      throw new ValidationError(`vault ${path} is not a JSON object of strings: ${(error as Error).message}`);
    }
    contents = checkVaultShape(path, parsed);
    return contents;
  };
  return {
    path,
    secret(name, shape = { length: 24 }) {
      return new Secret(() => {
        const values = read();
        const value = values[name];
        if (typeof value === 'string' && value !== '') return value;
        if (!options.generate) throw new SecretUnavailableError(`secret "${name}" is not in vault ${path}`);
        values[name] = randomValue(shape);
        mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
        writeFileSync(path, `${JSON.stringify(values, null, 2)}\n`, { mode: 0o600 });
        chmodSync(path, 0o600);
        return values[name];
      });
    },
  };
}
