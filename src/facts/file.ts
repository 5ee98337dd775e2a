import { sh } from '../connection/sh.ts';
import type { Probe } from './probe.ts';

/** What a path is on a host, with its mode, owner, group and (for a regular file) the sha256 of its content. */
export type PathState =
  | { readonly type: 'absent' }
  | {
      readonly type: 'file' | 'directory' | 'link' | 'other';
      /** Four octal digits, e.g. `'0644'`. */
      readonly mode: string;
      readonly owner: string;
      readonly group: string;
      readonly sha256?: string;
      readonly linkTarget?: string;
    };

/** Turns the output of {@link pathProbe}'s command into a {@link PathState}. */
export function parsePathState(stdout: string): PathState {
  const lines = stdout.split('\n');
  const type = lines.shift() as string;
  if (type !== 'file' && type !== 'directory' && type !== 'link' && type !== 'other') return { type: 'absent' };
  const linkTarget = type === 'link' ? lines.shift() : undefined;
  const [mode = '', owner = '', group = ''] = (lines.shift() ?? '').split(' ');
  const sha256 = type === 'file' ? lines.shift()?.trim() || undefined : undefined;
  return {
    type,
    mode: mode.padStart(4, '0'),
    owner,
    group,
    ...(sha256 ? { sha256 } : {}),
    ...(linkTarget !== undefined ? { linkTarget } : {}),
  };
}

/**
 * The state of a path (not following a final symlink).
 *
 * @example
 * const state = await facts.get(pathProbe('/etc/bind/named.conf.local'));
 * if (state.type === 'file') state.sha256
 */
export function pathProbe(path: string): Probe<PathState> {
  return {
    key: `path:${path}`,
    command: sh`p=${path}
if [ -L "$p" ]; then echo link; readlink "$p"; elif [ -f "$p" ]; then echo file; elif [ -d "$p" ]; then echo directory; elif [ -e "$p" ]; then echo other; else echo absent; exit 0; fi
stat -c '%a %U %G' "$p"
if [ -f "$p" ] && [ ! -L "$p" ]; then sha256sum < "$p" | cut -c1-64; fi`,
    parse: (output) => parsePathState(output.stdout),
  };
}

/**
 * The content of a regular file as bytes, or `undefined` when there is no such file.
 *
 * @example
 * const before = await facts.get(contentProbe('/etc/postfix/main.cf'));
 */
export function contentProbe(path: string): Probe<Buffer | undefined> {
  return {
    key: `content:${path}`,
    command: sh`if [ -f ${path} ]; then cat ${path}; echo x; else exit 3; fi`,
    // The trailing "x" survives the shell's stripping of final newlines; it is cut off here.
    parse: (output) => (output.exitCode === 0 ? output.bytes.subarray(0, output.bytes.length - 1) : undefined),
  };
}
