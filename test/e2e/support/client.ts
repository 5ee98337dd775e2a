import { spawn, spawnSync } from 'node:child_process';
import { LAB_CLIENT } from '../../lab/config.ts';

/** What a program run in lab-client did. */
export interface ClientResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs a program in the lab's client namespace (a LAN client at 198.18.N.50) and waits for it: its exit code
 * and output, never throwing on a non-zero exit. Killed after `timeoutMs` (default 30 s).
 */
export function fromClient(
  program: string,
  args: readonly string[],
  options: { input?: string; timeoutMs?: number } = {},
): ClientResult {
  const result = spawnSync('ip', ['netns', 'exec', LAB_CLIENT.netns, program, ...args], {
    encoding: 'utf8',
    input: options.input ?? '',
    timeout: options.timeoutMs ?? 30_000,
  });
  if (result.error) throw result.error;
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Like {@link fromClient}, but returns only stdout and throws (with stderr) on a non-zero exit. */
export function clientStdout(
  program: string,
  args: readonly string[],
  options: { input?: string; timeoutMs?: number } = {},
): string {
  const result = fromClient(program, args, options);
  if (result.code !== 0)
    throw new Error(`${program} ${args.join(' ')} in ${LAB_CLIENT.name} exited ${result.code}: ${result.stderr}`);
  return result.stdout;
}

/** Like {@link fromClient}, without blocking this process (for clients that run while the test does more). */
export function fromClientAsync(
  args: readonly string[],
  options: { input?: string; timeoutMs?: number } = {},
): Promise<ClientResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', LAB_CLIENT.netns, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}
