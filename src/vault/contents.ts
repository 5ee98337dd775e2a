import { ValidationError } from '../errors.ts';

/**
 * What a vault holds once read: each secret's name and its value, a non-empty string.
 *
 * @example
 * const values: VaultValues = { tsig_key: 'q3J…=', keepalived_password: 'Kq7mPx2R' };
 */
export type VaultValues = Record<string, string>;

/**
 * A vault's contents from its JSON text: an object whose every value is a non-empty string, or a ValidationError
 * naming `label` (the vault's path) and the first secret that is not. The message never quotes the text: a JSON
 * error says where (line and column), not what is there, because the text is secrets.
 *
 * @example
 * parseVaultValues('/etc/play/smknh.vault', '{"tsig_key": "…"}') // { tsig_key: '…' }
 */
export function parseVaultValues(label: string, text: string): VaultValues {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ValidationError(
      `vault ${label} is not a JSON object of strings: ${jsonErrorPlace(text, (error as Error).message)}`,
    );
  }
  return checkVaultValues(label, parsed);
}

/**
 * Checks that a parsed value is a vault's contents (an object whose every value is a non-empty string), and
 * returns it; otherwise a ValidationError naming `label` and the first secret that is not.
 *
 * @example
 * checkVaultValues('vault.json', { a: 'b' }) // { a: 'b' }
 * checkVaultValues('vault.json', { a: '' })  // throws: vault vault.json: secret "a" must be a non-empty string, but it is an empty string
 */
export function checkVaultValues(label: string, parsed: unknown): VaultValues {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ValidationError(`vault ${label} is not a JSON object of strings: it holds ${kindOf(parsed)}`);
  }
  for (const [name, value] of Object.entries(parsed)) {
    if (typeof value !== 'string' || value === '') {
      throw new ValidationError(
        `vault ${label}: secret "${name}" must be a non-empty string, but it is ${value === '' ? 'an empty string' : kindOf(value)}`,
      );
    }
  }
  return parsed as VaultValues;
}

/** What a JSON value is, for a message: `null`, `an array`, `an object`, `a number`. */
function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** Where JSON.parse stopped, as `invalid JSON at line L, column C`, without the snippet of text V8 may quote. */
function jsonErrorPlace(text: string, message: string): string {
  const position = /at position (\d+)/.exec(message);
  if (!position) return text.trim() === '' ? 'the file is empty' : 'invalid JSON';
  const before = text.slice(0, Number(position[1])).split('\n');
  return `invalid JSON at line ${before.length}, column ${before[before.length - 1].length + 1}`;
}
