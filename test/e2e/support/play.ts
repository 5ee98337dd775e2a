import { spawn } from 'node:child_process';
import { join } from 'node:path';

/** The repository root. */
export const REPO = join(import.meta.dirname, '../../..');

/** What one `play` process did. */
export interface PlayResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs the real `play` binary from the repository root.
 *
 * @example
 * const { code, stdout } = await play(['test/e2e/playbooks/engine.ts', '--json']);
 */
export function play(
  args: readonly string[],
  options: { env?: Record<string, string>; onStdout?: (text: string, kill: () => void) => void } = {},
): Promise<PlayResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(REPO, 'dist/src/cli/play.js'), ...args], {
      cwd: REPO,
      env: { ...process.env, CI: 'true', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      options.onStdout?.(stdout, () => child.kill('SIGKILL'));
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs `play --json` and parses its report. */
export async function playJson(args: readonly string[], env?: Record<string, string>) {
  const result = await play([...args, '--json'], { env });
  let report: {
    hosts: Record<string, { ok: number; changed: number; failed: number; unreachable: number; commands: number }>;
    tasks: { host: string; task: string; status: string; diff?: string; error?: string }[];
  };
  try {
    report = JSON.parse(result.stdout);
  } catch {
    throw new Error(`play did not print a JSON report (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
  }
  return { ...result, report };
}
