import { joinCommands, sh, type ShellCommand } from '../connection/sh.ts';
import type { Probe } from '../facts/probe.ts';
import { makeStateDir, type HostStatePaths } from './host-state.ts';

/** A handler a run notified on a host and that has not yet run there successfully. */
export interface PendingHandler {
  readonly play: string;
  readonly handler: string;
}

/** One journal line: the entry as JSON, so any name (quotes, tabs) fits on one line and matches exactly. */
export function journalLine(entry: PendingHandler): string {
  return JSON.stringify({ play: entry.play, handler: entry.handler });
}

/**
 * Reads a journal's lines; lines that are not entries (a torn write, a hand edit) are skipped.
 *
 * @example
 * parseJournal('{"play":"site","handler":"reload postfix"}\n') // [{ play: 'site', handler: 'reload postfix' }]
 */
export function parseJournal(text: string): PendingHandler[] {
  const entries: PendingHandler[] = [];
  for (const line of text.split('\n')) {
    try {
      const parsed = JSON.parse(line) as Partial<PendingHandler>;
      if (typeof parsed.play === 'string' && typeof parsed.handler === 'string')
        entries.push({ play: parsed.play, handler: parsed.handler });
    } catch {
      // Not an entry.
    }
  }
  return entries;
}

/**
 * The fact: the handlers still pending on the host (an empty list when there is no journal). It travels with the
 * first probes of a run, so a run with nothing pending and nothing to change costs no extra round trip.
 */
export function pendingHandlersProbe(paths: HostStatePaths): Probe<PendingHandler[]> {
  return {
    id: { kind: 'pending-handlers', subject: paths.pendingHandlers },
    command: sh`if [ -f ${paths.pendingHandlers} ]; then cat ${paths.pendingHandlers}; fi`,
    parse: (output) => parseJournal(output.stdout),
  };
}

/**
 * The command that records handlers as pending, each once, with an fsync: run before the change that notifies
 * them, so a run that dies after the change still leaves them owed.
 *
 * @example
 * await connection.exec(recordPendingCommand(paths, [{ play: 'site', handler: 'reload postfix' }]));
 */
export function recordPendingCommand(paths: HostStatePaths, entries: readonly PendingHandler[]): ShellCommand {
  return joinCommands(
    [
      sh`set -e`,
      makeStateDir(paths),
      sh`touch ${paths.pendingHandlers}`,
      ...entries.map(
        (e) =>
          sh`grep -qxF -- ${journalLine(e)} ${paths.pendingHandlers} || printf '%s\n' ${journalLine(e)} >> ${paths.pendingHandlers}`,
      ),
      sh`sync ${paths.pendingHandlers} 2>/dev/null || true`,
    ],
    '\n',
  );
}

/**
 * The command that strikes a handler from the journal once it has run: the rest is rewritten to a temp file
 * and renamed over the journal, so a killed run leaves the old journal or the new one.
 */
export function clearPendingCommand(paths: HostStatePaths, entry: PendingHandler): ShellCommand {
  const temp = `${paths.pendingHandlers}.tmp`;
  return joinCommands(
    [
      sh`[ -f ${paths.pendingHandlers} ] || exit 0`,
      sh`grep -vxF -- ${journalLine(entry)} ${paths.pendingHandlers} > ${temp} || true`,
      sh`sync ${temp} 2>/dev/null || true`,
      sh`mv -f ${temp} ${paths.pendingHandlers}`,
    ],
    '\n',
  );
}
