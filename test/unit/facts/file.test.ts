import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalConnection } from '../../../src/connection/local.ts';
import { RecordingConnection } from '../../../src/connection/recording.ts';
import { FactCache } from '../../../src/facts/cache.ts';
import { contentProbe, parsePathState, pathProbe, type PathState } from '../../../src/facts/file.ts';

const sha = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const me = execFileSync('id', ['-un'], { encoding: 'utf8' }).trim();
const myGroup = execFileSync('id', ['-gn'], { encoding: 'utf8' }).trim();

describe('parsePathState', () => {
  it.each<[string, string, PathState]>([
    ['absent', 'absent\n', { type: 'absent' }],
    ['empty output', '', { type: 'absent' }],
    ['garbage', 'what\n', { type: 'absent' }],
    [
      'file',
      `file\n644 root root\n${'a'.repeat(64)}\n`,
      { type: 'file', mode: '0644', owner: 'root', group: 'root', sha256: 'a'.repeat(64) },
    ],
    [
      'file without hash (unreadable)',
      'file\n600 root shadow\n',
      { type: 'file', mode: '0600', owner: 'root', group: 'shadow' },
    ],
    ['directory', 'directory\n1777 root root\n', { type: 'directory', mode: '1777', owner: 'root', group: 'root' }],
    [
      'setuid',
      `file\n4755 root root\n${'b'.repeat(64)}`,
      { type: 'file', mode: '4755', owner: 'root', group: 'root', sha256: 'b'.repeat(64) },
    ],
    [
      'link',
      'link\n../sites-available/mail.conf\n777 root root\n',
      { type: 'link', mode: '0777', owner: 'root', group: 'root', linkTarget: '../sites-available/mail.conf' },
    ],
    ['other', 'other\n660 root disk\n', { type: 'other', mode: '0660', owner: 'root', group: 'disk' }],
  ])('%s', (_, stdout, expected) => {
    expect(parsePathState(stdout)).toEqual(expected);
  });
});

describe('pathProbe and contentProbe on real paths', () => {
  let dir: string;
  let facts: FactCache;
  let connection: RecordingConnection;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'play-facts-'));
    writeFileSync(join(dir, 'file.txt'), 'hello\n');
    chmodSync(join(dir, 'file.txt'), 0o640);
    writeFileSync(join(dir, 'empty'), '');
    chmodSync(join(dir, 'empty'), 0o644);
    writeFileSync(join(dir, 'trailing'), 'a\n\n\n');
    writeFileSync(join(dir, 'binary'), Buffer.from([0, 1, 2, 0xff, 0x0a, 0]));
    writeFileSync(join(dir, "we'ird $(name) *"), 'odd');
    mkdirSync(join(dir, 'sub'));
    chmodSync(join(dir, 'sub'), 0o2750);
    symlinkSync('file.txt', join(dir, 'link'));
    symlinkSync('/nonexistent/target', join(dir, 'dangling'));
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    connection = new RecordingConnection('local', new LocalConnection('local'));
    facts = new FactCache(connection);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads every kind of path in one command', async () => {
    const names = [
      'file.txt',
      'empty',
      'sub',
      'link',
      'dangling',
      'fifo',
      'absent',
      "we'ird $(name) *",
      'sub/absent/deeper',
    ];
    await facts.gather(names.map((n) => pathProbe(join(dir, n))));
    expect(connection.commandCount).toBe(1);
    const state = (n: string) => facts.get(pathProbe(join(dir, n)));
    expect(await state('file.txt')).toEqual({
      type: 'file',
      mode: '0640',
      owner: me,
      group: myGroup,
      sha256: sha('hello\n'),
    });
    expect(await state('empty')).toEqual({ type: 'file', mode: '0644', owner: me, group: myGroup, sha256: sha('') });
    expect(await state('sub')).toEqual({ type: 'directory', mode: '2750', owner: me, group: myGroup });
    expect(await state('link')).toEqual({
      type: 'link',
      mode: '0777',
      owner: me,
      group: myGroup,
      linkTarget: 'file.txt',
    });
    expect(await state('dangling')).toMatchObject({ type: 'link', linkTarget: '/nonexistent/target' });
    expect(await state('fifo')).toMatchObject({ type: 'other', owner: me });
    expect(await state('absent')).toEqual({ type: 'absent' });
    expect(await state('sub/absent/deeper')).toEqual({ type: 'absent' });
    expect(await state("we'ird $(name) *")).toMatchObject({ type: 'file', sha256: sha('odd') });
    expect(connection.commandCount).toBe(1);
  });

  it('answers many paths together (one stat, one sha256sum) exactly as it answers each alone', async () => {
    writeFileSync(join(dir, 'new\nline'), 'nl');
    writeFileSync(join(dir, 'two  spaces'), 'sp');
    const names = [
      'file.txt',
      'empty',
      'sub',
      'link',
      'dangling',
      'fifo',
      'absent',
      "we'ird $(name) *",
      'new\nline',
      'two  spaces',
      'binary',
      'file.txt',
    ];
    const together = new FactCache(new LocalConnection('local'));
    await together.gather(names.map((n) => pathProbe(join(dir, n))));
    for (const name of names) {
      const alone = new FactCache(new LocalConnection('local'));
      expect(await together.get(pathProbe(join(dir, name))), name).toEqual(await alone.get(pathProbe(join(dir, name))));
    }
    expect(await together.get(pathProbe(join(dir, 'new\nline')))).toMatchObject({ type: 'file', sha256: sha('nl') });
  });

  it('reads contents byte for byte, trailing newlines and NUL bytes included', async () => {
    const names = ['file.txt', 'empty', 'trailing', 'binary', 'sub', 'absent', 'link'];
    await facts.gather(names.map((n) => contentProbe(join(dir, n))));
    const content = (n: string) => facts.get(contentProbe(join(dir, n)));
    expect(await content('file.txt')).toEqual(Buffer.from('hello\n'));
    expect(await content('empty')).toEqual(Buffer.alloc(0));
    expect(await content('trailing')).toEqual(Buffer.from('a\n\n\n'));
    expect(await content('binary')).toEqual(Buffer.from([0, 1, 2, 0xff, 0x0a, 0]));
    expect(await content('sub')).toBeUndefined();
    expect(await content('absent')).toBeUndefined();
    // A link to a regular file reads the file it points to.
    expect(await content('link')).toEqual(Buffer.from('hello\n'));
  });
});
