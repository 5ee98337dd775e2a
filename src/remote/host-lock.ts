import { hostname, userInfo } from 'node:os';
import type { Connection, HeldCommand } from '../connection/connection.ts';
import { joinCommands, sh } from '../connection/sh.ts';
import { ConnectError, PlayError } from '../errors.ts';
import { REMOTE_EXIT } from './protocol.ts';
import { makeStateDir, type HostStatePaths } from './host-state.ts';

const LOCK_BUSY = REMOTE_EXIT.lockBusy;

/** Another run holds a host's lock and this one was told not to wait (`--no-wait`): exit code 1. */
export class HostLockedError extends PlayError {}

/** Who a run is, as the lock's holder line tells another run: user@controller, pid and start time. */
export function lockHolder(now = new Date()): string {
  return `${userInfo().username}@${hostname()} pid ${process.pid} since ${now.toISOString()}`;
}

/** The lock a run holds on one host: released at the end of the run, or by the kernel when the run dies. */
export interface HostLock {
  release(): Promise<void>;
}

/**
 * The shell script that takes the lock: `flock` on a file held open by a process that lives as long as its
 * stdin (the connection). It prints `waiting <holder>` when it must wait, `locked` once it holds the lock; with
 * `wait: false` it exits `REMOTE_EXIT.lockBusy` after printing `busy <holder>`.
 */
export function lockScript(paths: HostStatePaths, holder: string, wait: boolean) {
  return joinCommands(
    [
      sh`set -e`,
      makeStateDir(paths),
      sh`exec 9>>${paths.lock}`,
      sh`if ! flock -n 9; then`,
      wait
        ? sh`  echo "waiting $(cat ${paths.holder} 2>/dev/null || echo 'another run')"; flock 9`
        : sh`  echo "busy $(cat ${paths.holder} 2>/dev/null || echo 'another run')"; exit ${LOCK_BUSY}`,
      sh`fi`,
      sh`printf '%s\n' ${holder} > ${paths.holder}`,
      sh`echo locked`,
      // cat inherits fd 9: the lock is held until stdin closes (released, or the connection gone).
      sh`exec cat > /dev/null`,
    ],
    '\n',
  );
}

/**
 * Takes a host's run lock: waits for another run to finish (telling `onWait` who holds it) or, with
 * `wait: false`, fails at once with a {@link HostLockedError} naming the holder. A run killed while it holds the
 * lock loses it at once: its connection closes, sshd closes the holder's stdin, and the kernel drops the flock.
 *
 * @example
 * const lock = await takeHostLock(connection, hostStatePaths('primary'), { wait: true, onWait: (who) => log(who) });
 * try { … } finally { await lock.release(); }
 */
export async function takeHostLock(
  connection: Connection,
  paths: HostStatePaths,
  options: { wait: boolean; holder?: string; onWait?: (holder: string) => void },
): Promise<HostLock> {
  let output = '';
  // The executor runs at once, so both are set before any output can arrive.
  const settle = { resolve: (): void => undefined, reject: (_error: Error): void => undefined };
  const locked = new Promise<void>((resolve, reject) => {
    settle.resolve = resolve;
    settle.reject = reject;
  });
  const held: HeldCommand = connection.hold(lockScript(paths, options.holder ?? lockHolder(), options.wait), {
    onStdout: (text) => {
      output += text;
      for (const line of output.split('\n').slice(0, -1)) {
        if (line === 'locked') settle.resolve();
        else if (line.startsWith('waiting ')) options.onWait?.(line.slice('waiting '.length));
      }
      output = output.slice(output.lastIndexOf('\n') + 1);
    },
  });
  held.exited.then(
    (result) => {
      if (result.exitCode === LOCK_BUSY) {
        const who = (result.stdout.split('\n').find((l) => l.startsWith('busy ')) ?? 'busy another run').slice(
          'busy '.length,
        );
        settle.reject(
          new HostLockedError(
            `${connection.host} is locked by another play run (${who}); it was not touched (--no-wait)`,
            { host: connection.host },
          ),
        );
      } else {
        settle.reject(
          new PlayError(`the run lock of ${connection.host} ended (exit ${result.exitCode}): ${result.stderr.trim()}`, {
            host: connection.host,
          }),
        );
      }
    },
    (error: unknown) =>
      settle.reject(error instanceof ConnectError ? error : new ConnectError(String(error), { host: connection.host })),
  );
  await locked;
  return { release: () => held.release() };
}
