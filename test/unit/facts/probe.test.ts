import { describe, expect, it } from 'vitest';
import { LocalConnection } from '../../../src/connection/local.ts';
import { sh } from '../../../src/connection/sh.ts';
import { parseProbeAnswer, probeScript, PROBE_MARKER, type Probe, type ProbeOutput } from '../../../src/facts/probe.ts';
import { MASK, secret } from '../../../src/secret.ts';

const identity = (key: string, command: ReturnType<typeof sh>): Probe<ProbeOutput> => ({ key, command, parse: (o) => o });

async function runProbes(probes: Probe<unknown>[]): Promise<ProbeOutput[]> {
  const local = new LocalConnection('local');
  const result = await local.exec(probeScript(probes));
  expect(result.exitCode).toBe(0);
  expect(local.commandCount).toBe(1);
  return parseProbeAnswer(result.stdout, probes.length);
}

describe('probeScript through a real /bin/sh', () => {
  it('starts with the probe marker', () => {
    const script = probeScript([identity('a', sh`true`)]);
    expect(script.text.startsWith(PROBE_MARKER)).toBe(true);
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
    const result = await local.exec(probeScript([identity('noisy', sh`echo err >&2; echo out`)]));
    expect(result.stderr).toBe('');
    expect(parseProbeAnswer(result.stdout, 1)[0].stdout).toBe('out');
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
    const script = probeScript([identity('s', sh`grep -q ${s} /etc/x`)]);
    expect(script.text).toContain('probe-secret-value');
    expect(script.display).not.toContain('probe-secret-value');
    expect(script.display).toContain(MASK);
  });
});

describe('parseProbeAnswer', () => {
  it('reads the documented answer format', () => {
    const answer = `{"0":[0,"${Buffer.from('a\nb').toString('base64')}"],"1":[2,""],"-":0}\n`;
    expect(parseProbeAnswer(answer, 2)).toEqual([
      { exitCode: 0, stdout: 'a\nb', bytes: Buffer.from('a\nb') },
      { exitCode: 2, stdout: '', bytes: Buffer.alloc(0) },
    ]);
  });

  it('throws when a probe has no answer', () => {
    expect(() => parseProbeAnswer('{"0":[0,""],"-":0}', 2)).toThrow(/probe 1 gave no answer/);
  });
});
