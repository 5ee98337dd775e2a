import { describe, expect, it } from 'vitest';
import { LocalConnection } from '../../../src/connection/local.ts';
import { sh } from '../../../src/connection/sh.ts';
import {
  parseProbeAnswer,
  probeBoundary,
  probeScript,
  type Probe,
  type ProbeOutput,
} from '../../../src/facts/probe.ts';
import { REMOTE_MARKER } from '../../../src/remote/protocol.ts';
import { MASK, secret } from '../../../src/secret.ts';

const identity = (key: string, command: ReturnType<typeof sh>): Probe<ProbeOutput> => ({
  id: { kind: 'test', subject: key },
  command,
  parse: (o) => o,
});

async function runProbes(probes: Probe<unknown>[]): Promise<ProbeOutput[]> {
  const local = new LocalConnection('local');
  const boundary = probeBoundary();
  const result = await local.exec(probeScript(probes, boundary));
  expect(result.exitCode).toBe(0);
  expect(local.commandCount).toBe(1);
  return parseProbeAnswer(result.stdout, probes.length, boundary);
}

describe('probeScript through a real /bin/sh', () => {
  it('starts with the probe marker', () => {
    const script = probeScript([identity('a', sh`true`)], probeBoundary());
    expect(script.text.startsWith(REMOTE_MARKER.probe)).toBe(true);
  });

  it('runs several probes in one command, each with its own output and exit code', async () => {
    const outputs = await runProbes([
      identity('hello', sh`echo hello`),
      identity('fails', sh`echo partial; echo oops >&2; exit 3`),
      identity('multi', sh`printf 'a\\nb\\n\\nc'`),
      identity('empty', sh`true`),
      identity('status', sh`false`),
    ]);
    expect(outputs.map((o) => [o.exitCode, o.stdout])).toEqual([
      [0, 'hello'],
      [3, 'partial'],
      [0, 'a\nb\n\nc'],
      [0, ''],
      [1, ''],
    ]);
  });

  it('a probe printing binary bytes (NUL, invalid UTF-8, newlines) does not break the others and keeps its bytes', async () => {
    const outputs = await runProbes([
      identity('before', sh`echo before`),
      identity('binary', sh`printf 'x\\000y\\377\\n\\001z'`),
      identity('after', sh`echo after`),
    ]);
    expect(outputs[0].stdout).toBe('before');
    expect([...outputs[1].bytes]).toEqual([0x78, 0x00, 0x79, 0xff, 0x0a, 0x01, 0x7a]);
    expect(outputs[2].stdout).toBe('after');
  });

  it('a probe with JSON-looking, quote and brace output does not break the answer', async () => {
    const outputs = await runProbes([
      identity('json', sh`printf '%s' '"0":[1,"x"],}{'`),
      identity('next', sh`echo ok`),
    ]);
    expect(outputs[0].stdout).toBe('"0":[1,"x"],}{');
    expect(outputs[1].stdout).toBe('ok');
  });

  it('a probe that exits its shell, or fails to parse, does not end the script', async () => {
    const outputs = await runProbes([
      identity('exit', sh`echo gone; exit 7`),
      identity('syntax', sh`if then fi`),
      identity('missing', sh`/nonexistent/command --flag`),
      identity('last', sh`echo still here`),
    ]);
    expect(outputs[0]).toMatchObject({ exitCode: 7, stdout: 'gone' });
    expect(outputs[1].exitCode).not.toBe(0);
    expect(outputs[2].exitCode).toBe(127);
    expect(outputs[3]).toMatchObject({ exitCode: 0, stdout: 'still here' });
  });

  it('discards stderr of probes', async () => {
    const local = new LocalConnection('local');
    const boundary = probeBoundary();
    const result = await local.exec(probeScript([identity('noisy', sh`echo err >&2; echo out`)], boundary));
    expect(result.stderr).toBe('');
    expect(parseProbeAnswer(result.stdout, 1, boundary)[0].stdout).toBe('out');
  });

  it('probes do not read the standard input of the batch', async () => {
    const outputs = await runProbes([identity('cat', sh`cat`), identity('after', sh`echo ok`)]);
    expect(outputs[0].stdout).toBe('');
    expect(outputs[1].stdout).toBe('ok');
  });

  it('a large output survives', async () => {
    const outputs = await runProbes([identity('big', sh`seq 1 100000`), identity('after', sh`echo ok`)]);
    const lines = outputs[0].stdout.split('\n');
    expect(lines).toHaveLength(100000);
    expect(lines.at(-1)).toBe('100000');
    expect(outputs[1].stdout).toBe('ok');
  });

  it('masks secrets in the displayed script and reveals them in the text', () => {
    const s = secret('probe-secret-value');
    const script = probeScript([identity('s', sh`grep -q ${s} /etc/x`)], probeBoundary());
    expect(script.text).toContain('probe-secret-value');
    expect(script.display).not.toContain('probe-secret-value');
    expect(script.display).toContain(MASK);
  });
});

describe('parseProbeAnswer', () => {
  const boundary = '0123456789abcdef01234567';
  const answer = (text: string) => Buffer.from(text).toString('base64');

  it('reads the documented answer format', () => {
    expect(parseProbeAnswer(`${answer(`a\nb\n\n${boundary} 0\n\n${boundary} 2\n`)}\n`, 2, boundary)).toEqual([
      { exitCode: 0, stdout: 'a\nb', bytes: Buffer.from('a\nb') },
      { exitCode: 2, stdout: '', bytes: Buffer.alloc(0) },
    ]);
  });

  it('throws when a probe has no answer', () => {
    expect(() => parseProbeAnswer(answer(`x\n${boundary} 0\n`), 2, boundary)).toThrow(/probe 1 gave no answer/);
  });

  it('a probe that prints another boundary, or a boundary without its line, keeps it as output', () => {
    const other = 'ffffffffffffffffffffffff';
    const outputs = parseProbeAnswer(
      answer(`\n${other} 0\n${boundary}\n${boundary} 1\nok\n${boundary} 0\n`),
      2,
      boundary,
    );
    expect(outputs).toEqual([
      { exitCode: 1, stdout: `\n${other} 0\n${boundary}`, bytes: Buffer.from(`\n${other} 0\n${boundary}`) },
      { exitCode: 0, stdout: 'ok', bytes: Buffer.from('ok') },
    ]);
  });
});

describe('the boundary', () => {
  it('is fresh for every script and never appears in the script text', async () => {
    const [one, two] = [probeBoundary(), probeBoundary()];
    expect(one).toMatch(/^[0-9a-f]{24}$/);
    expect(one).not.toBe(two);
    const script = probeScript([identity('ps', sh`echo x`)], one);
    expect(script.text).not.toContain(one);
    expect(script.display).not.toContain(one);
  });
});
