import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';

/** Mode of a path as four octal digits. */
export function modeOf(path: string): string {
  return (statSync(path).mode & 0o7777).toString(8).padStart(4, '0');
}

/** `owner:group` of a path. */
export function ownerOf(path: string): string {
  return execFileSync('stat', ['-c', '%U:%G', path], { encoding: 'utf8' }).trim();
}
