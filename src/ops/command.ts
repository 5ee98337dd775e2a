import { ShellCommand } from '../connection/sh.ts';
import { PlayError } from '../errors.ts';
import { commandSucceedsProbe } from '../facts/command-status.ts';
import { pathProbe } from '../facts/file.ts';
import type { Probe } from '../facts/probe.ts';
import { reveal, Secret } from '../secret.ts';
import { task, type Op, type Plan, type Task, type TaskOptions } from './op.ts';

/**
 * A command to run, with the guards that say when it has nothing left to do.
 *
 * @example
 * const params: CommandParams = { cmd: sh`a2ensite mail`, creates: '/etc/apache2/sites-enabled/mail.conf' };
 */
export interface CommandParams extends TaskOptions {
  /** The command, built with `sh`; a non-zero exit fails the task. */
  readonly cmd: ShellCommand;
  /** A path the command creates: nothing is run when it exists. */
  readonly creates?: string;
  /** A path the command removes: nothing is run when it does not exist. */
  readonly removes?: string;
  /** A read-only check (it also runs in check mode): nothing is run when it exits 0. */
  readonly unless?: ShellCommand;
  /** Written to the command's standard input (a {@link Secret} never appears in output). */
  readonly stdin?: string | Secret;
  /**
   * What the command does, for its failure: `<failure> (exit N)` and the end of what it printed on stderr, in place
   * of the command itself (a long script that would bury its own error message).
   */
  readonly failure?: string;
}

function shortDisplay(command: ShellCommand): string {
  const line = command.display.split('\n')[0];
  return line.length > 60 ? `${line.slice(0, 59)}…` : line === command.display ? line : `${line} …`;
}

/**
 * A command run on the host: every time, or only while its guards (`creates`, `removes`, `unless`) say it
 * is still needed.
 *
 * @example
 * command({ cmd: sh`a2dissite 000-default`, removes: '/etc/apache2/sites-enabled/000-default.conf', notify: 'reload apache2' })
 * command({ cmd: sh`newaliases`, unless: sh`test /etc/aliases.db -nt /etc/aliases` })
 */
export function command(params: CommandParams): Task {
  if (!(params.cmd instanceof ShellCommand))
    throw new PlayError('command: cmd must be built with sh`…` (a ShellCommand)');
  if (params.unless !== undefined && !(params.unless instanceof ShellCommand))
    throw new PlayError('command: unless must be built with sh`…` (a ShellCommand)');
  for (const [key, path] of [
    ['creates', params.creates],
    ['removes', params.removes],
  ] as const) {
    if (path !== undefined && (typeof path !== 'string' || !path.startsWith('/')))
      throw new PlayError(`command: ${key} must be an absolute path, got ${JSON.stringify(path)}`);
  }
  const probes: Probe<unknown>[] = [];
  if (params.creates !== undefined) probes.push(pathProbe(params.creates));
  if (params.removes !== undefined) probes.push(pathProbe(params.removes));
  if (params.unless !== undefined) probes.push(commandSucceedsProbe(params.unless));
  const op: Op = {
    kind: 'command',
    title: `command ${shortDisplay(params.cmd)}`,
    probes: () => probes,
    async plan(context): Promise<Plan> {
      if (params.creates !== undefined && (await context.facts.get(pathProbe(params.creates))).type !== 'absent') {
        return { changed: false, reason: `${params.creates} exists (creates)` };
      }
      if (params.removes !== undefined && (await context.facts.get(pathProbe(params.removes))).type === 'absent') {
        return { changed: false, reason: `${params.removes} does not exist (removes)` };
      }
      if (params.unless !== undefined && (await context.facts.get(commandSucceedsProbe(params.unless)))) {
        return { changed: false, reason: 'unless check succeeded' };
      }
      return {
        changed: true,
        // A script of several lines is shown by its first: the whole of it is in --list-tasks' source line.
        summary: `run: ${params.cmd.display.includes('\n') ? `${params.cmd.display.split('\n')[0]} …` : params.cmd.display}`,
        // A secret given on stdin is the command's too: what the command prints of it is masked.
        steps: [
          {
            kind: 'exec',
            command: withStdinSecret(params.cmd, params.stdin),
            ...(params.stdin !== undefined ? { stdin: reveal(params.stdin) } : {}),
            ...(params.failure !== undefined ? { failure: params.failure } : {}),
          },
        ],
        diffs: [],
      };
    },
  };
  return task(op, params);
}

/** The command, carrying the secret given on its stdin among its own (for the run's mask table and its errors). */
function withStdinSecret(command: ShellCommand, stdin: string | Secret | undefined): ShellCommand {
  return stdin instanceof Secret
    ? new ShellCommand(command.text, command.display, [...command.secrets, stdin])
    : command;
}
