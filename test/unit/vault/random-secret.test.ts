import { describe, expect, it } from 'vitest';
import { randomSecret, SECRET_ALPHABET } from '../../../src/vault/random-secret.ts';

describe('randomSecret', () => {
  it("makes letters and digits of play's alphabet, of the length asked", () => {
    const value = randomSecret({ length: 200 });
    expect(value).toHaveLength(200);
    expect([...value].every((c) => SECRET_ALPHABET.includes(c))).toBe(true);
    expect(SECRET_ALPHABET).not.toMatch(/[0O1Il]/);
  });

  it('makes base64 of the byte count asked', () => {
    expect(Buffer.from(randomSecret({ base64Bytes: 32 }), 'base64')).toHaveLength(32);
  });
});
