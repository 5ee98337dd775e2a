import { existsSync } from 'node:fs';
import { Secret } from './secret.ts';
import { addSecretCommand, randomSecret, type SecretShape } from './vault/random-secret.ts';
import { SecretUnavailableError } from './vault/errors.ts';
import { VaultSession, type SessionVault } from './vault/session.ts';
import { writeVaultFile, type VaultFileContents } from './vault/vault-file.ts';
import type { VaultValues } from './vault/contents.ts';

export {
  SecretUnavailableError,
  TamperedVaultError,
  VaultLockedError,
  WrongVaultPassphraseError,
} from './vault/errors.ts';
export { VaultSession, type UnlockOptions, type VaultSessionOptions } from './vault/session.ts';
export { readVault, vaultFormat, writeVault, type VaultFormat } from './vault/vault-file.ts';
export type { SecretShape } from './vault/random-secret.ts';
export type { VaultValues } from './vault/contents.ts';

/**
 * A file of named secrets: encrypted (committed with the school's inventory) or, the old way, plain JSON.
 *
 * @example
 * const vault: Vault = openVault('inventory/smknh.vault');
 * vars: { tsigKey: vault.secret('tsig_key', { base64Bytes: 32 }) }
 */
export interface Vault {
  readonly path: string;
  /**
   * The named secret, read from the file when first revealed (so loading an inventory never needs the vault).
   * A vault opened with `generate: true` makes a missing one, random, and writes it back in the file's format.
   */
  secret(name: string, shape?: SecretShape): Secret;
}

/**
 * How a vault is opened.
 *
 * @example
 * openVault('inventory/smknh.vault', { generate: true, passwordFile: '.vault-pass' } satisfies VaultOptions);
 */
export interface VaultOptions {
  /** Make a missing secret (or the whole file) at random, and write it back. */
  readonly generate?: boolean;
  /**
   * The project's own password file (like ansible.cfg's vault_password_file), relative to the working folder;
   * `--vault-password-file` and `PLAY_VAULT_PASSWORD_FILE` win over it.
   */
  readonly passwordFile?: string;
}

/**
 * A vault file as {@link openVault} opens it: a description (its path and options) that reads nothing until one
 * of its secrets is revealed, and then reads the file with the {@link VaultSession} of the run that uses it (see
 * {@link useSession}), or with one of its own when no run gave one. Opening it registers it nowhere.
 *
 * @example
 * const vault = new FileVault('inventory/smknh.vault', { passwordFile: '.vault-pass' });
 * vault.useSession(session).secret('tsig_key').reveal();
 */
export class FileVault implements Vault, SessionVault {
  readonly path: string;
  readonly options: VaultOptions;
  #session: VaultSession | undefined;
  #contents: VaultFileContents | undefined;

  constructor(path: string, options: VaultOptions = {}) {
    this.path = path;
    this.options = options;
  }

  /** The project's own password file (see {@link VaultOptions.passwordFile}). */
  get passwordFile(): string | undefined {
    return this.options.passwordFile;
  }

  /**
   * Reads this vault, from now on, with a run's session (its passphrases, keys derived ahead and warnings). What
   * was read with another session is read again.
   *
   * @example
   * for (const vault of vaultsUsedBy(inventory, playbook.plays)) vault.useSession(context.vaults);
   */
  useSession(session: VaultSession): this {
    if (this.#session !== session) this.#contents = undefined;
    this.#session = session;
    return this;
  }

  /** Takes the contents that {@link VaultSession.unlock} decrypted with a typed passphrase. */
  unlocked(contents: VaultFileContents): void {
    this.#contents ??= { ...contents, values: { ...contents.values } };
  }

  secret(name: string, shape: SecretShape = { length: 24 }): Secret {
    return new Secret(() => {
      const vault = this.#read();
      const value = vault.values[name];
      if (typeof value === 'string' && value !== '') return value;
      if (!this.options.generate)
        throw new SecretUnavailableError(
          `secret "${name}" is not in vault ${this.path} (a vault made by an older play lacks what newer roles use): add a random one with \`${addSecretCommand(this.path, name, shape)}\``,
        );
      const values: VaultValues = { ...vault.values, [name]: randomSecret(shape) };
      writeVaultFile(this.path, { ...vault, values });
      if (vault.format === 'plain') this.#sessionOrOwn().warnPlainText(this.path);
      this.#contents = { ...vault, values };
      return values[name];
    }, this);
  }

  #sessionOrOwn(): VaultSession {
    this.#session ??= new VaultSession();
    return this.#session;
  }

  #read(): VaultFileContents {
    if (this.#contents) return this.#contents;
    const session = this.#sessionOrOwn();
    if (!existsSync(this.path)) {
      if (!this.options.generate)
        throw new SecretUnavailableError(
          `vault ${this.path} does not exist: create it with \`play vault create ${this.path}\``,
        );
      // A new vault is encrypted whenever a passphrase is at hand; otherwise it is plain text, as before.
      const passphrase = session.passphrases.known(this.path, this.options.passwordFile);
      this.#contents =
        passphrase === undefined ? { values: {}, format: 'plain' } : { values: {}, format: 'encrypted', passphrase };
      return this.#contents;
    }
    this.#contents = session.read(this.path, this.options.passwordFile);
    return this.#contents;
  }
}

/**
 * Opens a vault: a file of named secrets readable by its owner only (mode 0600). Nothing is read and nothing is
 * registered here: importing an inventory that opens a vault has no effect until a run reveals one of its secrets.
 * An encrypted vault (see `play vault create`) is then opened with the passphrase from `--vault-password-file`,
 * `PLAY_VAULT_PASSWORD_FILE`, the `passwordFile` option, or one typed at the prompt of the run's
 * {@link VaultSession.unlock}; a plain JSON vault `{ "name": "value", … }` is still read, with a warning. A missing
 * file or name, a file others may read or that belongs to someone else, a value that is not a non-empty string, a
 * missing or wrong passphrase and a changed file are errors naming the file (exit code 2, before any host is
 * touched, because play reveals the secrets in vars while it validates them).
 *
 * @example
 * const vault = openVault('inventory/smknh.vault', { passwordFile: '.vault-pass' });
 * vars: { keepalivedPassword: vault.secret('keepalived_password') }
 */
export function openVault(path: string, options: VaultOptions = {}): Vault {
  return new FileVault(path, options);
}

/**
 * The vaults whose secrets these values hold (inventories, plays, vars: plain objects and arrays, searched to the
 * bottom), each once, in the order first found: the vaults a run uses, and the only ones it opens.
 *
 * @example
 * vaultsUsedBy(inventory, playbook.plays) // [FileVault { path: 'inventory/smknh.vault' }]
 */
export function vaultsUsedBy(...values: readonly unknown[]): FileVault[] {
  const found = new Set<FileVault>();
  const seen = new Set<object>();
  const visit = (value: unknown): void => {
    if (typeof value !== 'object' || value === null || seen.has(value)) return;
    seen.add(value);
    if (value instanceof Secret) {
      if (value.origin instanceof FileVault) found.add(value.origin);
      return;
    }
    const prototype = Object.getPrototypeOf(value);
    if (!Array.isArray(value) && prototype !== Object.prototype && prototype !== null) return;
    for (const item of Object.values(value)) visit(item);
  };
  for (const value of values) visit(value);
  return [...found];
}
