import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeOwnerOnlyFileAtomically } from '../../../src/vault/atomic-write.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'play-atomic-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('writeOwnerOnlyFileAtomically', () => {
  it('writes a temporary file of mode 0600 in the same folder, then renames it over the file', () => {
    const path = join(dir, 'smknh.vault');
    writeFileSync(path, 'old', { mode: 0o644 });
    const seen: { dir: string; mode: number; content: string; old: string }[] = [];
    writeOwnerOnlyFileAtomically(path, 'new', (temp) => {
      seen.push({
        dir: dirname(temp),
        mode: statSync(temp).mode & 0o777,
        content: readFileSync(temp, 'utf8'),
        old: readFileSync(path, 'utf8'),
      });
    });
    expect(seen).toEqual([{ dir, mode: 0o600, content: 'new', old: 'old' }]);
    expect(readFileSync(path, 'utf8')).toBe('new');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['smknh.vault']);
  });

  it('keeps mode 0600 whatever the umask', () => {
    const old = process.umask(0);
    try {
      writeOwnerOnlyFileAtomically(join(dir, 'v'), 'x', (temp) => expect(statSync(temp).mode & 0o777).toBe(0o600));
    } finally {
      process.umask(old);
    }
  });

  it('leaves the old file and no temporary file when the write fails', () => {
    const path = join(dir, 'smknh.vault');
    writeFileSync(path, 'old');
    expect(() =>
      writeOwnerOnlyFileAtomically(path, 'new', () => {
        throw new Error('disk full');
      }),
    ).toThrow('disk full');
    expect(readFileSync(path, 'utf8')).toBe('old');
    expect(readdirSync(dir)).toEqual(['smknh.vault']);
  });
});
