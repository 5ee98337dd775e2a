import type { Connection, ExecResult } from '../connection/connection.ts';
import { sh } from '../connection/sh.ts';
import { CommandError, ConnectError, PlayError, type ErrorPlace } from '../errors.ts';
import type { RebootStep } from '../ops/op.ts';

/** How long to wait between two attempts to reach a rebooting host. */
const RETRY_MS = 1_000;

const BOOT_ID = sh`cat /proc/sys/kernel/random/boot_id`;

/** What a reboot waits on, made replaceable for tests. */
export interface RebootClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

const realClock: RebootClock = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/**
 * Reboots the host and waits until it is back (as Ansible's `reboot` module): its boot id is read, the reboot is
 * scheduled a second ahead by systemd (so the command returns before the connection goes), then the connection is
 * opened anew every second until the host answers with another boot id, and `systemctl is-system-running --wait`
 * says its start has finished (`running`, or `degraded` when a unit failed: that is for the next tasks to fix).
 * Throws a {@link ConnectError} (the host is unreachable) when that takes longer than the step allows.
 *
 * @example
 * const results = await rebootHost(connection, { kind: 'reboot', timeoutSeconds: 600 }, { host: 'backup' });
 */
export async function rebootHost(
  connection: Connection,
  step: RebootStep,
  place: ErrorPlace,
  clock: RebootClock = realClock,
): Promise<ExecResult[]> {
  if (!connection.reopen)
    throw new PlayError(`${connection.host} cannot be rebooted: its connection cannot reconnect`, place);
  const before = await checked(connection, BOOT_ID, place, 'reading the boot id failed');
  const schedule = await checked(
    connection,
    sh`systemd-run --quiet --on-active=1 --timer-property=AccuracySec=100ms systemctl reboot`,
    place,
    'scheduling the reboot failed',
  );
  const deadline = clock.now() + step.timeoutSeconds * 1000;
  let last = 'it was not reached yet';
  while (clock.now() < deadline) {
    await clock.sleep(RETRY_MS);
    try {
      await connection.reopen();
      const booted = await connection.exec(BOOT_ID);
      if (booted.exitCode !== 0) throw new Error(`reading the boot id: exit ${booted.exitCode}`);
      if (booted.stdout.trim() === before.stdout.trim()) {
        last = 'it had not gone down yet';
        continue;
      }
      const left = Math.max(1, Math.ceil((deadline - clock.now()) / 1000));
      const state = await connection.exec(sh`timeout ${left} systemctl is-system-running --wait`);
      const answer = state.stdout.trim();
      if (answer === 'running' || answer === 'degraded') return [before, schedule, booted, state];
      last = `it was ${answer || `not answering (exit ${state.exitCode})`}`;
    } catch (error) {
      last = (error as Error).message;
    }
  }
  throw new ConnectError(
    `${connection.host} did not come back within ${step.timeoutSeconds} s of the reboot: ${last}`,
    place,
  );
}

async function checked(connection: Connection, command: typeof BOOT_ID, place: ErrorPlace, what: string) {
  const result = await connection.exec(command);
  if (result.exitCode !== 0) throw new CommandError(result, place, what);
  return result;
}
