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
  close(): Promise<void>;
}
