import { createHash, randomBytes } from 'node:crypto';
import { basename, dirname } from 'node:path';
import type { Connection, ExecResult } from '../connection/connection.ts';
import { sh, raw, joinCommands, ShellCommand } from '../connection/sh.ts';
import { CommandError, type ConnectError, type ErrorPlace } from '../errors.ts';
import { MaskTable } from '../mask-table.ts';
import { REMOTE_EXIT, REMOTE_MARKER } from '../remote/protocol.ts';
import type { Step, WriteStep } from '../ops/op.ts';
import { rebootHost } from './reboot.ts';

function timestamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
}

/**
 * The commands that put one file in place, with each failure handed to `fail(code)` (a shell fragment that ends
 * the script): the directory must exist; the content is read from stdin into a temp file beside the target
 * (exactly `length` bytes with `dd`, which also fsyncs it) and checked by sha256 (a dropped connection ends stdin
 * early: a partial file is never renamed in); then owner, group and mode, `validate`, the optional backup, and the
 * rename. Few processes per file (dd, sha256sum, chown, chmod, mv), so a batch of many files stays fast.
 */
function writeBody(step: WriteStep, temp: string, now: Date, fail: (code: number) => ShellCommand): ShellCommand[] {
  const directory = dirname(step.path);
  const sha = createHash('sha256').update(step.content).digest('hex');
  const lines: ShellCommand[] = [
    sh`t=${temp}; p=${step.path}`,
    sh`[ -d ${directory} ] || { echo "directory of $p does not exist" >&2; ${fail(1)}; }`,
    // count_bytes: exactly this file's bytes, also when others follow on stdin; fullblock: whatever the pipe gives.
    sh`dd of="$t" bs=65536 count=${step.content.length} iflag=count_bytes,fullblock conv=fsync status=none || { rm -f "$t"; ${fail(1)}; }`,
    sh`s=$(sha256sum < "$t"); [ "\${s%% *}" = ${sha} ] || { rm -f "$t"; echo "the content of $p arrived incomplete" >&2; ${fail(REMOTE_EXIT.contentIncomplete)}; }`,
  ];
  const owner =
    step.owner && step.group
      ? `${step.owner}:${step.group}`
      : (step.owner ?? (step.group ? `:${step.group}` : undefined));
  if (owner) lines.push(sh`chown ${owner} "$t" || { rm -f "$t"; ${fail(1)}; }`);
  if (step.mode) lines.push(sh`chmod ${step.mode} "$t" || { rm -f "$t"; ${fail(1)}; }`);
  if (step.validate) {
    // In braces: a validate that is a list (`a; b`, `a && b`) is negated and redirected as a whole.
    lines.push(sh`if ! { ${step.validate(temp)}
} >&2; then rm -f "$t"; echo "validation refused the new content of $p" >&2; ${fail(REMOTE_EXIT.validateRefused)}; fi`);
  }
  if (step.backup)
    lines.push(sh`if [ -e "$p" ]; then cp -p "$p" "$p".${timestamp(now)}~ || { rm -f "$t"; ${fail(1)}; }; fi`);
  lines.push(sh`mv -f "$t" "$p" || { rm -f "$t"; ${fail(1)}; }`);
  return lines;
}

/** The temp files a killed write of this path may have left, as an unquoted glob (the path's own part quoted). */
const leftoverGlob = (path: string) => sh`${dirname(path)}/.${basename(path)}.play-${raw('*')}.tmp`;

const tempBeside = (path: string) => `${dirname(path)}/.${basename(path)}.play-${randomBytes(4).toString('hex')}.tmp`;

/**
 * The one command that writes a file atomically from its standard input: a temp file in the same
 * directory (left-overs of a killed run removed first), attributes, `validate`, optional backup, fsync, rename.
 *
 * @example
 * const command = writeCommand({ kind: 'write', path: '/etc/motd', content, mode: '0644' });
 */
export function writeCommand(step: WriteStep, now = new Date()): ShellCommand {
  return joinCommands(
    [
      sh`umask 077`,
      sh`rm -f -- ${leftoverGlob(step.path)}`,
      ...writeBody(step, tempBeside(step.path), now, (code) => sh`exit ${code}`),
    ],
    '\n',
  );
}

/**
 * One command that writes several files, in order, each exactly as {@link writeCommand} does (temp file, sha256,
 * attributes, validate, backup, fsync, rename): their contents follow one another on stdin. The first write that
 * fails stops the batch; the ones before it are in place, the ones after it untouched, so every file is either
 * its old or its new version, also when the connection drops mid-way.
 *
 * @example
 * const { command, stdin } = writeBatchCommand(steps);
 */
export function writeBatchCommand(
  steps: readonly WriteStep[],
  now = new Date(),
): { command: ShellCommand; stdin: Buffer; contentOffset: number } {
  // The controller may go away mid-way: the write under way finishes or fails on its own (its content check).
  const lines: ShellCommand[] = [sh`trap '' PIPE HUP`, sh`umask 077`];
  // Left-overs of a killed run, of these files only (another host's run may share a folder), in one command.
  lines.push(joinCommands([sh`rm -f --`, ...steps.map((s) => leftoverGlob(s.path))], ' '));
  steps.forEach((step, index) => {
    lines.push(
      ...writeBody(
        step,
        tempBeside(step.path),
        now,
        (code) => sh`echo ${REMOTE_MARKER.writeFailed} ${index} ${code} >&2; exit ${code}`,
      ),
      sh`echo ${REMOTE_MARKER.writeDone} ${index}`,
    );
  });
  // The script itself goes first on stdin, not as the command: a batch of many files is larger than the 128 KiB
  // one argument of `sh -c` may be. The command reads exactly the script's bytes, then runs it on the rest.
  // A script cut short (the connection gone) is never run: its sha256 is checked first.
  const script = Buffer.from(joinCommands(lines, '\n').text.replace(/\n+$/, ''));
  const sha = createHash('sha256').update(script).digest('hex');
  const run = sh`${raw(REMOTE_MARKER.writeBatch)}\ns=$(dd bs=65536 count=${script.length} iflag=count_bytes,fullblock status=none) && [ "$(printf '%s' "$s" | sha256sum | cut -c1-64)" = ${sha} ] || { echo 'the write batch arrived incomplete' >&2; exit ${REMOTE_EXIT.contentIncomplete}; }\neval "$s"`;
  return {
    // The script's secrets (a validate command's) are the command's: an error masks them.
    command: new ShellCommand(
      run.text,
      run.display,
      lines.flatMap((line) => line.secrets),
    ),
    stdin: Buffer.concat([script, ...steps.map((s) => s.content)]),
    contentOffset: script.length,
  };
}

/** What a write batch did: how many of its writes are in place, and the error of the one that failed. */
export interface WriteBatchResult {
  readonly done: number;
  readonly error?: CommandError;
}

/**
 * Writes a batch of files in one round trip ({@link writeBatchCommand}); `places` names each write's task for
 * its error. A connection lost mid-way throws (which writes are in place is then unknown: each is old or new).
 */
export async function applyWriteBatch(
  connection: Connection,
  steps: readonly WriteStep[],
  places: readonly ErrorPlace[],
): Promise<WriteBatchResult> {
  const { command, stdin } = writeBatchCommand(steps);
  const result = await connection.exec(command, { stdin });
  if (result.exitCode === 0) return { done: steps.length };
  // The writes in place are those that said so (a script cut short by a syntax error or a signal says no more).
  const index = result.stdout.split('\n').filter((line) => line.startsWith(`${REMOTE_MARKER.writeDone} `)).length;
  const step = steps[Math.min(index, steps.length - 1)];
  const stderr = result.stderr.replace(new RegExp(`^${REMOTE_MARKER.writeFailed} .*\\n?`, 'm'), '');
  const what =
    result.exitCode === REMOTE_EXIT.validateRefused
      ? `validate refused the new ${step.path}`
      : result.exitCode === REMOTE_EXIT.contentIncomplete
        ? `the new ${step.path} arrived incomplete (connection dropped?)`
        : `writing ${step.path} failed`;
  const masks = new MaskTable().addSecretsIn(command.secrets);
  const error = new CommandError({ ...result, stderr }, places[Math.min(index, steps.length - 1)], what, false, masks);
  // A write script renames its file in only as its last command: its failure left that file as it was.
  error.hostUnchanged = true;
  return { done: index, error };
}

/**
 * Carries out a plan's steps on a host, in order; the first failing step throws a {@link CommandError} (a reboot
 * whose host does not come back, a {@link ConnectError}).
 *
 * @example
 * await applySteps(connection, plan.steps, { host: 'primary', task: 'motd' });
 */
export async function applySteps(
  connection: Connection,
  steps: readonly Step[],
  place: ErrorPlace,
): Promise<ExecResult[]> {
  const results: ExecResult[] = [];
  for (const [index, step] of steps.entries()) {
    if (step.kind === 'reboot') {
      results.push(...(await rebootHost(connection, step, place)));
      continue;
    }
    const command = step.kind === 'write' ? writeCommand(step) : step.command;
    const stdin = step.kind === 'write' ? step.content : step.stdin;
    const result = await connection.exec(command, stdin !== undefined ? { stdin } : {});
    results.push(result);
    if (result.exitCode !== 0) {
      const what =
        step.kind === 'write'
          ? result.exitCode === REMOTE_EXIT.validateRefused
            ? `validate refused the new ${step.path}`
            : result.exitCode === REMOTE_EXIT.contentIncomplete
              ? `the new ${step.path} arrived incomplete (connection dropped?)`
              : `writing ${step.path} failed`
          : (step.failure ?? 'command failed');
      // What the command prints may quote what it was given: its own secrets are masked in the error.
      const masks = new MaskTable().addSecretsIn(command.secrets);
      const error = new CommandError(result, place, what, step.kind === 'write' || step.failure === undefined, masks);
      // A write script renames the new file in only as its last command: its failure left the host as it was. An
      // exec step says which of its exit codes mean the same.
      error.hostUnchanged =
        index === 0 &&
        (step.kind === 'write' ||
          (result.exitCode !== null && (step.unchangedExitCodes?.includes(result.exitCode) ?? false)));
      throw error;
    }
  }
  return results;
}

/** One task's planned change: its steps, and where an error in them is placed. */
export interface PlannedChange {
  readonly steps: readonly Step[];
  readonly place: ErrorPlace;
}

/** What {@link applyChanges} did: how many changes are wholly in place, and the error that stopped the next one. */
export interface AppliedChanges {
  readonly done: number;
  readonly error?: unknown;
}

/**
 * Carries out tasks' changes on a host, in order, stopping at the first that fails: every change is either made
 * or not started, except the failing one (its error's `hostUnchanged` says whether it left the host as it was).
 * Two or more changes that are all whole-file writes travel in one round trip ({@link applyWriteBatch}); the
 * caller never needs to know which way they went.
 *
 * @example
 * const { done, error } = await applyChanges(connection, [{ steps: plan.steps, place }]);
 */
export async function applyChanges(connection: Connection, changes: readonly PlannedChange[]): Promise<AppliedChanges> {
  const writesOnly = changes.every((change) => change.steps.every((step) => step.kind === 'write'));
  if (changes.length >= 2 && writesOnly) {
    const steps = changes.flatMap((change) => change.steps as WriteStep[]);
    const places = changes.flatMap((change) => change.steps.map(() => change.place));
    let written: WriteBatchResult;
    try {
      written = await applyWriteBatch(connection, steps, places);
    } catch (error) {
      return { done: 0, error };
    }
    // The changes wholly in place: their steps all before the first write that failed.
    let done = 0;
    let stepsDone = 0;
    for (const change of changes) {
      if (stepsDone + change.steps.length > written.done) break;
      stepsDone += change.steps.length;
      done++;
    }
    return done === changes.length ? { done } : { done, error: written.error };
  }
  for (const [index, change] of changes.entries()) {
    try {
      await applySteps(connection, change.steps, change.place);
    } catch (error) {
      return { done: index, error };
    }
  }
  return { done: changes.length };
}
