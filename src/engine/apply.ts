import { createHash, randomBytes } from 'node:crypto';
import { basename, dirname } from 'node:path';
import type { Connection, ExecResult } from '../connection/connection.ts';
import { sh, raw, joinCommands, type ShellCommand } from '../connection/sh.ts';
import { CommandError, type ErrorPlace } from '../errors.ts';
import type { Step, WriteStep } from '../ops/op.ts';

/** The exit code the write script uses when the op's `validate` command refuses the new content. */
export const VALIDATE_REFUSED = 97;

/** The exit code the write script uses when the content arrived incomplete (the connection dropped mid-write). */
export const CONTENT_INCOMPLETE = 98;

function timestamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
}

/**
 * The one command that writes a file atomically from its standard input: a temp file in the same
 * directory (left-overs of a killed run removed first), attributes, `validate`, optional backup, fsync, rename.
 *
 * @example
 * const command = writeCommand({ kind: 'write', path: '/etc/motd', content, mode: '0644' });
 */
export function writeCommand(step: WriteStep, now = new Date()): ShellCommand {
  const directory = dirname(step.path);
  const name = basename(step.path);
  const temp = `${directory}/.${name}.play-${randomBytes(4).toString('hex')}.tmp`;
  const lines: ShellCommand[] = [
    sh`set -e`,
    sh`t=${temp}; p=${step.path}`,
    sh`[ -d ${directory} ] || { echo "directory of $p does not exist" >&2; exit 1; }`,
    sh`rm -f -- ${directory}/.${name}.play-${raw('*')}.tmp`,
    sh`trap 'rm -f "$t"' EXIT`,
    sh`umask 077`,
    sh`cat > "$t"`,
    // A dropped connection ends stdin early and cat stops without error: never rename a partial file.
    sh`if [ "$(sha256sum < "$t" | cut -c1-64)" != ${createHash('sha256').update(step.content).digest('hex')} ]; then echo "the content of $p arrived incomplete" >&2; exit ${CONTENT_INCOMPLETE}; fi`,
  ];
  if (step.owner) lines.push(sh`chown ${step.owner} "$t"`);
  if (step.group) lines.push(sh`chgrp ${step.group} "$t"`);
  if (step.mode) lines.push(sh`chmod ${step.mode} "$t"`);
  if (step.validate) {
    lines.push(sh`if ! ${step.validate(temp)} >&2; then echo "validation refused the new content of $p" >&2; exit ${VALIDATE_REFUSED}; fi`);
  }
  if (step.backup) lines.push(sh`if [ -e "$p" ]; then cp -p "$p" "$p".${timestamp(now)}~; fi`);
  lines.push(sh`sync "$t" 2>/dev/null || true`, sh`mv -f "$t" "$p"`, sh`trap - EXIT`);
  return joinCommands(lines, '\n');
}

/**
 * Carries out a plan's steps on a host, in order; the first failing step throws a {@link CommandError}.
 *
 * @example
 * await applySteps(connection, plan.steps, { host: 'primary', task: 'motd' });
 */
export async function applySteps(connection: Connection, steps: readonly Step[], place: ErrorPlace): Promise<ExecResult[]> {
  const results: ExecResult[] = [];
  for (const [index, step] of steps.entries()) {
    const result =
      step.kind === 'write'
        ? await connection.exec(writeCommand(step), { stdin: step.content })
        : await connection.exec(step.command, step.stdin !== undefined ? { stdin: step.stdin } : {});
    results.push(result);
    if (result.exitCode !== 0) {
      const what = step.kind === 'write'
        ? result.exitCode === VALIDATE_REFUSED
          ? `validate refused the new ${step.path}`
          : result.exitCode === CONTENT_INCOMPLETE
            ? `the new ${step.path} arrived incomplete (connection dropped?)`
            : `writing ${step.path} failed`
        : (step.failure ?? 'command failed');
      const error = new CommandError(result, place, what, step.kind === 'write' || step.failure === undefined);
      // A write script renames the new file in only as its last command: its failure left the host as it was.
      error.hostUnchanged = index === 0 && step.kind === 'write';
      throw error;
    }
  }
  return results;
}
