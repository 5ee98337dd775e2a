/**
 * The protocol between play and a host: the exit codes play's own scripts end with and the marker lines they
 * print. Every code and every marker is defined here and nowhere else, and each has one meaning, so a failure's
 * exit code alone says what happened and whether the host was left as it was. What play keeps on a host between
 * runs is in this folder too: where it lives (`host-state.ts`), the run lock (`host-lock.ts`) and the journal of
 * handlers owed (`handler-journal.ts`).
 */

/** Exit codes of play's own scripts on a host. */
export const REMOTE_EXIT = {
  /** A file's `validate` command refused the new content: the file was not renamed in. */
  validateRefused: 97,
  /** The content (or a write batch's script) arrived incomplete, e.g. the connection dropped: nothing renamed in. */
  contentIncomplete: 98,
  /** `--no-wait`: another run holds the host's lock; this run changed nothing. */
  lockBusy: 75,
  /** A config set's check refused the staged set: nothing live was touched. */
  setRefused: 93,
  /** A config set could not be staged (a full disk, a copy error): nothing live was touched. */
  setNotStaged: 94,
  /** A config set failed its activation or health probe; the previous files are back and `restore` succeeded. */
  setRolledBack: 96,
  /** As {@link REMOTE_EXIT.setRolledBack}, but `restore` failed too: the service needs a person. */
  setRestoreFailed: 95,
} as const;

/**
 * The exit codes of a config set's script after which the host is as it was before the set (a handler the set
 * notified is owed nothing).
 */
export const SET_LEFT_HOST_UNCHANGED: readonly number[] = [
  REMOTE_EXIT.setRefused,
  REMOTE_EXIT.setNotStaged,
  REMOTE_EXIT.setRolledBack,
];

/** Marker lines: the first line of play's own scripts, so recordings and `ps` tell them apart, and their reports. */
export const REMOTE_MARKER = {
  /** Opens every batched probe script. */
  probe: ': play-probe',
  /** Opens every write batch. */
  writeBatch: ': play-write-batch',
  /** A write batch prints `<this> INDEX` on stdout once that write is in place. */
  writeDone: 'play-write-done',
  /** A write batch prints `<this> INDEX CODE` on stderr when that write failed. */
  writeFailed: 'play-write-batch-failed',
} as const;
