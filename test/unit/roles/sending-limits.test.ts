import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RATE_LIMITER_ANSWER, rateLimiterProbeScript, rateLimiterRow } from '../../../roles/common/sending-limits.ts';

let dir: string;
let server: Server | undefined;

/** A policy socket that does what `respond` does with each connection's request. */
async function policyServer(respond: (socket: Socket, request: string) => void): Promise<string> {
  dir = mkdtempSync(join(tmpdir(), 'play-policy-'));
  const path = join(dir, 'policy');
  server = createServer((socket) => {
    let request = '';
    socket.on('data', (d) => {
      request += d;
      if (request.endsWith('\n\n')) respond(socket, request);
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server!.listen(path, resolve));
  return path;
}

/** Runs the probe (a child process, so the server above keeps answering meanwhile). */
function probe(path: string): Promise<{ answer: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', rateLimiterProbeScript(path)]);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('close', () => resolve({ answer: out.trim(), ms: performance.now() - started }));
  });
}

afterEach(() => {
  server?.close();
  server = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("play verify's sending-limits row (the probe of policyd-rate-limit)", () => {
  it("asks about a VRFY, which no limit counts, and reads a working daemon's answer: ok", async () => {
    let asked = '';
    const path = await policyServer((socket, request) => {
      asked = request;
      socket.end('action=dunno\n\n');
    });
    const { answer } = await probe(path);
    expect(asked).toBe('request=smtpd_access_policy\nprotocol_state=VRFY\n\n');
    expect(answer).toBe(RATE_LIMITER_ANSWER);
    expect(rateLimiterRow('primary', answer)).toEqual({
      check: 'sending limits',
      host: 'primary',
      ok: true,
      detail: 'policyd-rate-limit answers',
    });
  });

  it('red for a daemon that closes without answering (its database broken), one that hangs (given up in 2 s), and none', async () => {
    const closing = await policyServer((socket) => socket.destroy());
    const closed = await probe(closing);
    expect(closed.answer).toBe('no answer: the connection was closed');
    server!.close();
    const hanging = await policyServer(() => {});
    const hung = await probe(hanging);
    expect(hung.answer).toBe('no answer: timed out');
    expect(hung.ms).toBeLessThan(10_000);
    const none = await probe(join(dir, 'missing'));
    expect(none.answer).toMatch(/^no answer: \[Errno 2\] No such file or directory/);
    for (const answer of [closed.answer, hung.answer, none.answer, ''])
      expect(rateLimiterRow('backup', answer)).toMatchObject({
        ok: false,
        detail: expect.stringMatching(/^policyd-rate-limit: .+; no login's sending is limited$/),
      });
  });
});
