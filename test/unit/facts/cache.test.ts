import { describe, expect, it } from 'vitest';
import { LocalConnection } from '../../../src/connection/local.ts';
import { RecordingConnection } from '../../../src/connection/recording.ts';
import { sh } from '../../../src/connection/sh.ts';
import { FactCache } from '../../../src/facts/cache.ts';
import { contentProbe, pathProbe } from '../../../src/facts/file.ts';
import { packagesProbe } from '../../../src/facts/packages.ts';
import type { Probe } from '../../../src/facts/probe.ts';
import { REMOTE_MARKER } from '../../../src/remote/protocol.ts';
import { CommandError } from '../../../src/errors.ts';

const echoProbe = (key: string, text: string): Probe<string> => ({
  id: { kind: 'test', subject: key },
  command: sh`printf %s ${text}`,
  parse: (o) => o.stdout,
});

function setup() {
  const connection = new RecordingConnection('local', new LocalConnection('local'));
  return { connection, facts: new FactCache(connection) };
}

describe('FactCache', () => {
  it('gathers several probes in one command, and get() then answers from the cache', async () => {
    const { connection, facts } = setup();
    const a = echoProbe('a', 'alpha');
    const b = echoProbe('b', 'beta');
    await facts.gather([a, b]);
    expect(connection.commandCount).toBe(1);
    expect(connection.commands[0].text.startsWith(REMOTE_MARKER.probe)).toBe(true);
    expect(await facts.get(a)).toBe('alpha');
    expect(await facts.get(b)).toBe('beta');
    expect(connection.commandCount).toBe(1);
  });

  it('gathers only the missing probes, in one command', async () => {
    const { connection, facts } = setup();
    await facts.gather([echoProbe('a', 'alpha')]);
    await facts.gather([echoProbe('a', 'alpha'), echoProbe('b', 'beta'), echoProbe('c', 'gamma')]);
    expect(connection.commandCount).toBe(2);
    const second = connection.commands[1].text;
    expect(second).not.toContain('alpha');
    expect(second).toContain('beta');
    expect(second).toContain('gamma');
    await facts.gather([echoProbe('a', 'x'), echoProbe('b', 'y')]);
    expect(connection.commandCount).toBe(2);
  });

  it('asks a probe listed twice (same key) once', async () => {
    const { connection, facts } = setup();
    await facts.gather([echoProbe('same', 'one'), echoProbe('same', 'one')]);
    expect(connection.commandCount).toBe(1);
    expect((connection.commands[0].text.match(/printf %s one/g) ?? []).length).toBe(1);
  });

  it('get() of an unknown probe gathers it', async () => {
    const { connection, facts } = setup();
    expect(await facts.get(echoProbe('x', 'ex'))).toBe('ex');
    expect(connection.commandCount).toBe(1);
  });

  it('caches an undefined answer too', async () => {
    const { connection, facts } = setup();
    const none: Probe<undefined> = { id: { kind: 'test', subject: 'none' }, command: sh`true`, parse: () => undefined };
    expect(await facts.get(none)).toBeUndefined();
    expect(await facts.get(none)).toBeUndefined();
    expect(connection.commandCount).toBe(1);
  });

  it('invalidate() forgets every answer', async () => {
    const { connection, facts } = setup();
    let counter = 0;
    const counting: Probe<number> = {
      id: { kind: 'test', subject: 'count' },
      command: sh`echo`,
      parse: () => ++counter,
    };
    expect(await facts.get(counting)).toBe(1);
    expect(await facts.get(counting)).toBe(1);
    facts.invalidate();
    expect(await facts.get(counting)).toBe(2);
    expect(connection.commandCount).toBe(2);
  });

  it('a failing probe is an answer, not an error', async () => {
    const { facts } = setup();
    const failing: Probe<number> = {
      id: { kind: 'test', subject: 'fails' },
      command: sh`exit 4`,
      parse: (o) => o.exitCode,
    };
    expect(await facts.get(failing)).toBe(4);
  });

  it('throws a CommandError naming the probes when the script itself fails', async () => {
    const connection = new RecordingConnection('web1', () => ({ exitCode: 255, stderr: 'ssh: connection lost' }));
    const facts = new FactCache(connection);
    const error = await facts.gather([echoProbe('path:/etc/x', 'x')]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandError);
    expect((error as CommandError).message).toContain('path:/etc/x');
    expect((error as CommandError).place.host).toBe('web1');
  });
});

describe('invalidate(paths)', () => {
  it('keeps facts of other paths, drops those of the paths, what lies under them, and every non-path fact', async () => {
    const connection = new RecordingConnection('local', new LocalConnection('local'));
    const facts = new FactCache(connection);
    await facts.gather([
      pathProbe('/etc/a'),
      pathProbe('/etc/a/b'),
      contentProbe('/etc/ab'),
      pathProbe('/srv/x'),
      packagesProbe(['bash']),
    ]);
    expect(connection.commandCount).toBe(1);
    facts.invalidate(['/etc/a']);
    // /srv/x and /etc/ab (not under /etc/a) stay; /etc/a, /etc/a/b and the packages fact are asked again.
    await facts.gather([pathProbe('/srv/x'), contentProbe('/etc/ab')]);
    expect(connection.commandCount).toBe(1);
    await facts.gather([pathProbe('/etc/a')]);
    expect(connection.commandCount).toBe(2);
    await facts.gather([pathProbe('/etc/a/b')]);
    expect(connection.commandCount).toBe(3);
    await facts.gather([packagesProbe(['bash'])]);
    expect(connection.commandCount).toBe(4);
  });
});
