import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalConnection } from '../../../src/connection/local.ts';
import { sh } from '../../../src/connection/sh.ts';
import { FactCache } from '../../../src/facts/cache.ts';
import {
  clearPendingCommand,
  parseJournal,
  pendingHandlersProbe,
  recordPendingCommand,
  type PendingHandler,
} from '../../../src/remote/handler-journal.ts';
import { hostStatePaths } from '../../../src/remote/host-state.ts';

let root: string;
const local = new LocalConnection('local');
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'play-journal-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const read = async (host = 'primary', at = root) =>
  new FactCache(local).get(pendingHandlersProbe(hostStatePaths(host, at)));

describe('the pending-handler journal on a host', () => {
  const odd: PendingHandler[] = [
    { play: 'mail servers', handler: 'reload postfix' },
    { play: 'it\'s "quoted"', handler: 'tab\there $(reboot) `id`' },
    { play: 'ünïcode', handler: 'line\nbreak' },
    { play: 'mail servers', handler: '-n starts with a dash' },
  ];

  it('records each entry once, in order, even odd names, and reads them back', async () => {
    const paths = hostStatePaths('primary', root);
    expect(await read()).toEqual([]);
    expect((await local.exec(recordPendingCommand(paths, odd))).exitCode).toBe(0);
    expect((await local.exec(recordPendingCommand(paths, [odd[0], odd[1]]))).exitCode).toBe(0);
    expect(await read()).toEqual(odd);
    expect(readFileSync(paths.pendingHandlers, 'utf8').split('\n').filter(Boolean)).toHaveLength(odd.length);
  });

  it('clears one entry and keeps the others; clearing twice or an absent journal is harmless', async () => {
    const paths = hostStatePaths('primary', root);
    expect((await local.exec(clearPendingCommand(paths, odd[0]))).exitCode).toBe(0);
    await local.exec(recordPendingCommand(paths, odd));
    for (let i = 0; i < 2; i++) expect((await local.exec(clearPendingCommand(paths, odd[1]))).exitCode).toBe(0);
    expect(await read()).toEqual([odd[0], odd[2], odd[3]]);
    for (const entry of [odd[0], odd[2], odd[3]]) await local.exec(clearPendingCommand(paths, entry));
    expect(await read()).toEqual([]);
  });

  it('keeps one folder per inventory host name', async () => {
    await local.exec(recordPendingCommand(hostStatePaths('alpha', root), [odd[0]]));
    expect(await read('alpha')).toEqual([odd[0]]);
    expect(await read('beta')).toEqual([]);
  });

  it('skips lines that are not entries (a torn write, a hand edit)', () => {
    expect(
      parseJournal('{"play":"a","handler":"b"}\n{"play":"a","hand\nnot json\n{"play":1,"handler":"x"}\n\n'),
    ).toEqual([{ play: 'a', handler: 'b' }]);
  });

  it('on a full disk the record fails (the run then stops before the change) and the entries before it still read', async () => {
    if (process.getuid?.() !== 0) return; // A tmpfs of its own needs root (CI and the lab run as root).
    const disk = join(root, 'disk');
    mkdirSync(disk);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', disk]);
    try {
      const paths = hostStatePaths('primary', disk);
      await local.exec(recordPendingCommand(paths, [odd[0]]));
      // Fill what is left of the disk.
      await local.exec(sh`dd if=/dev/zero of=${join(disk, 'filler')} bs=1k 2>/dev/null || true`);
      const long = { play: 'mail servers', handler: 'x'.repeat(8192) };
      const result = await local.exec(recordPendingCommand(paths, [long]));
      expect(result.exitCode).not.toBe(0);
      // dash's printf says "I/O error" for ENOSPC.
      expect(result.stderr).toMatch(/No space left on device|I\/O error/);
      expect(await read('primary', disk)).toEqual([odd[0]]);
    } finally {
      execFileSync('umount', [disk]);
    }
  });
});
