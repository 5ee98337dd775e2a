import type { ShellCommand } from './sh.ts';

/** What one remote command did. */
export interface ExecResult {
  /** The command as shown (secrets masked). */
  readonly command: string;
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly durationMs: number;
}

/** Options for one command. */
export interface ExecOptions {
  /** Bytes written to the command's standard input, then closed. */
  readonly stdin?: string | Buffer;
}

/**
 * A command that runs for as long as its caller holds it (e.g. the holder of a lock): it is started, reports
 * its output as it comes, and ends when released (its stdin closes) or when the connection goes away, so the
 * kernel, not a guess, frees what it held when the controller dies.
 */
export interface HeldCommand {
  /** Settles when the command exits: its result, or a ConnectError when the connection went away first. */
  readonly exited: Promise<ExecResult>;
  /** Closes the command's stdin and waits for it to exit. */
  release(): Promise<void>;
}

/** Options for a held command. */
export interface HoldOptions {
  /** Called with each chunk of stdout, decoded, as it arrives. */
  readonly onStdout?: (text: string) => void;
}

/**
 * A way to run commands on one host: SSH, the local machine, or a recording one for tests.
 * Every command goes through `exec`, so it can be counted and recorded.
 *
 * @example
 * const result = await connection.exec(sh`cat ${path}`);
 */
export interface Connection {
  /** The host's name in the inventory. */
  readonly host: string;
  /** How many commands have been sent so far (the round trips of a run). */
  readonly commandCount: number;
  /** Runs one command through `/bin/sh` (as root when the host uses become). */
  exec(command: ShellCommand, options?: ExecOptions): Promise<ExecResult>;
  /** Starts a command held open until {@link HeldCommand.release} (or the connection's end); it counts as a command. */
  hold(command: ShellCommand, options?: HoldOptions): HeldCommand;
  /**
   * Connects anew after the host rebooted (a connection that cannot, such as a local one, has no such method):
   * throws while the host cannot be reached, keeping the connection as it was.
   */
  reopen?(): Promise<void>;
  close(): Promise<void>;
}
