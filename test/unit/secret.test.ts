import { describe, expect, it } from 'vitest';
import { MASK, mask, secret } from '../../src/secret.ts';

describe('secret and mask', () => {
  it('masks a secret wherever it appears, also escaped for JSON or with backslashes before its quotes', () => {
    const value = `Pa'ss"wo\\rd-4417`;
    const s = secret(value);
    expect(String(s)).toBe(MASK);
    expect(JSON.stringify({ s })).toBe(`{"s":"${MASK}"}`);
    expect(mask(`plain ${value} end`)).toBe(`plain ${MASK} end`);
    expect(mask(JSON.stringify({ error: `failed with ${value}` }))).toBe(`{"error":"failed with ${MASK}"}`);
    expect(mask(`$config['des_key'] = '${value.replace(/['"\\]/g, '\\$&')}';`)).toBe(`$config['des_key'] = '${MASK}';`);
  });

  it('masks each line of a multi-line secret', () => {
    const key = 'line-one-AAAA\nline-two-BBBB';
    secret(key);
    expect(mask('- line-two-BBBB')).toBe(`- ${MASK}`);
  });
});
