import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalConnection } from '../../../src/connection/local.ts';
import { RecordingConnection } from '../../../src/connection/recording.ts';
import { sh } from '../../../src/connection/sh.ts';
import { applyChanges, applySteps, writeCommand } from '../../../src/engine/apply.ts';
import type { WriteStep } from '../../../src/ops/op.ts';
import { REMOTE_EXIT } from '../../../src/remote/protocol.ts';

const { validateRefused: VALIDATE_REFUSED, contentIncomplete: CONTENT_INCOMPLETE } = REMOTE_EXIT;
import { CommandError } from '../../../src/errors.ts';
import { MASK, secret } from '../../../src/secret.ts';

let dir: string;
let connection: RecordingConnection;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'play-apply-'));
  connection = new RecordingConnection('local', new LocalConnection('local'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const mode = (p: string) => (statSync(p).mode & 0o7777).toString(8).padStart(4, '0');

describe('writeCommand', () => {
  it('names a backup after the time, as PATH.YYYYMMDDTHHMMSS~', () => {
    const command = writeCommand(
      { kind: 'write', path: '/etc/motd', content: Buffer.from('x'), backup: true },
      new Date('2024-03-05T07:08:09.123Z'),
    );
    expect(command.text).toContain('"$p".20240305T070809~');
  });

  it('quotes the path', () => {
    const command = writeCommand({ kind: 'write', path: "/srv/it's here/f", content: Buffer.from('x') });
    expect(command.text).toContain(`p='/srv/it'\\''s here/f'`);
  });

  it('sets owner, group, mode and runs validate on the temp file, in the same directory', () => {
    const command = writeCommand({
      kind: 'write',
      path: '/etc/sudoers',
      content: Buffer.from('x'),
      owner: 'root',
      group: 'root',
      mode: '0440',
      validate: (p) => sh`visudo -cf ${p}`,
    });
    expect(command.text).toMatch(/chown root:root "\$t"/);
    expect(command.text).toMatch(/chmod 0440 "\$t"/);
    expect(command.text).toMatch(/visudo -cf \/etc\/\.sudoers\.play-[0-9a-f]{8}\.tmp/);
    expect(command.text).toContain(`exit ${VALIDATE_REFUSED}`);
  });

  it('masks a secret in the validate command when shown', () => {
    const token = secret('validate-token-1');
    const command = writeCommand({
      kind: 'write',
      path: '/etc/x',
      content: Buffer.from('x'),
      validate: (p) => sh`check --token ${token} ${p}`,
    });
    expect(command.text).toContain('validate-token-1');
    expect(command.display).not.toContain('validate-token-1');
    expect(command.display).toContain(MASK);
  });
});

describe('writeCommand validate', () => {
  it('a validate that is a list is judged as a whole: its last command refusing refuses the content', async () => {
    const path = join(dir, 'listed');
    writeFileSync(path, 'old\n');
    const refusing = await connection.exec(
      writeCommand({
        kind: 'write',
        path,
        content: Buffer.from('new\n'),
        validate: (p) => sh`true; grep -q nothing-like-this ${p}`,
      }),
      { stdin: Buffer.from('new\n') },
    );
    expect(refusing.exitCode).toBe(VALIDATE_REFUSED);
    expect(readFileSync(path, 'utf8')).toBe('old\n');
    const passing = await connection.exec(
      writeCommand({
        kind: 'write',
        path,
        content: Buffer.from('new\n'),
        validate: (p) => sh`true && grep -q new ${p}`,
      }),
      { stdin: Buffer.from('new\n') },
    );
    expect(passing.exitCode).toBe(0);
    expect(readFileSync(path, 'utf8')).toBe('new\n');
  });
});

describe('applySteps', () => {
  it('writes a file from stdin with its mode, leaving no temp file', async () => {
    const path = join(dir, 'out');
    await applySteps(connection, [{ kind: 'write', path, content: Buffer.from('data\n'), mode: '0604' }], {});
    expect(readFileSync(path, 'utf8')).toBe('data\n');
    expect(mode(path)).toBe('0604');
    expect(readdirSync(dir)).toEqual(['out']);
  });

  it('removes temp files a killed run left behind', async () => {
    writeFileSync(join(dir, '.out.play-deadbeef.tmp'), 'left over');
    writeFileSync(join(dir, '.other.play-deadbeef.tmp'), 'not ours');
    await applySteps(
      connection,
      [{ kind: 'write', path: join(dir, 'out'), content: Buffer.from('x'), mode: '0644' }],
      {},
    );
    expect(readdirSync(dir).sort()).toEqual(['.other.play-deadbeef.tmp', 'out']);
  });

  it('never renames a file whose content arrived incomplete (a connection dropped mid-write)', async () => {
    const path = join(dir, 'out');
    writeFileSync(path, 'old\n');
    const step = { kind: 'write' as const, path, content: Buffer.from('the whole new content\n'), mode: '0644' };
    // The stdin ends early, as it does when the controller is killed during the transfer.
    const result = await connection.exec(writeCommand(step), { stdin: Buffer.from('the whole') });
    expect(result.exitCode).toBe(CONTENT_INCOMPLETE);
    expect(result.stderr).toContain('arrived incomplete');
    expect(readFileSync(path, 'utf8')).toBe('old\n');
    expect(readdirSync(dir)).toEqual(['out']);
  });

  it('runs exec steps in order with their stdin, and returns their results', async () => {
    const path = join(dir, 'log');
    const results = await applySteps(
      connection,
      [
        { kind: 'exec', command: sh`cat > ${path}`, stdin: 'first\n' },
        { kind: 'exec', command: sh`echo second >> ${path}` },
      ],
      {},
    );
    expect(results.map((r) => r.exitCode)).toEqual([0, 0]);
    expect(readFileSync(path, 'utf8')).toBe('first\nsecond\n');
    expect(connection.commands[0].stdin).toBe('first\n');
  });

  it('stops at the first failing step with a CommandError placed where it happened', async () => {
    const path = join(dir, 'never');
    const error = await applySteps(
      connection,
      [
        { kind: 'exec', command: sh`echo boom >&2; exit 5` },
        { kind: 'exec', command: sh`touch ${path}` },
      ],
      { host: 'web1', task: 't1' },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandError);
    expect((error as CommandError).exitCode).toBe(5);
    expect((error as CommandError).stderr).toContain('boom');
    expect((error as CommandError).place).toMatchObject({ host: 'web1', task: 't1' });
    expect(connection.commandCount).toBe(1);
  });

  it('a failing command does not show a secret', async () => {
    const error = (await applySteps(
      connection,
      [{ kind: 'exec', command: sh`echo ${secret('apply-secret-9')} >&2; exit 1` }],
      {},
    ).catch((e: unknown) => e)) as CommandError;
    expect(error.message).not.toContain('apply-secret-9');
    expect(error.stderr).not.toContain('apply-secret-9');
  });

  it('a write into a missing directory fails with "writing ... failed"', async () => {
    const path = join(dir, 'missing', 'f');
    await expect(applySteps(connection, [{ kind: 'write', path, content: Buffer.from('x') }], {})).rejects.toThrow(
      `writing ${path} failed`,
    );
  });

  it('a refused validate says so and keeps the old file', async () => {
    const path = join(dir, 'conf');
    writeFileSync(path, 'old');
    const error = (await applySteps(
      connection,
      [{ kind: 'write', path, content: Buffer.from('new'), validate: (p) => sh`grep -q old ${p}`, backup: true }],
      {},
    ).catch((e: unknown) => e)) as CommandError;
    expect(error.exitCode).toBe(VALIDATE_REFUSED);
    expect(error.message).toContain(`validate refused the new ${path}`);
    expect(readFileSync(path, 'utf8')).toBe('old');
    expect(readdirSync(dir)).toEqual(['conf']);
  });
});

describe('applyChanges', () => {
  const write = (name: string, content: string, validate?: WriteStep['validate']) => ({
    steps: [
      {
        kind: 'write' as const,
        path: join(dir, name),
        content: Buffer.from(content),
        ...(validate ? { validate } : {}),
      },
    ],
    place: { task: name },
  });

  it('sends changes that are all whole-file writes in one round trip, and says all are done', async () => {
    const applied = await applyChanges(connection, [write('a', 'A'), write('b', 'B'), write('c', 'C')]);
    expect(applied).toEqual({ done: 3 });
    expect(connection.commands).toHaveLength(1);
    expect(['a', 'b', 'c'].map((n) => readFileSync(join(dir, n), 'utf8'))).toEqual(['A', 'B', 'C']);
  });

  it('stops at a refused write: those before it are in place, it and those after it are not, its error placed on its task', async () => {
    writeFileSync(join(dir, 'b'), 'old');
    const applied = await applyChanges(connection, [
      write('a', 'A'),
      write('b', 'B', (p) => sh`grep -q old ${p}`),
      write('c', 'C'),
    ]);
    expect(applied.done).toBe(1);
    const error = applied.error as CommandError;
    expect(error).toBeInstanceOf(CommandError);
    expect(error.hostUnchanged).toBe(true);
    expect(error.message).toContain(`validate refused the new ${join(dir, 'b')}`);
    expect(error.place.task).toBe('b');
    expect(readFileSync(join(dir, 'b'), 'utf8')).toBe('old');
    expect(readdirSync(dir).sort()).toEqual(['a', 'b']);
  });

  it('runs a change that runs commands, and what follows it, one change after another', async () => {
    const applied = await applyChanges(connection, [
      write('a', 'A'),
      { steps: [{ kind: 'exec', command: sh`touch ${join(dir, 'ran')}` }], place: { task: 'exec' } },
      write('b', 'B'),
    ]);
    expect(applied).toEqual({ done: 3 });
    expect(connection.commands).toHaveLength(3);
    expect(readdirSync(dir).sort()).toEqual(['a', 'b', 'ran']);
  });

  it('a failing command: the changes before it are done, its error says which', async () => {
    const applied = await applyChanges(connection, [
      { steps: [{ kind: 'exec', command: sh`exit 3`, failure: 'the thing failed' }], place: { task: 'first' } },
      write('a', 'A'),
    ]);
    expect(applied.done).toBe(0);
    expect((applied.error as CommandError).message).toContain('the thing failed');
    expect(readdirSync(dir)).toEqual([]);
  });
});
