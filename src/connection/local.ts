import { spawn } from 'node:child_process';
import type { Connection, ExecOptions, ExecResult, HeldCommand, HoldOptions } from './connection.ts';
import type { ShellCommand } from './sh.ts';
import { becomeRoot } from './become.ts';

/**
 * Runs commands on the controller itself through `/bin/sh` (the inventory's `connection: 'local'`).
 *
 * @example
 * const local = new LocalConnection('localhost');
 * await local.exec(sh`uname -n`);
 */
export class LocalConnection implements Connection {
  commandCount = 0;
  constructor(
    readonly host: string,
    private readonly become = false,
  ) {}

  exec(command: ShellCommand, options: ExecOptions = {}): Promise<ExecResult> {
    this.commandCount++;
    const started = performance.now();
    const run = becomeRoot(command, this.become);
    return new Promise((resolve, reject) => {
      const child = spawn('/bin/sh', ['-c', run.text], { stdio: ['pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (d: Buffer) => out.push(d));
      child.stderr.on('data', (d: Buffer) => err.push(d));
      child.on('error', reject);
      child.stdin.on('error', () => {});
      child.stdin.end(options.stdin ?? '');
      child.on('close', (code) =>
        resolve({
          command: command.display,
          exitCode: code,
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8'),
          durationMs: performance.now() - started,
        }),
      );
    });
  }

  hold(command: ShellCommand, options: HoldOptions = {}): HeldCommand {
    this.commandCount++;
    const started = performance.now();
    const child = spawn('/bin/sh', ['-c', becomeRoot(command, this.become).text], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: string[] = [];
    const err: string[] = [];
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out.push(d);
      options.onStdout?.(d);
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => err.push(d));
    child.stdin.on('error', () => {});
    const exited = new Promise<ExecResult>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code) =>
        resolve({
          command: command.display,
          exitCode: code,
          stdout: out.join(''),
          stderr: err.join(''),
          durationMs: performance.now() - started,
        }),
      );
    });
    return {
      exited,
      release: async () => {
        child.stdin.end();
        await exited.catch(() => undefined);
      },
    };
  }

  async close(): Promise<void> {}
}
