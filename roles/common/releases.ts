import { DEBIAN_12, DEBIAN_13, type Platform } from 'play';

/**
 * The Debian releases the school's roles are written for. A role whose tasks differ between them declares
 * `platforms: SCHOOL_RELEASES` and says, in one place of its own, what differs (each role's README has the table).
 *
 * @example
 * defineRole({ name: 'roundcube', platforms: SCHOOL_RELEASES, tasks: ({ platform }) => [...] });
 */
export const SCHOOL_RELEASES: readonly Platform[] = [DEBIAN_12, DEBIAN_13];
