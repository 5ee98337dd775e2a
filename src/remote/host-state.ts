import { sh, type ShellCommand } from '../connection/sh.ts';

/**
 * Where play keeps what must outlive a run on a host: the run lock and the handlers still to run. One folder per
 * inventory host name under `root` (`PLAY_STATE_DIR` when set, else `/var/lib/play`), so two inventory hosts that
 * are one machine (the controller twice, in tests) never share a lock or a journal. Two inventories that give one
 * server two names do not exclude each other.
 */
export interface HostStatePaths {
  readonly dir: string;
  /** The file `flock` holds while a run changes the host. */
  readonly lock: string;
  /** Who holds the lock: user@controller, pid and start time, one line. */
  readonly holder: string;
  /** One JSON line per handler notified and not yet run. */
  readonly pendingHandlers: string;
}

/** The default root of {@link HostStatePaths}. */
export const DEFAULT_STATE_ROOT = '/var/lib/play';

/**
 * The state paths of one host.
 *
 * @example
 * hostStatePaths('primary').pendingHandlers // '/var/lib/play/primary/pending-handlers'
 */
export function hostStatePaths(host: string, root = process.env.PLAY_STATE_DIR || DEFAULT_STATE_ROOT): HostStatePaths {
  const dir = `${root.replace(/\/+$/, '')}/${host}`;
  return { dir, lock: `${dir}/lock`, holder: `${dir}/lock.holder`, pendingHandlers: `${dir}/pending-handlers` };
}

/** The command that makes the state folder, root's alone (it says which handlers a server still owes). */
export function makeStateDir(paths: HostStatePaths): ShellCommand {
  return sh`mkdir -p ${paths.dir} && chmod 0700 ${paths.dir}`;
}
