/**
 * A release of an operating system that roles build their tasks for: Debian by its major version. The codename
 * is for people to read; two platforms are the same when their id and major are.
 *
 * @example
 * const platform: Platform = { id: 'debian', major: 13, codename: 'trixie' };
 */
export interface Platform {
  readonly id: 'debian';
  readonly major: number;
  readonly codename: string;
}

/**
 * Debian 12 (bookworm).
 *
 * @example
 * defineRole({ name: 'php', platforms: [DEBIAN_12, DEBIAN_13], tasks: ({ platform }) => [...] });
 */
export const DEBIAN_12: Platform = Object.freeze({ id: 'debian', major: 12, codename: 'bookworm' });

/**
 * Debian 13 (trixie).
 *
 * @example
 * const fpm = platform.major >= DEBIAN_13.major ? 'php8.4-fpm' : 'php8.2-fpm';
 */
export const DEBIAN_13: Platform = Object.freeze({ id: 'debian', major: 13, codename: 'trixie' });

/**
 * Whether two platforms are the same release (id and major; the codename follows from them).
 *
 * @example
 * samePlatform(parsePlatform(text, 'primary'), DEBIAN_13); // true on trixie
 */
export function samePlatform(a: Platform, b: Platform): boolean {
  return a.id === b.id && a.major === b.major;
}

/**
 * A platform as messages name it: `Debian 13`, or with its codename, `Debian 13 (trixie)`.
 *
 * @example
 * platformName(DEBIAN_13);        // 'Debian 13'
 * platformName(DEBIAN_13, true);  // 'Debian 13 (trixie)'
 */
export function platformName(platform: Platform, withCodename = false): string {
  const name = `Debian ${platform.major}`;
  return withCodename && platform.codename ? `${name} (${platform.codename})` : name;
}

/**
 * The fields of an `/etc/os-release` text (see os-release(5)): `KEY=value` lines, values unquoted as the shell
 * would (double or single quotes, backslash escapes in double quotes); comments and blank lines skipped.
 *
 * @example
 * parseOsRelease('ID=debian\nVERSION_ID="13"\n'); // { ID: 'debian', VERSION_ID: '13' }
 */
export function parseOsRelease(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^\s*([A-Z][A-Z0-9_]*)=(.*?)\s*$/.exec(line);
    if (!match) continue;
    const [, key, raw] = match;
    let value = raw;
    if (raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"'))
      value = raw.slice(1, -1).replace(/\\([\\"$`])/g, '$1');
    else if (raw.length >= 2 && raw.startsWith("'") && raw.endsWith("'")) value = raw.slice(1, -1);
    fields[key] = value;
  }
  return fields;
}

/**
 * The platform a host runs, from its `/etc/os-release` text. Throws, naming the host and what it found, for a
 * system that is not Debian and for a Debian without a release number (testing or unstable, whose os-release
 * has no `VERSION_ID`): roles are written for releases, and these are none.
 *
 * @example
 * parsePlatform('ID=debian\nVERSION_ID="13"\nVERSION_CODENAME=trixie\n', 'primary'); // { id: 'debian', major: 13, codename: 'trixie' }
 */
export function parsePlatform(osRelease: string, host: string): Platform {
  const fields = parseOsRelease(osRelease);
  const found =
    fields.PRETTY_NAME || [fields.NAME, fields.VERSION].filter(Boolean).join(' ') || fields.ID || 'an unknown system';
  if (fields.ID !== 'debian') {
    const id = fields.ID ? `ID=${fields.ID}` : 'no ID';
    throw new Error(
      `${host} runs ${found} (${id} in /etc/os-release), not Debian: play's platforms are Debian releases`,
    );
  }
  const version = fields.VERSION_ID;
  if (version === undefined || !/^\d+$/.test(version)) {
    const what = version === undefined ? 'no VERSION_ID' : `VERSION_ID=${version}`;
    throw new Error(
      `${host} runs ${found} (${what} in /etc/os-release): a Debian without a release number (testing or unstable) is no platform roles support`,
    );
  }
  return { id: 'debian', major: Number(version), codename: fields.VERSION_CODENAME ?? '' };
}
