import { randomBytes } from 'node:crypto';

/**
 * How a missing secret is made when the vault may generate: random letters and digits, or random bytes in base64.
 *
 * @example
 * vault.secret('tsig_key', { base64Bytes: 32 } satisfies SecretShape);
 */
export type SecretShape = { readonly length: number } | { readonly base64Bytes: number };

/**
 * The letters and digits of a generated password: no `0 O 1 I l o`, so a password read aloud or copied by hand
 * is not misread.
 *
 * @example
 * [...value].every((c) => SECRET_ALPHABET.includes(c))
 */
export const SECRET_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';

/**
 * A new random secret of the given shape.
 *
 * @example
 * randomSecret({ length: 24 })      // 'tQ7k…' (24 letters and digits from SECRET_ALPHABET)
 * randomSecret({ base64Bytes: 32 }) // 'q3J…=' (32 random bytes, base64)
 */
export function randomSecret(shape: SecretShape): string {
  if ('base64Bytes' in shape) return randomBytes(shape.base64Bytes).toString('base64');
  // Rejection sampling keeps every letter equally likely.
  let value = '';
  while (value.length < shape.length) {
    for (const byte of randomBytes(shape.length * 2)) {
      if (byte < 256 - (256 % SECRET_ALPHABET.length) && value.length < shape.length)
        value += SECRET_ALPHABET[byte % SECRET_ALPHABET.length];
    }
  }
  return value;
}

/**
 * A shell line that stores a new random secret of this shape in a vault, for a vault made before the secret was
 * needed (an older play's). The value goes through a pipe, never the command line.
 *
 * @example
 * addSecretCommand('inventory/smknh.vault', 'mariadb_replication_password', { length: 32 });
 * // 'tr -dc A-Za-z0-9 </dev/urandom | head -c 32 | npx play vault set inventory/smknh.vault mariadb_replication_password'
 */
export function addSecretCommand(vaultPath: string, name: string, shape: SecretShape): string {
  const random =
    'base64Bytes' in shape
      ? `head -c ${shape.base64Bytes} /dev/urandom | base64 -w0`
      : `tr -dc A-Za-z0-9 </dev/urandom | head -c ${shape.length}`;
  return `${random} | npx play vault set ${vaultPath} ${name}`;
}
