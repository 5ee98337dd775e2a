import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { matchesSha512Crypt, randomSalt, sha512Crypt } from '../../src/crypt.ts';

const openssl = (password: string, salt: string) =>
  execFileSync('openssl', ['passwd', '-6', '-salt', salt, '-stdin'], { input: password, encoding: 'utf8' }).trim();

describe('sha512Crypt', () => {
  it.each([
    ['secret', 'saltsalt'],
    ['x', 'abc'],
    ['Guru1-pässwörd ✓', 'x./9AZaz01234567'],
    ['a'.repeat(200), 'longsaltlongsalt'],
    ['kepsek', 'a'],
  ])('%j with salt %j matches openssl passwd -6', (password, salt) => {
    expect(sha512Crypt(password, salt)).toBe(openssl(password, salt));
  });

  it('matches the published test vector', () => {
    // From Drepper's SHA-crypt specification (rounds=5000 default).
    expect(sha512Crypt('Hello world!', 'saltstring')).toBe(
      '$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1',
    );
  });

  it('recognises the hash of a password with its own salt, and random salts differ', () => {
    const salt = randomSalt();
    expect(salt).toMatch(/^[./0-9A-Za-z]{16}$/);
    expect(randomSalt()).not.toBe(salt);
    const hash = sha512Crypt('pw-1', salt);
    expect(matchesSha512Crypt('pw-1', hash)).toBe(true);
    expect(matchesSha512Crypt('pw-2', hash)).toBe(false);
    expect(matchesSha512Crypt('pw-1', '!')).toBe(false);
  });
});
