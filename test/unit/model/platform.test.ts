import { describe, expect, it } from 'vitest';
import {
  DEBIAN_12,
  DEBIAN_13,
  parseOsRelease,
  parsePlatform,
  platformName,
  samePlatform,
} from '../../../src/model/platform.ts';

// As the hosts have them (Debian 13.2 and 12 images, a trixie/sid system, Ubuntu 24.04).
const TRIXIE = `PRETTY_NAME="Debian GNU/Linux 13 (trixie)"
NAME="Debian GNU/Linux"
VERSION_ID="13"
VERSION="13 (trixie)"
VERSION_CODENAME=trixie
DEBIAN_VERSION_FULL=13.2
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
`;

const BOOKWORM = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
`;

const BULLSEYE = `PRETTY_NAME="Debian GNU/Linux 11 (bullseye)"
NAME="Debian GNU/Linux"
VERSION_ID="11"
VERSION="11 (bullseye)"
VERSION_CODENAME=bullseye
ID=debian
`;

const TESTING = `PRETTY_NAME="Debian GNU/Linux forky/sid"
NAME="Debian GNU/Linux"
VERSION_CODENAME=forky
ID=debian
HOME_URL="https://www.debian.org/"
`;

const UBUNTU = `PRETTY_NAME="Ubuntu 24.04.1 LTS"
NAME="Ubuntu"
VERSION_ID="24.04"
VERSION="24.04.1 LTS (Noble Numbat)"
VERSION_CODENAME=noble
ID=ubuntu
ID_LIKE=debian
UBUNTU_CODENAME=noble
`;

describe('parsePlatform', () => {
  it.each([
    ['Debian 13', TRIXIE, DEBIAN_13],
    ['Debian 12', BOOKWORM, DEBIAN_12],
    ['Debian 11', BULLSEYE, { id: 'debian', major: 11, codename: 'bullseye' }],
  ])('reads %s', (_, text, platform) => {
    expect(parsePlatform(text, 'primary')).toEqual(platform);
  });

  it('refuses Debian testing or unstable (no VERSION_ID), naming the host and what it runs', () => {
    expect(() => parsePlatform(TESTING, 'backup')).toThrow(
      'backup runs Debian GNU/Linux forky/sid (no VERSION_ID in /etc/os-release): a Debian without a release number (testing or unstable) is no platform roles support',
    );
  });

  it('refuses a system that is not Debian, even one like it', () => {
    expect(() => parsePlatform(UBUNTU, 'primary')).toThrow(
      "primary runs Ubuntu 24.04.1 LTS (ID=ubuntu in /etc/os-release), not Debian: play's platforms are Debian releases",
    );
    expect(() => parsePlatform('', 'primary')).toThrow('primary runs an unknown system (no ID in /etc/os-release)');
  });
});

describe('parseOsRelease', () => {
  it('unquotes values as the shell would and skips comments and blank lines', () => {
    expect(
      parseOsRelease(`# comment\n\nA="x \\"y\\" \\$z"\nB='single $q'\nC=bare\n  D="spaced"  \nnot a field\n`),
    ).toEqual({
      A: 'x "y" $z',
      B: 'single $q',
      C: 'bare',
      D: 'spaced',
    });
  });
});

describe('platform names and equality', () => {
  it('names a release with or without its codename, and compares by id and major', () => {
    expect(platformName(DEBIAN_13)).toBe('Debian 13');
    expect(platformName(DEBIAN_12, true)).toBe('Debian 12 (bookworm)');
    expect(samePlatform(parsePlatform(TRIXIE, 'h'), DEBIAN_13)).toBe(true);
    expect(samePlatform(DEBIAN_12, DEBIAN_13)).toBe(false);
    expect(Object.isFrozen(DEBIAN_13)).toBe(true);
  });
});
