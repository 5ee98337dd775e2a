import { ShellCommand, quote, sh } from '../connection/sh.ts';
import type { Probe, ProbeFamily } from './probe.ts';

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
  if (!isPresentType(type)) return { type: 'absent' };
  const linkTarget = type === 'link' ? lines.shift() : undefined;
  const stat = lines.shift() ?? '';
  const sha256 = type === 'file' ? lines.shift()?.trim() || undefined : undefined;
  return presentPathState(type, stat, sha256, linkTarget);
}

type PresentType = Exclude<PathState, { type: 'absent' }>['type'];

function isPresentType(type: string | undefined): type is PresentType {
  return type === 'file' || type === 'directory' || type === 'link' || type === 'other';
}

/** A present path's state from stat's `MODE OWNER GROUP` line, the file's sum and the link's target, if any. */
function presentPathState(
  type: PresentType,
  stat: string,
  sha256: string | undefined,
  linkTarget: string | undefined,
): PathState {
  const [mode = '', owner = '', group = ''] = stat.split(' ');
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
    id: { kind: 'path', subject: path, path },
    command: sh`p=${path}
if [ -L "$p" ]; then echo link; readlink "$p"; elif [ -f "$p" ]; then echo file; elif [ -d "$p" ]; then echo directory; elif [ -e "$p" ]; then echo other; else echo absent; exit 0; fi
stat -c '%a %U %G' "$p"
if [ -f "$p" ] && [ ! -L "$p" ]; then sha256sum < "$p" | cut -c1-64; fi`,
    parse: (output) => parsePathState(output.stdout),
    family: { kind: pathFamily, argument: path },
  };
}

/**
 * Many paths' states in one go: type tests are shell builtins, then one `stat` and one `sha256sum` for all
 * of them, and one `readlink` per symlink. Records are NUL-separated; sections end with an empty record.
 */
export const pathFamily: ProbeFamily<PathState> = {
  name: 'path',
  command(args) {
    const text = [
      `set -- ${args.map(quote).join(' ')}`,
      `for p do if [ -L "$p" ]; then t=link; elif [ -f "$p" ]; then t=file; elif [ -d "$p" ]; then t=directory; elif [ -e "$p" ]; then t=other; else t=absent; fi; printf '%s\\0' "$t"; done; printf '\\0'`,
      `stat --printf '%n\\0%a %U %G\\0' -- "$@" 2>/dev/null; printf '\\0'`,
      `for p do if [ -f "$p" ] && [ ! -L "$p" ]; then printf '%s\\0' "$p"; fi; done | xargs -0r sha256sum -z --; printf '\\0'`,
      `for p do if [ -L "$p" ]; then printf '%s\\0%s\\0' "$p" "$(readlink -- "$p")"; fi; done`,
    ].join('\n');
    return new ShellCommand(text, text);
  },
  parseAll(output, args) {
    const tokens = output.bytes.toString('utf8').split('\0');
    let at = 0;
    const section = (): string[] => {
      const items: string[] = [];
      while (at < tokens.length && tokens[at] !== '') items.push(tokens[at++]);
      at++;
      return items;
    };
    const types = section();
    const stats = new Map<string, string>();
    const statItems = section();
    for (let i = 0; i + 1 < statItems.length; i += 2) stats.set(statItems[i], statItems[i + 1]);
    const sums = new Map<string, string>();
    for (const item of section()) sums.set(item.slice(66), item.slice(0, 64));
    const targets = new Map<string, string>();
    const linkItems = tokens.slice(at);
    for (let i = 0; i + 1 < linkItems.length; i += 2) targets.set(linkItems[i], linkItems[i + 1]);
    return args.map((path, index) => {
      const type = types[index];
      if (!isPresentType(type)) return { type: 'absent' };
      return presentPathState(
        type,
        stats.get(path) ?? '',
        type === 'file' ? sums.get(path) : undefined,
        type === 'link' ? targets.get(path) : undefined,
      );
    });
  },
};

/**
 * The content of a regular file as bytes, or `undefined` when there is no such file.
 *
 * @example
 * const before = await facts.get(contentProbe('/etc/postfix/main.cf'));
 */
export function contentProbe(path: string): Probe<Buffer | undefined> {
  return {
    id: { kind: 'content', subject: path, path },
    command: sh`if [ -f ${path} ]; then cat ${path}; echo x; else exit 3; fi`,
    // The trailing "x" survives the shell's stripping of final newlines; it is cut off here.
    parse: (output) => (output.exitCode === 0 ? output.bytes.subarray(0, output.bytes.length - 1) : undefined),
  };
}
