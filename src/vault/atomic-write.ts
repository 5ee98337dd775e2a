import { randomBytes } from 'node:crypto';
import { closeSync, fchmodSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Replaces a file atomically with text readable by its owner only: written to a temporary file in the same folder
 * (mode 0600 from the first byte), flushed to disk, then renamed over the file, and the folder flushed too. A
 * reader sees the old file or the new one, never half of one; a failed write leaves the old file and no temporary.
 * `beforeRename` sees the temporary file's path (tests check its mode).
 *
 * @example
 * writeOwnerOnlyFileAtomically('/etc/play/smknh.vault', envelopeText);
 */
export function writeOwnerOnlyFileAtomically(
  path: string,
  text: string,
  beforeRename?: (tempPath: string) => void,
): void {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const fd = openSync(temp, 'wx', 0o600);
    try {
      // The umask can only take bits away, but a file made by someone else's umask must not keep more.
      fchmodSync(fd, 0o600);
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    beforeRename?.(temp);
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
  syncFolder(dirname(path));
}

/** Flushes a folder's entries, so that the rename survives a crash; some file systems refuse, which is fine. */
function syncFolder(folder: string): void {
  try {
    const fd = openSync(folder, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Not every file system lets a folder be fsynced; the rename itself is still atomic.
  }
}
