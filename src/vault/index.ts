/**
 * `play/vault`: files of named secrets, encrypted, and the secrets a site makes for itself (random values, SSH
 * keys, self-signed certificates). The engine (`play`) needs none of it: an inventory opens a vault here and hands
 * its secrets to the engine as `Secret` values.
 *
 * @example
 * import { openVault } from 'play/vault';
 * const vault = openVault('inventory/smknh.vault');
 * vars: { tsigKey: vault.secret('tsig_key', { base64Bytes: 32 }) }
 */
export {
  openVault,
  vaultsUsedBy,
  readVault,
  writeVault,
  vaultFormat,
  FileVault,
  VaultSession,
  SecretUnavailableError,
  VaultLockedError,
  WrongVaultPassphraseError,
  TamperedVaultError,
  type Vault,
  type VaultOptions,
  type VaultValues,
  type VaultFormat,
  type SecretShape,
  type UnlockOptions,
  type VaultSessionOptions,
} from '../vault.ts';
export { randomSecret } from './random-secret.ts';
export {
  askNewPassphrase,
  canAskHidden,
  readVaultPasswordFile,
  PassphraseSource,
  type PromptStreams,
  type VaultPasswordFile,
} from './passphrase.ts';
export { selfSignedCertificate, certificateProblems, type CertificatePair } from './certificate.ts';
export { generateSshKey, sshPublicKeyLine } from './ssh-key.ts';
