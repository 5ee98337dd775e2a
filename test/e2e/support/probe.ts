import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import {
  parseProbeOutput,
  probeInput,
  SERVICE_PROBE_SOURCE,
  type ProbeCheck,
  type ProbeRequest,
  type ProbeResult,
} from '../../../roles/common/service-probe.ts';
import { LAB_CLIENT } from '../../lab/config.ts';
import { fromClientAsync } from './client.ts';

/**
 * Runs the service probe (roles/common/files/service-probe.py, the program `play verify` and keepalived use) once
 * in lab-client, a LAN client: what a user's mail program or browser would get from each check.
 *
 * @example
 * const [smtp] = await probeFromClient({ timeout: 2, checks: [{ kind: 'smtp', host: LAB_VIP, port: 25 }] });
 */
export async function probeFromClient(request: ProbeRequest): Promise<ProbeResult[]> {
  const result = await fromClientAsync(['/usr/bin/python3', '-I', SERVICE_PROBE_SOURCE], {
    input: probeInput(request),
    timeoutMs: (request.timeout + 10) * 1000,
  });
  if (result.code !== 0 && result.code !== 1)
    throw new Error(`the service probe exited ${result.code}: ${result.stderr}`);
  return parseProbeOutput(result.stdout);
}

/** Probes that keep running in lab-client: each check started every `every` seconds until stopped. */
export interface ProbeWatch {
  /** Every probe that has finished so far. */
  readonly results: readonly ProbeResult[];
  /** Resolves with the first probe of `label` started after `since` (Unix ms) that passed: its end, in Unix ms. */
  firstAnswer(label: string, since: number, timeoutMs?: number): Promise<number>;
  /** Stops starting probes, waits for those running, and returns all results. */
  stop(): Promise<ProbeResult[]>;
}

/**
 * Starts the service probe in lab-client in its repeating mode: every check of `checks` every `every` seconds
 * (without waiting for the previous one), each with `timeout` seconds, for at most `forSeconds`.
 *
 * @example
 * const watch = watchFromClient([{ kind: 'smtp', label: 'smtp vip', host: LAB_VIP, port: 25 }], { every: 0.1, timeout: 2, forSeconds: 300 });
 * await watch.stop();
 */
export function watchFromClient(
  checks: readonly ProbeCheck[],
  options: { every: number; timeout: number; forSeconds: number },
): ProbeWatch {
  const child = spawn('ip', ['netns', 'exec', LAB_CLIENT.netns, '/usr/bin/python3', '-I', SERVICE_PROBE_SOURCE], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const results: ProbeResult[] = [];
  const waiting = new Set<() => void>();
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  createInterface({ input: child.stdout }).on('line', (line) => {
    results.push(JSON.parse(line) as ProbeResult);
    for (const wake of waiting) wake();
  });
  const ended = new Promise<void>((resolve) => child.on('close', () => resolve()));
  child.stdin.end(probeInput({ timeout: options.timeout, checks, every: options.every, for: options.forSeconds }));
  return {
    results,
    firstAnswer(label, since, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const look = () => {
          const hit = results
            .filter((r) => r.label === label && r.ok && r.at !== undefined && r.at * 1000 >= since)
            .map((r) => r.at! * 1000 + r.ms)
            .sort((a, b) => a - b)[0];
          if (hit === undefined) return false;
          finish();
          resolve(Math.round(hit));
          return true;
        };
        const timer = setTimeout(() => {
          finish();
          reject(
            new Error(
              `no probe of ${label} passed within ${timeoutMs} ms (last: ${results.filter((r) => r.label === label).at(-1)?.detail ?? 'none'}) ${stderr}`,
            ),
          );
        }, timeoutMs);
        const finish = () => {
          clearTimeout(timer);
          waiting.delete(wake);
        };
        const wake = () => void look();
        if (!look()) waiting.add(wake);
      });
    },
    async stop() {
      child.kill('SIGTERM');
      await ended;
      return results;
    },
  };
}
