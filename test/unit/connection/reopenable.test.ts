import { describe, expect, it } from 'vitest';
import { RecordingConnection } from '../../../src/connection/recording.ts';
import { ReopenableConnection } from '../../../src/connection/reopenable.ts';
import { sh } from '../../../src/connection/sh.ts';
import { ConnectError } from '../../../src/errors.ts';

describe('ReopenableConnection', () => {
  it('keeps the connection it had when opening a new one fails', async () => {
    const first = new RecordingConnection('backup', () => ({ stdout: 'first\n' }));
    const connection = new ReopenableConnection(first, () => Promise.reject(new ConnectError('refused')));
    await expect(connection.reopen()).rejects.toThrow('refused');
    expect(first.closed).toBe(false);
    expect((await connection.exec(sh`true`)).stdout).toBe('first\n');
  });
});

describe('ReopenableConnection after a reopen', () => {
  it('sends to the new connection, closes the old one, counts both, and says so once', async () => {
    const first = new RecordingConnection('backup', () => ({ stdout: 'old boot\n' }));
    const second = new RecordingConnection('backup', () => ({ stdout: 'new boot\n' }));
    let reopened = 0;
    const connection = new ReopenableConnection(
      first,
      async () => second,
      () => reopened++,
    );
    await connection.exec(sh`true`);
    await connection.reopen();
    expect((await connection.exec(sh`true`)).stdout).toBe('new boot\n');
    expect([first.closed, second.closed, reopened, connection.commandCount]).toEqual([true, false, 1, 2]);
  });
});
