import { ValidationError } from '../errors.ts';

/**
 * A secret that cannot be read: the vault file or the name is missing. Invalid input (exit code 2).
 *
 * @example
 * throw new SecretUnavailableError(`secret "tsig_key" is not in vault ${path}`);
 */
export class SecretUnavailableError extends ValidationError {}

/**
 * An encrypted vault whose passphrase play could not get: no password file, and no prompt (not a terminal, or not
 * interactive). Invalid input (exit code 2).
 *
 * @example
 * throw new VaultLockedError(path);
 */
export class VaultLockedError extends ValidationError {
  constructor(readonly path: string) {
    super(
      `vault ${path} is encrypted: give its passphrase with --vault-password-file FILE or PLAY_VAULT_PASSWORD_FILE`,
    );
  }
}

/**
 * An encrypted vault opened with a passphrase that is not its own (its key-check value differs). Exit code 2.
 *
 * @example
 * throw new WrongVaultPassphraseError(path);
 */
export class WrongVaultPassphraseError extends ValidationError {
  constructor(readonly path: string) {
    super(`vault ${path}: wrong passphrase`);
  }
}

/**
 * An encrypted vault whose bytes are not those play wrote: a digest, a field or the AES-GCM authentication tag
 * does not match. Exit code 2.
 *
 * @example
 * throw new TamperedVaultError(path);
 */
export class TamperedVaultError extends ValidationError {
  constructor(readonly path: string) {
    super(`vault ${path} was changed since it was written (authentication failed)`);
  }
}
