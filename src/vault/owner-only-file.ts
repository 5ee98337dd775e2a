import { statSync } from 'node:fs';
import { ValidationError } from '../errors.ts';

/**
 * Refuses a file that others could read or change, or that belongs to someone else: a vault's secrets, or the
 * passphrase that opens them, would not be secret, or not the owner's. `what` names the file in the message.
 *
 * @example
 * checkOwnerOnlyFile('/etc/play/smknh.vault', 'vault');
 * checkOwnerOnlyFile('~/.play-vault-pass', 'vault password file');
 */
export function checkOwnerOnlyFile(path: string, what: string): void {
  const stat = statSync(path);
  if ((stat.mode & 0o077) !== 0) {
    const mode = (stat.mode & 0o777).toString(8).padStart(4, '0');
    throw new ValidationError(
      `${what} ${path} is open to others (mode ${mode}): only its owner may read it (chmod 600 ${path})`,
    );
  }
  const uid = process.getuid?.();
  if (uid !== undefined && stat.uid !== uid) {
    throw new ValidationError(
      `${what} ${path} belongs to uid ${stat.uid}, not to uid ${uid} who runs play: chown it, or run play as its owner`,
    );
  }
}
