import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../src/errors.ts';
import { checkVaultValues, parseVaultValues } from '../../../src/vault/contents.ts';

describe('parseVaultValues', () => {
  it('reads a JSON object of non-empty strings', () => {
    expect(parseVaultValues('v.json', '{"a": "b", "c": "d"}')).toEqual({ a: 'b', c: 'd' });
  });

  it.each([
    ['{"a": "hunter2-secret" x}', 'invalid JSON at line 1, column 24'],
    ['{\n  "a": "hunter2-secret",\n  b\n}', 'invalid JSON at line 3, column 3'],
    ['hunter2-secret', 'invalid JSON'],
    ['', 'the file is empty'],
  ])('says where the JSON is broken, never what is there: %j', (text, where) => {
    const error = (() => {
      try {
        parseVaultValues('v.json', text);
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error).toBeInstanceOf(ValidationError);
    expect(error!.message).toBe(`vault v.json is not a JSON object of strings: ${where}`);
    expect(error!.message).not.toContain('hunter2');
  });
});

describe('checkVaultValues', () => {
  it('names the first secret that is not a non-empty string', () => {
    expect(() => checkVaultValues('v.json', { a: 'b', c: 3 })).toThrow(
      'vault v.json: secret "c" must be a non-empty string, but it is a number',
    );
    expect(() => checkVaultValues('v.json', ['a'])).toThrow(
      'vault v.json is not a JSON object of strings: it holds an array',
    );
  });
});
