import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseVaultValues } from './contents.ts';
import { DerivedVaultKeys, deriveEnvelopeKeysAhead, isVaultEnvelope, openVaultEnvelope } from './envelope.ts';
import { WrongVaultPassphraseError } from './errors.ts';
import { askHidden, canAskHidden, PassphraseSource, type PromptStreams } from './passphrase.ts';
import { readVaultFile, type VaultFileContents } from './vault-file.ts';

/**
 * A vault as a {@link VaultSession} reaches it: its file, its project password file, and where to hand the contents
 * that {@link VaultSession.unlock} decrypted with a typed passphrase (so they are not decrypted twice).
 *
 * @example
 * const vault: SessionVault = { path: 'inventory/smknh.vault', unlocked: (contents) => keep(contents) };
 */
export interface SessionVault {
  readonly path: string;
  readonly passwordFile?: string;
  unlocked(contents: VaultFileContents): void;
}

/**
 * How a {@link VaultSession} is made: the command line's password file, and where its warnings go.
 *
 * @example
 * new VaultSession({ passwordFile: args.vaultPasswordFile, warn: (line) => streams.stderr.write(`${line}\n`) } satisfies VaultSessionOptions);
 */
export interface VaultSessionOptions {
  /** `--vault-password-file`: wins over `PLAY_VAULT_PASSWORD_FILE` and over a vault's own `passwordFile`. */
  readonly passwordFile?: string;
  /** Where a warning goes (one line, without newline); stderr by default. */
  readonly warn?: (line: string) => void;
}

/**
 * How {@link VaultSession.unlock} may ask.
 *
 * @example
 * await session.unlock(vaults, { interactive: true, stdin: process.stdin, stderr: process.stderr } satisfies UnlockOptions);
 */
export interface UnlockOptions extends PromptStreams {
  /** Whether play may ask at all (not under `--json`, CI, or a non-interactive run). */
  readonly interactive: boolean;
  /** How to ask without echo; the terminal by default, which needs stdin to be a TTY. */
  readonly ask?: (question: string) => Promise<string>;
}

/**
 * How one run reaches its vaults: where their passphrases come from (see {@link PassphraseSource}), the keys
 * derived ahead for them, and where warnings go (each plain-text vault is warned about once). A run makes one and
 * gives it the vaults it uses; a vault read outside any run makes its own.
 *
 * @example
 * const session = new VaultSession({ passwordFile: args.vaultPasswordFile });
 * await session.unlock(vaults, { interactive: process.stdin.isTTY === true });
 * const { values } = session.read('inventory/smknh.vault');
 */
export class VaultSession {
  /** Where this run's passphrases come from, with the ones typed this run. */
  readonly passphrases: PassphraseSource;
  /** The keys derived off the main thread by {@link deriveKeysAhead}. */
  readonly derivedKeys = new DerivedVaultKeys();
  readonly #warn: (line: string) => void;
  readonly #warnedPlain = new Set<string>();

  constructor(options: VaultSessionOptions = {}) {
    this.passphrases = new PassphraseSource({ passwordFile: options.passwordFile });
    this.#warn = options.warn ?? ((line) => process.stderr.write(`${line}\n`));
  }

  /**
   * Reads a vault file with the passphrase this session knows for it (see {@link readVaultFile}), warning once
   * when it is plain text.
   *
   * @example
   * const { values, format } = session.read('inventory/smknh.vault', '.vault-pass');
   */
  read(path: string, passwordFile?: string): VaultFileContents {
    const contents = readVaultFile(path, () => this.passphrases.known(path, passwordFile), this.derivedKeys);
    if (contents.format === 'plain') this.warnPlainText(path);
    return contents;
  }

  /**
   * Warns, once per vault path in this session, that a vault is stored in plain text, and how to encrypt it.
   *
   * @example
   * session.warnPlainText('inventory/old.json');
   */
  warnPlainText(path: string): void {
    const key = resolve(path);
    if (this.#warnedPlain.has(key)) return;
    this.#warnedPlain.add(key);
    this.#warn(`play: warning: vault ${path} is plain text: encrypt it with \`play vault encrypt ${path}\``);
  }

  /**
   * Asks, before a run, for the passphrase of each of these vaults that is encrypted and whose passphrase no
   * password file gives, and keeps it in this session: `Secret.reveal()` is synchronous and cannot ask later. A
   * passphrase typed for one vault is tried on the next before asking again; a wrong one is asked again, three
   * times at most. Without `interactive` or a terminal it asks nothing, and reading such a vault later is a
   * VaultLockedError (exit code 2) that says how to give the passphrase. Reads no other vault.
   *
   * @example
   * await session.unlock(vaultsUsedBy(inventory, playbook.plays), { interactive: !args.json && process.stdin.isTTY === true });
   */
  async unlock(vaults: readonly SessionVault[], options: UnlockOptions): Promise<void> {
    const stderr = options.stderr ?? process.stderr;
    const ask =
      options.ask ?? (canAskHidden(options.stdin) ? (question: string) => askHidden(question, options) : undefined);
    const typed: string[] = [];
    for (const vault of vaults) {
      if (!existsSync(vault.path) || this.passphrases.known(vault.path, vault.passwordFile) !== undefined) continue;
      const parsed = parseVaultFileText(vault.path);
      if (!isVaultEnvelope(parsed) || !options.interactive || !ask) continue;
      const open = (passphrase: string): VaultFileContents => ({
        values: parseVaultValues(vault.path, openVaultEnvelope(vault.path, parsed, passphrase, this.derivedKeys)),
        format: 'encrypted',
        passphrase,
      });
      let contents = tryEach(typed, open);
      for (let attempt = 1; !contents; attempt++) {
        const passphrase = await ask(`Vault passphrase for ${vault.path}: `);
        try {
          contents = open(passphrase);
          typed.push(passphrase);
        } catch (error) {
          if (!(error instanceof WrongVaultPassphraseError) || attempt === 3) throw error;
          stderr.write(`play: wrong passphrase for vault ${vault.path}, try again\n`);
        }
      }
      if (contents.format === 'encrypted') this.passphrases.remember(vault.path, contents.passphrase);
      for (const same of vaults) if (resolve(same.path) === resolve(vault.path)) same.unlocked(contents);
    }
  }

  /**
   * Derives, off the main thread, the keys of each of these vaults that is encrypted and whose passphrase is known
   * without asking (a password file, or one typed at {@link unlock}), so that reading it later, as vars are
   * validated, costs no scrypt there: the caller does other start-up work meanwhile. Never fails: a vault it cannot
   * read is left for that read to report.
   *
   * @example
   * const ahead = session.deriveKeysAhead(vaults);
   * compileRoleSchemas(playbook);
   * await ahead;
   */
  async deriveKeysAhead(vaults: readonly SessionVault[]): Promise<void> {
    await Promise.all(
      vaults.map(async (vault) => {
        try {
          if (!existsSync(vault.path)) return;
          const passphrase = this.passphrases.known(vault.path, vault.passwordFile);
          const parsed = parseVaultFileText(vault.path);
          if (passphrase !== undefined && isVaultEnvelope(parsed))
            await deriveEnvelopeKeysAhead(parsed, passphrase, this.derivedKeys);
        } catch {
          // Reported by the read itself.
        }
      }),
    );
  }
}

/** The parsed JSON of a vault file, or undefined when it is not JSON (reading it later says why). */
function parseVaultFileText(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}

/** The first passphrase that opens the vault, or undefined. */
function tryEach(
  passphrases: readonly string[],
  open: (passphrase: string) => VaultFileContents,
): VaultFileContents | undefined {
  for (const passphrase of passphrases) {
    try {
      return open(passphrase);
    } catch (error) {
      if (!(error instanceof WrongVaultPassphraseError)) throw error;
    }
  }
  return undefined;
}
