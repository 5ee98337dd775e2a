import { describe, expect, it } from 'vitest';
import type { Connection, ExecResult } from '../../../src/connection/connection.ts';
import { RecordingConnection } from '../../../src/connection/recording.ts';
import { ReopenableConnection } from '../../../src/connection/reopenable.ts';
import { CommandError, ConnectError, PlayError } from '../../../src/errors.ts';
import { rebootHost, type RebootClock } from '../../../src/engine/reboot.ts';

/** A clock that only moves when the reboot sleeps. */
function fakeClock(): RebootClock & { slept: number } {
  const clock = {
    slept: 0,
    now: () => clock.slept,
    sleep: async (ms: number) => {
      clock.slept += ms;
    },
  };
  return clock;
}

/**
 * A host that goes down `downFor` connection attempts after the reboot is scheduled (each attempt then fails), after
 * answering `lingers` more connections from the old boot; then it answers from boot 2 with the given system state.
 */
function rebootingHost(options: { downFor?: number; lingers?: number; state?: string; neverBack?: boolean }) {
  let boot = 1;
  let scheduled = false;
  let attempts = 0;
  const opened: RecordingConnection[] = [];
  const open = async (): Promise<Connection> => {
    if (scheduled) {
      attempts++;
      if (attempts > (options.lingers ?? 0)) {
        if (options.neverBack || attempts <= (options.lingers ?? 0) + (options.downFor ?? 2))
          throw new ConnectError('cannot connect to root@backup:22: connect ECONNREFUSED');
        boot = 2;
      }
    }
    const connection = new RecordingConnection('backup', (command) => {
      if (command.text === 'cat /proc/sys/kernel/random/boot_id') return { stdout: `boot-${boot}\n` };
      if (command.text.startsWith('systemd-run ')) {
        scheduled = true;
        return {};
      }
      if (command.text.includes('is-system-running'))
        return { stdout: `${options.state ?? 'running'}\n`, exitCode: options.state === 'running' ? 0 : 1 };
      return { exitCode: 127 };
    });
    opened.push(connection);
    return connection;
  };
  return { open, opened };
}

const step = { kind: 'reboot', timeoutSeconds: 60 } as const;
const place = { host: 'backup', task: 'reboot' };

describe('rebootHost', () => {
  it('schedules the reboot, reconnects until a new boot has finished starting, and returns its commands', async () => {
    const host = rebootingHost({ lingers: 1, downFor: 3, state: 'degraded' });
    let reopened = 0;
    const connection = new ReopenableConnection(await host.open(), host.open, () => reopened++);
    const clock = fakeClock();
    const results: ExecResult[] = await rebootHost(connection, step, place, clock);
    expect(results.map((r) => r.stdout.trim())).toEqual(['boot-1', '', 'boot-2', 'degraded']);
    expect(host.opened[0].commands.map((c) => c.text)).toEqual([
      'cat /proc/sys/kernel/random/boot_id',
      'systemd-run --quiet --on-active=1 --timer-property=AccuracySec=100ms systemctl reboot',
    ]);
    // One connection still from the old boot (it had not gone down), three refused, then the new boot.
    expect(host.opened).toHaveLength(3);
    expect(host.opened[0].closed && host.opened[1].closed).toBe(true);
    expect(host.opened[2].commands.map((c) => c.text)).toEqual([
      'cat /proc/sys/kernel/random/boot_id',
      'timeout 55 systemctl is-system-running --wait',
    ]);
    expect(reopened).toBe(2);
    expect(clock.slept).toBe(5_000);
    // Every command of every connection counts: 2 on the first, the boot id on the old boot's, 2 on the new boot's.
    expect(connection.commandCount).toBe(5);
  });

  it('a host that does not come back is unreachable once the timeout has passed, naming what it last saw', async () => {
    const host = rebootingHost({ neverBack: true });
    const connection = new ReopenableConnection(await host.open(), host.open);
    const clock = fakeClock();
    const error = await rebootHost(connection, step, place, clock).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).message).toBe(
      'backup did not come back within 60 s of the reboot: cannot connect to root@backup:22: connect ECONNREFUSED',
    );
    expect(clock.slept).toBe(60_000);
  });

  it('a host that boots but never finishes starting is unreachable too', async () => {
    const host = rebootingHost({ state: 'starting' });
    const connection = new ReopenableConnection(await host.open(), host.open);
    const error = await rebootHost(connection, step, place, fakeClock()).catch((e: unknown) => e);
    expect((error as Error).message).toBe('backup did not come back within 60 s of the reboot: it was starting');
  });

  it('a reboot that cannot be scheduled fails as a command, and the host is not waited for', async () => {
    const connection = new ReopenableConnection(
      new RecordingConnection('backup', (command) =>
        command.text.startsWith('systemd-run')
          ? { exitCode: 1, stderr: 'Failed to connect to bus' }
          : { stdout: 'b\n' },
      ),
      () => Promise.reject(new Error('not reopened')),
    );
    const clock = fakeClock();
    const error = await rebootHost(connection, step, place, clock).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandError);
    expect((error as CommandError).message).toMatch(
      /^scheduling the reboot failed \(exit 1\).*\nFailed to connect to bus$/s,
    );
    expect(clock.slept).toBe(0);
  });

  it('refuses a connection that cannot reconnect, before anything is sent', async () => {
    const connection = new RecordingConnection('backup', () => ({}));
    const error = await rebootHost(connection, step, place).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PlayError);
    expect((error as PlayError).message).toBe('backup cannot be rebooted: its connection cannot reconnect');
    expect(connection.commands).toEqual([]);
  });
});
