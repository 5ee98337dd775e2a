import type { ShellCommand } from '../connection/sh.ts';
import { contentProbe, pathProbe } from '../facts/file.ts';
import { PlayError } from '../errors.ts';
import { normalizeMode, planFile, type FileAttributes } from './managed-file.ts';
import { task, type Op, type Task, type TaskOptions } from './op.ts';

/** One line's wanted state in a file the op does not otherwise own. */
export interface LineParams extends FileAttributes, TaskOptions {
  readonly path: string;
  /**
   * The line (without its newline). Required for `present`. A function is called only when the task is
   * planned: for a line derived from a secret (a public key from its private key), which `--list-tasks` must
   * not open.
   */
  readonly line?: string | (() => string);
  /** The line to replace (the last match) or, with `absent`, the lines to remove. */
  readonly regexp?: RegExp;
  readonly state?: 'present' | 'absent';
  /** Where a new line goes: after the last line matching this (default: at the end). */
  readonly insertAfter?: RegExp;
  /** Create the file when it does not exist (default false: a missing file is an error). */
  readonly create?: boolean;
  readonly validate?: (tempPath: string) => ShellCommand;
  readonly backup?: boolean;
}

/**
 * The text of a file after ensuring one line, or `undefined` when nothing changes. Pure, for tests.
 *
 * @example
 * editLines('a=1\n', { line: 'a=2', regexp: /^a=/ }) // 'a=2\n'
 */
export function editLines(
  text: string,
  params: Pick<LineParams, 'regexp' | 'state' | 'insertAfter'> & { line?: string },
): string | undefined {
  const endsWithNewline = text === '' || text.endsWith('\n');
  const lines = text === '' ? [] : text.replace(/\n$/, '').split('\n');
  // A copy without the g/y flags: their `lastIndex` would make `test` skip lines and differ between calls.
  const regexp = params.regexp && new RegExp(params.regexp.source, params.regexp.flags.replace(/[gy]/g, ''));
  const matches = (l: string) => (regexp ? regexp.test(l) : l === params.line);
  if (params.state === 'absent') {
    const kept = lines.filter((l) => !matches(l));
    if (kept.length === lines.length) return undefined;
    return kept.length ? `${kept.join('\n')}\n` : '';
  }
  const line = params.line as string;
  const lastMatch = lines.findLastIndex((l) => matches(l));
  if (lastMatch >= 0) {
    if (lines[lastMatch] === line) return undefined;
    lines[lastMatch] = line;
  } else if (lines.includes(line)) {
    return undefined;
  } else {
    const after =
      params.insertAfter && new RegExp(params.insertAfter.source, params.insertAfter.flags.replace(/[gy]/g, ''));
    const anchor = after ? lines.findLastIndex((l) => after.test(l)) : -1;
    if (anchor >= 0) lines.splice(anchor + 1, 0, line);
    else lines.push(line);
  }
  return lines.join('\n') + (endsWithNewline || lastMatch < 0 ? '\n' : '');
}

/**
 * A line present in (or absent from) a file: replaces the last line matching `regexp`, else adds it.
 *
 * @example
 * line({ path: '/etc/default/isc-dhcp-server', regexp: /^INTERFACESv4=/, line: 'INTERFACESv4="eth0"' })
 */
export function line(params: LineParams): Task {
  const mode = normalizeMode(params.mode, `line ${params.path}`);
  if (params.state !== 'absent' && params.line === undefined)
    throw new PlayError(`line ${params.path}: line is required`);
  const wanted = (): string | undefined => {
    const value = typeof params.line === 'function' ? params.line() : params.line;
    if (value?.includes('\n')) throw new PlayError(`line ${params.path}: line must not contain a newline`);
    return value;
  };
  if (typeof params.line === 'string') wanted();
  const op: Op = {
    kind: 'line',
    title: `line in ${params.path}`,
    probes: () => [pathProbe(params.path), contentProbe(params.path)],
    async plan(context) {
      const current = await context.facts.get(contentProbe(params.path));
      // A line absent from a missing file is already absent (create: true must not make an empty file).
      if (current === undefined && params.state === 'absent')
        return { changed: false, reason: `${params.path} does not exist` };
      if (current === undefined && !params.create) {
        if (context.earlierChangesPending) {
          return {
            changed: true,
            summary: `edit ${params.path} (once an earlier change creates it)`,
            steps: [],
            diffs: [],
          };
        }
        throw new PlayError(`${params.path} does not exist (set create: true to create it)`);
      }
      const text = current?.toString('utf8') ?? '';
      const edited = editLines(text, { ...params, line: wanted() });
      if (edited === undefined && current !== undefined) {
        return planFile({ ...params, mode, content: current }, context);
      }
      return planFile({ ...params, mode, content: Buffer.from(edited ?? text) }, context);
    },
  };
  return task(op, params);
}
