import type { Connection, ExecOptions, ExecResult, HeldCommand, HoldOptions } from './connection.ts';
import type { ShellCommand } from './sh.ts';

/** One command a {@link RecordingConnection} saw. */
export interface RecordedCommand {
  readonly text: string;
  readonly stdin?: string;
}

/** Answers a command for a recording connection that has no real host behind it. */
export type Responder = (
  command: RecordedCommand,
) => Partial<Omit<ExecResult, 'command' | 'durationMs'>> | Promise<Partial<Omit<ExecResult, 'command' | 'durationMs'>>>;

/**
 * A connection for tests: records every command, and either passes it on to a real connection
 * (e.g. a {@link LocalConnection}) or answers it with a responder.
 *
 * @example
 * const recording = new RecordingConnection('web1', new LocalConnection('web1'));
 * // ... run the engine ...
 * expect(recording.commands.map((c) => c.text)).not.toContainEqual(expect.stringContaining('apt-get'));
 */
export class RecordingConnection implements Connection {
  readonly commands: RecordedCommand[] = [];
  closed = false;
  constructor(
    readonly host: string,
    private readonly target: Connection | Responder,
  ) {}

  get commandCount(): number {
    return this.commands.length;
  }

  async exec(command: ShellCommand, options: ExecOptions = {}): Promise<ExecResult> {
    const recorded: RecordedCommand = {
      text: command.text,
      ...(options.stdin !== undefined ? { stdin: options.stdin.toString() } : {}),
    };
    this.commands.push(recorded);
    if (typeof this.target !== 'function') return this.target.exec(command, options);
    const answer = await this.target(recorded);
    return { command: command.display, exitCode: 0, stdout: '', stderr: '', durationMs: 0, ...answer };
  }

  /** Records the command; a real target holds it, a responder's answer is its whole output (it exits at once). */
  hold(command: ShellCommand, options: HoldOptions = {}): HeldCommand {
    this.commands.push({ text: command.text });
    if (typeof this.target !== 'function') return this.target.hold(command, options);
    const responder = this.target;
    const exited = (async () => {
      const answer = await responder({ text: command.text });
      if (answer.stdout) options.onStdout?.(answer.stdout);
      return { command: command.display, exitCode: 0, stdout: '', stderr: '', durationMs: 0, ...answer };
    })();
    return { exited, release: async () => void (await exited.catch(() => undefined)) };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (typeof this.target !== 'function') await this.target.close();
  }
}
