import type { Connection, ExecOptions, ExecResult, HeldCommand, HoldOptions } from './connection.ts';
import type { ShellCommand } from './sh.ts';

/**
 * A host's connection that can be opened anew when the host rebooted under it, keeping one identity: the fact
 * cache and the plays that hold it go on using it. Its command count is that of every connection it has had.
 *
 * @example
 * const connection = new ReopenableConnection(await connect('backup'), () => connect('backup'));
 * await connection.reopen();
 */
export class ReopenableConnection implements Connection {
  private earlierCommands = 0;
  constructor(
    private current: Connection,
    private readonly open: () => Promise<Connection>,
    /** Called after each reopen (what lived on the host's last boot, such as the run lock, is gone). */
    private readonly onReopen: () => void = () => undefined,
  ) {}

  get host(): string {
    return this.current.host;
  }

  get commandCount(): number {
    return this.earlierCommands + this.current.commandCount;
  }

  exec(command: ShellCommand, options?: ExecOptions): Promise<ExecResult> {
    return this.current.exec(command, options);
  }

  hold(command: ShellCommand, options?: HoldOptions): HeldCommand {
    return this.current.hold(command, options);
  }

  /** Closes the connection (what it was) and opens a new one; throws what opening threw, keeping the old one. */
  async reopen(): Promise<void> {
    const next = await this.open();
    const previous = this.current;
    this.earlierCommands += previous.commandCount;
    this.current = next;
    await previous.close().catch(() => undefined);
    this.onReopen();
  }

  close(): Promise<void> {
    return this.current.close();
  }
}
