import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalConnection } from '../../../src/connection/local.ts';
import { HostLockedError, lockScript, takeHostLock } from '../../../src/remote/host-lock.ts';
import { hostStatePaths } from '../../../src/remote/host-state.ts';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'play-lock-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const settledWithin = <T>(promise: Promise<T>, ms: number) =>
  Promise.race([promise.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);

describe("a host's run lock", () => {
  it('a second run waits, told who holds it, and gets the lock when the first releases it', async () => {
    const paths = hostStatePaths('primary', root);
    const first = await takeHostLock(new LocalConnection('primary'), paths, {
      wait: true,
      holder: 'ana@ctl pid 1 since then',
    });
    expect(readFileSync(paths.holder, 'utf8')).toBe('ana@ctl pid 1 since then\n');
    const waits: string[] = [];
    const second = takeHostLock(new LocalConnection('primary'), paths, {
      wait: true,
      holder: 'budi@ctl pid 2 since now',
      onWait: (h) => waits.push(h),
    });
    expect(await settledWithin(second, 500)).toBe(false);
    expect(waits).toEqual(['ana@ctl pid 1 since then']);
    await first.release();
    expect(await settledWithin(second, 5000)).toBe(true);
    expect(readFileSync(paths.holder, 'utf8')).toBe('budi@ctl pid 2 since now\n');
    await (await second).release();
  });

  it('with wait: false, a held lock fails at once naming the holder', async () => {
    const paths = hostStatePaths('primary', root);
    const first = await takeHostLock(new LocalConnection('primary'), paths, {
      wait: true,
      holder: 'ana@ctl pid 1 since 2026-12-01T10:00:00.000Z',
    });
    const refused = takeHostLock(new LocalConnection('primary'), paths, { wait: false });
    await expect(refused).rejects.toBeInstanceOf(HostLockedError);
    await expect(refused).rejects.toThrow(
      'primary is locked by another play run (ana@ctl pid 1 since 2026-12-01T10:00:00.000Z)',
    );
    await first.release();
    const after = await takeHostLock(new LocalConnection('primary'), paths, { wait: false });
    await after.release();
  });

  it("a killed holder's lock is free at once: the kernel drops the flock, nothing is guessed", async () => {
    const paths = hostStatePaths('primary', root);
    // The holder is another process, as a controller would be; SIGKILL gives it no chance to clean up.
    const holder = spawn('/bin/sh', ['-c', lockScript(paths, 'doomed@ctl pid 3 since then', true).text], {
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    await new Promise<void>((resolve) =>
      holder.stdout.on('data', (d: Buffer) => d.toString().includes('locked') && resolve()),
    );
    await expect(takeHostLock(new LocalConnection('primary'), paths, { wait: false })).rejects.toThrow(/doomed@ctl/);
    holder.kill('SIGKILL');
    await new Promise((resolve) => holder.on('close', resolve));
    const lock = await takeHostLock(new LocalConnection('primary'), paths, { wait: false });
    await lock.release();
  });

  it('odd state paths (spaces, quotes) work, and each inventory host name has its own lock', async () => {
    const odd = join(root, "a dir with 'quotes' and $(x)");
    const alpha = await takeHostLock(new LocalConnection('alpha'), hostStatePaths('alpha', odd), { wait: false });
    const beta = await takeHostLock(new LocalConnection('beta'), hostStatePaths('beta', odd), { wait: false });
    await Promise.all([alpha.release(), beta.release()]);
  });
});
