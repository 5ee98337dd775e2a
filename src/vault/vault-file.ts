import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ValidationError } from '../errors.ts';
import { writeOwnerOnlyFileAtomically } from './atomic-write.ts';
import { checkVaultValues, parseVaultValues, type VaultValues } from './contents.ts';
import { isVaultEnvelope, openVaultEnvelope, sealVaultText, type DerivedVaultKeys } from './envelope.ts';
import { SecretUnavailableError, VaultLockedError } from './errors.ts';
import { checkOwnerOnlyFile } from './owner-only-file.ts';
import { PassphraseSource } from './passphrase.ts';

/**
 * How a vault file is stored: an encrypted envelope, or (the old way, still read) a plain JSON object.
 *
 * @example
 * const format: VaultFormat = vaultFormat('inventory/smknh.vault'); // 'encrypted'
 */
export type VaultFormat = 'encrypted' | 'plain';

/**
 * A vault file read: its values, how it was stored, and the passphrase that opened it (when encrypted).
 *
 * @example
 * const contents: VaultFileContents = { values: { tsig_key: '…' }, format: 'encrypted', passphrase };
 */
export type VaultFileContents =
  | { readonly values: VaultValues; readonly format: 'encrypted'; readonly passphrase: string }
  | { readonly values: VaultValues; readonly format: 'plain' };

/**
 * Reads a vault file in either format. The file must exist and be its owner's only (mode 0600); an encrypted one
 * is opened with the passphrase `passphraseFor` returns, and is a {@link VaultLockedError} when it returns
 * undefined; keys in `derived` (made ahead for that passphrase) save running scrypt again. Every failure is a
 * ValidationError naming the file (exit code 2) and quoting no secret.
 *
 * @example
 * const { values, format } = readVaultFile(path, () => passphrases.known(path));
 */
export function readVaultFile(
  path: string,
  passphraseFor: () => string | undefined,
  derived?: DerivedVaultKeys,
): VaultFileContents {
  const parsed = readVaultJson(path);
  if (!isVaultEnvelope(parsed)) return { values: checkVaultValues(path, parsed), format: 'plain' };
  const passphrase = passphraseFor();
  if (passphrase === undefined) throw new VaultLockedError(path);
  return {
    values: parseVaultValues(path, openVaultEnvelope(path, parsed, passphrase, derived)),
    format: 'encrypted',
    passphrase,
  };
}

/**
 * How a vault file is stored, read from the file itself (after the same owner and mode checks as a read).
 *
 * @example
 * if (vaultFormat(path) === 'plain') console.error(`encrypt it: play vault encrypt ${path}`);
 */
export function vaultFormat(path: string): VaultFormat {
  return isVaultEnvelope(readVaultJson(path)) ? 'encrypted' : 'plain';
}

/** The parsed JSON of a vault file that exists and is its owner's only. */
function readVaultJson(path: string): unknown {
  if (!existsSync(path))
    throw new SecretUnavailableError(`vault ${path} does not exist: create it with \`play vault create ${path}\``);
  checkOwnerOnlyFile(path, 'vault');
  const text = readFileSync(path, 'utf8');
  try {
    return JSON.parse(text);
  } catch {
    // The message and the shape come from the same parser the values use; it never quotes the text.
    return parseVaultValues(path, text);
  }
}

/**
 * Reads a vault's secrets, in either format (see {@link readVaultFile}). Without a passphrase, an encrypted vault
 * is opened with the one in `PLAY_VAULT_PASSWORD_FILE`. No warning is printed for a plain-text vault here;
 * `openVault` warns.
 *
 * @example
 * const values = readVault('inventory/smknh.vault', passphrase); // { tsig_key: '…', … }
 */
export function readVault(path: string, passphrase?: string): VaultValues {
  return readVaultFile(path, () => passphrase ?? new PassphraseSource().known(path)).values;
}

/**
 * Writes secrets as an encrypted vault: AES-256-GCM under a key scrypt derives from the passphrase, a fresh salt
 * and IV each time, mode 0600, atomically (a temporary file in the same folder, flushed, then renamed). Missing
 * folders are made with mode 0700. Values must be non-empty strings (a ValidationError otherwise, nothing
 * written).
 *
 * @example
 * writeVault('inventory/smknh.vault', { tsig_key: randomBytes(32).toString('base64') }, passphrase);
 */
export function writeVault(path: string, values: Readonly<VaultValues>, passphrase: string): void {
  if (passphrase === '')
    throw new ValidationError(`vault ${path}: an empty passphrase protects nothing: nothing written`);
  const text = sealVaultText(JSON.stringify(checkVaultValues(path, values)), passphrase);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeOwnerOnlyFileAtomically(path, text);
}

/**
 * Writes secrets as a plain-text vault (pretty JSON), mode 0600, atomically. Only for vaults already stored so,
 * which play keeps in their own format; new vaults should be encrypted with {@link writeVault}.
 *
 * @example
 * writePlainVault(path, values);
 */
export function writePlainVault(path: string, values: Readonly<VaultValues>): void {
  const text = `${JSON.stringify(checkVaultValues(path, values), null, 2)}\n`;
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeOwnerOnlyFileAtomically(path, text);
}

/**
 * Writes secrets back in the format the vault was read in: encrypted with the same passphrase, or plain text.
 *
 * @example
 * writeVaultFile(path, { ...contents, values: { ...contents.values, tsig_key: newKey } });
 */
export function writeVaultFile(path: string, contents: VaultFileContents): void {
  if (contents.format === 'encrypted') writeVault(path, contents.values, contents.passphrase);
  else writePlainVault(path, contents.values);
}
