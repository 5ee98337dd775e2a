import { describe, expect, it } from 'vitest';
import { MaskTable } from '../../src/mask-table.ts';
import { MASK, Secret, secret } from '../../src/secret.ts';

describe('secret and its mask table', () => {
  it('masks a secret wherever it appears, also escaped for JSON or with backslashes before its quotes', () => {
    const value = `Pa'ss"wo\\rd-4417`;
    const s = secret(value);
    expect(String(s)).toBe(MASK);
    expect(JSON.stringify({ s })).toBe(`{"s":"${MASK}"}`);
    const masks = new MaskTable().add(s);
    expect(masks.mask(`plain ${value} end`)).toBe(`plain ${MASK} end`);
    expect(masks.mask(JSON.stringify({ error: `failed with ${value}` }))).toBe(`{"error":"failed with ${MASK}"}`);
    expect(masks.mask(`$config['des_key'] = '${value.replace(/['"\\]/g, '\\$&')}';`)).toBe(
      `$config['des_key'] = '${MASK}';`,
    );
  });

  it('masks each line of a multi-line secret', () => {
    const key = 'line-one-AAAA\nline-two-BBBB';
    const masks = new MaskTable().add(secret(key));
    expect(masks.mask('- line-two-BBBB')).toBe(`- ${MASK}`);
  });

  it('masks a secret added before it is loaded from the moment it is revealed, longest value first', () => {
    const later = new Secret(() => 'vault-secret-9902');
    const masks = new MaskTable().add(later).add('secret-99');
    expect(masks.mask('vault-secret-9902 secret-99')).toBe(`vault-${MASK}02 ${MASK}`);
    later.reveal();
    expect(masks.mask('vault-secret-9902 secret-99')).toBe(`${MASK} ${MASK}`);
  });

  it('finds the secrets inside vars: plain objects, arrays and maps, at any depth', () => {
    const masks = new MaskTable().addSecretsIn({
      a: [{ b: secret('deep-secret-1') }],
      m: new Map([['k', secret('map-secret-2')]]),
      plain: 'not-secret-3',
    });
    expect(masks.mask('deep-secret-1 map-secret-2 not-secret-3')).toBe(`${MASK} ${MASK} not-secret-3`);
  });

  it('masks nothing a table was not given: each run has its own', () => {
    const value = secret('own-run-secret-7');
    expect(new MaskTable().mask(`x ${value.reveal()}`)).toBe('x own-run-secret-7');
    expect(new MaskTable().add(value).mask(`x ${value.reveal()}`)).toBe(`x ${MASK}`);
  });
});
