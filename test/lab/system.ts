import { execFile, spawnSync } from 'node:child_process';

/** Runs a program on the machine; throws with its stderr when it fails. */
export function run(
  program: string,
  args: readonly string[],
  options: { input?: string; quiet?: boolean } = {},
): string {
  const result = spawnSync(program, args, { encoding: 'utf8', input: options.input, maxBuffer: 64 * 1024 * 1024 });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    throw exitError(program, args, result.status, result.stderr || result.stdout);
  }
  return result.stdout;
}

/** A program's failure: the command, how it ended and the last lines it printed. */
function exitError(program: string, args: readonly string[], status: unknown, output: string): Error {
  return new Error(`${program} ${args.join(' ')} exited ${status}: ${output.trim().split('\n').slice(-5).join('\n')}`);
}

/** {@link run} without blocking: for long programs that may run side by side (e.g. two roots being built). */
export function runAsync(program: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(program, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (!error) return resolve(stdout);
      const status = typeof error.code === 'number' ? error.code : (error.code ?? error.signal);
      reject(exitError(program, args, status, stderr || stdout));
    });
  });
}

/** Runs a program and reports whether it succeeded, never throwing. */
export function attempt(program: string, args: readonly string[]): boolean {
  const result = spawnSync(program, args, { encoding: 'utf8' });
  return !result.error && result.status === 0;
}

/** Whether a process is alive. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The direct children of a process. */
export function childrenOf(pid: number): number[] {
  const result = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' });
  return result.stdout.split('\n').filter(Boolean).map(Number);
}

/** Waits until a condition holds, polling; throws after the timeout with the description. */
export async function waitFor(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  intervalMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
