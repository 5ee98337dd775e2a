import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Secret } from './secret.ts';
import { parseVaultValues, type VaultValues } from './vault/contents.ts';
import { deriveEnvelopeKeysAhead, isVaultEnvelope, openVaultEnvelope } from './vault/envelope.ts';
import { SecretUnavailableError, WrongVaultPassphraseError } from './vault/errors.ts';
import { askHidden, canAskHidden, knownVaultPassphrase, rememberTypedPassphrase, type PromptStreams } from './vault/passphrase.ts';
import { randomSecret, type SecretShape } from './vault/random-secret.ts';
import { readVaultFile, writeVaultFile, type VaultFileContents } from './vault/vault-file.ts';

export { SecretUnavailableError, TamperedVaultError, VaultLockedError, WrongVaultPassphraseError } from './vault/errors.ts';
export { setVaultPasswordFile } from './vault/passphrase.ts';
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

/** A vault opened this run, as {@link unlockVaults} sees it. */
interface OpenedVault {
  readonly path: string;
  readonly passwordFile?: string;
  /** Hands over the contents that {@link unlockVaults} decrypted with a typed passphrase. */
  unlocked(contents: VaultFileContents): void;
}

const openedVaults: OpenedVault[] = [];
const warnedPlainVaults = new Set<string>();
let warningSink: (line: string) => void = (line) => process.stderr.write(`${line}\n`);

/**
 * Replaces where vault warnings go (one line each, without newline); returns the sink it replaced. The default
 * writes to stderr.
 *
 * @example
 * const warnings: string[] = [];
 * const previous = setVaultWarningSink((line) => warnings.push(line));
 * // …
 * setVaultWarningSink(previous);
 */
export function setVaultWarningSink(sink: (line: string) => void): (line: string) => void {
  const previous = warningSink;
  warningSink = sink;
  return previous;
}

/** Warns, once per vault path and run, that a vault is stored in plain text, and how to encrypt it. */
function warnPlainText(path: string): void {
  const key = resolve(path);
  if (warnedPlainVaults.has(key)) return;
  warnedPlainVaults.add(key);
  warningSink(`play: warning: vault ${path} is plain text: encrypt it with \`play vault encrypt ${path}\``);
}

/**
 * Opens a vault: a file of named secrets readable by its owner only (mode 0600). An encrypted vault (see
 * `play vault create`) is opened with the passphrase from `--vault-password-file`, `PLAY_VAULT_PASSWORD_FILE`,
 * the `passwordFile` option, or one typed at the prompt of {@link unlockVaults}; a plain JSON vault
 * `{ "name": "value", … }` is still read, with a warning. Secrets are loaded lazily; a missing file or name, a
 * file others may read or that belongs to someone else, a value that is not a non-empty string, a missing or
 * wrong passphrase and a changed file are errors naming the file (exit code 2, before any host is touched,
 * because play reveals the secrets in vars while it validates them).
 *
 * @example
 * const vault = openVault('inventory/smknh.vault', { passwordFile: '.vault-pass' });
 * vars: { keepalivedPassword: vault.secret('keepalived_password') }
 */
export function openVault(path: string, options: VaultOptions = {}): Vault {
  let contents: VaultFileContents | undefined;
  const read = (): VaultFileContents => {
    if (contents) return contents;
    if (!existsSync(path)) {
      if (!options.generate) throw new SecretUnavailableError(`vault ${path} does not exist: create it with \`play vault create ${path}\``);
      // A new vault is encrypted whenever a passphrase is at hand; otherwise it is plain text, as before.
      const passphrase = knownVaultPassphrase(path, options.passwordFile);
      contents = passphrase === undefined ? { values: {}, format: 'plain' } : { values: {}, format: 'encrypted', passphrase };
      return contents;
    }
    contents = readVaultFile(path, () => knownVaultPassphrase(path, options.passwordFile));
    if (contents.format === 'plain') warnPlainText(path);
    return contents;
  };
  openedVaults.push({
    path,
    passwordFile: options.passwordFile,
    unlocked(unlockedContents) {
      contents ??= { ...unlockedContents, values: { ...unlockedContents.values } };
    },
  });
  return {
    path,
    secret(name, shape = { length: 24 }) {
      return new Secret(() => {
        const vault = read();
        const value = vault.values[name];
        if (typeof value === 'string' && value !== '') return value;
        if (!options.generate) throw new SecretUnavailableError(`secret "${name}" is not in vault ${path}`);
        const values: VaultValues = { ...vault.values, [name]: randomSecret(shape) };
        writeVaultFile(path, { ...vault, values });
        if (vault.format === 'plain') warnPlainText(path);
        contents = { ...vault, values };
        return values[name];
      });
    },
  };
}

/**
 * How {@link unlockVaults} may ask.
 *
 * @example
 * await unlockVaults({ interactive: true, stdin: process.stdin, stderr: process.stderr } satisfies UnlockOptions);
 */
export interface UnlockOptions extends PromptStreams {
  /** Whether play may ask at all (not under `--json`, CI, or a non-interactive run). */
  readonly interactive: boolean;
  /** How to ask without echo; the terminal by default, which needs stdin to be a TTY. */
  readonly ask?: (question: string) => Promise<string>;
}

/**
 * Asks, before a run, for the passphrase of every vault opened so far that is encrypted and whose passphrase no
 * password file gives, and keeps it in memory: `Secret.reveal()` is synchronous and cannot ask later. A
 * passphrase typed for one vault is tried on the next before asking again; a wrong one is asked again, three
 * times at most. Without `interactive` or a terminal it asks nothing, and reading such a vault later is a
 * {@link VaultLockedError} (exit code 2) that says how to give the passphrase.
 *
 * @example
 * const playbook = await loadPlaybook(file);
 * await unlockVaults({ interactive: !args.json && process.stdin.isTTY === true });
 * const run = await compileRun(playbook, inventory);
 */
export async function unlockVaults(options: UnlockOptions): Promise<void> {
  const stderr = options.stderr ?? process.stderr;
  const ask = options.ask ?? (canAskHidden(options.stdin) ? (question: string) => askHidden(question, options) : undefined);
  const typed: string[] = [];
  for (const vault of openedVaults) {
    if (!existsSync(vault.path) || knownVaultPassphrase(vault.path, vault.passwordFile) !== undefined) continue;
    const parsed = parseVaultFileText(vault.path);
    if (!isVaultEnvelope(parsed) || !options.interactive || !ask) continue;
    const open = (passphrase: string): VaultFileContents => ({
      values: parseVaultValues(vault.path, openVaultEnvelope(vault.path, parsed, passphrase)),
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
    rememberTypedPassphrase(vault.path, contents.passphrase!);
    for (const same of openedVaults) if (resolve(same.path) === resolve(vault.path)) same.unlocked(contents);
  }
}

/**
 * Derives, off the main thread, the keys of every opened encrypted vault whose passphrase is known without
 * asking (a password file, or one typed at {@link unlockVaults}), so that reading it later, as vars are validated,
 * costs no scrypt there: the caller does other start-up work meanwhile. Never fails: a vault it cannot read is
 * left for that read to report.
 */
export async function deriveVaultKeysAhead(): Promise<void> {
  await Promise.all(
    openedVaults.map(async (vault) => {
      try {
        if (!existsSync(vault.path)) return;
        const passphrase = knownVaultPassphrase(vault.path, vault.passwordFile);
        const parsed = parseVaultFileText(vault.path);
        if (passphrase !== undefined && isVaultEnvelope(parsed)) await deriveEnvelopeKeysAhead(parsed, passphrase);
      } catch {
        // Reported by the read itself.
      }
    }),
  );
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
function tryEach(passphrases: readonly string[], open: (passphrase: string) => VaultFileContents): VaultFileContents | undefined {
  for (const passphrase of passphrases) {
    try {
      return open(passphrase);
    } catch (error) {
      if (!(error instanceof WrongVaultPassphraseError)) throw error;
    }
  }
  return undefined;
}
