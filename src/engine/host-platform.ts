import { platformName, samePlatform, type Platform } from '../model/platform.ts';
import type { HostPlatformWork, HostWork } from './compile.ts';

/**
 * Whether a host's work in a play depends on its release, which must then be read from the host.
 *
 * @example
 * if (works.some(needsPlatform)) probes.push(osReleaseProbe);
 */
export function needsPlatform(work: HostPlatformWork): boolean {
  return work.works.some((w) => w.platform !== undefined);
}

/**
 * The work a host does in a play on the release it runs, or why it can do none: `refused` says, naming the host,
 * what it runs and what the play's roles support. `release` is the host's platform, or, when its os-release
 * names none, what was found instead (a sentence naming the host). A play whose roles declare no platforms has
 * one work for any release, whatever `release` is.
 *
 * @example
 * const chosen = chooseWork(play.work.get('primary')!, DEBIAN_13);
 * if ('refused' in chosen) fail(chosen.refused); else run(chosen.work);
 */
export function chooseWork(
  work: HostPlatformWork,
  release: Platform | string | undefined,
): { work: HostWork } | { refused: string } {
  if (!needsPlatform(work)) return { work: work.works[0] };
  // A play that needs the release builds its work for each release it supports: every one names its platform.
  const built = work.works.flatMap((w) => (w.platform ? [{ work: w, platform: w.platform }] : []));
  const supported = built.map((b) => platformName(b.platform)).join(', ');
  if (release === undefined)
    return { refused: `the release ${work.host} runs is not known; this play's roles support ${supported}` };
  if (typeof release === 'string') return { refused: `${release}; this play's roles support ${supported}` };
  const platform = release;
  const chosen = built.find((b) => samePlatform(b.platform, platform));
  if (chosen) return { work: chosen.work };
  const runs = `${work.host} runs ${platformName(platform, true)}`;
  const lacking = work.unsupported.find((u) => samePlatform(u.platform, platform));
  if (lacking)
    return {
      refused: `${runs}; ${lacking.roles.length > 1 ? 'roles' : 'role'} ${lacking.roles.join(', ')} of this play ${lacking.roles.length > 1 ? 'do' : 'does'} not support it (all its roles support ${supported})`,
    };
  return { refused: `${runs}; this play's roles support ${supported}` };
}
