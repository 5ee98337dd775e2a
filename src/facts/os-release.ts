import { sh } from '../connection/sh.ts';
import type { Probe } from './probe.ts';

/**
 * The host's `/etc/os-release` text (undefined when it has none), from which the engine reads the host's
 * platform (see `parsePlatform`). `/usr/lib/os-release` is the file os-release(5) falls back to.
 *
 * @example
 * await facts.gather([osReleaseProbe, ...others]); // in the host's first round trip
 * const platform = parsePlatform((await facts.get(osReleaseProbe)) ?? '', 'primary');
 */
export const osReleaseProbe: Probe<string | undefined> = {
  id: { kind: 'os-release', subject: '' },
  command: sh`cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release`,
  parse: (output) => (output.exitCode === 0 ? output.stdout : undefined),
};
