import { describe, expect, it } from 'vitest';
import { DEFAULT_FORKS, parseCliArgs } from '../../../src/cli/args.ts';

describe('parseCliArgs', () => {
  it('runs 25 hosts at once unless --forks says otherwise (the fastest of bench:scale at 100 hosts)', () => {
    expect(DEFAULT_FORKS).toBe(25);
    expect(parseCliArgs(['site.ts']).forks).toBe(25);
    expect(parseCliArgs(['site.ts', '--forks', '3']).forks).toBe(3);
    expect(parseCliArgs(['site.ts', '-f', '100']).forks).toBe(100);
  });

  it('refuses a --forks that is not a positive integer, naming it', () => {
    for (const bad of ['0', '-2', '2.5', 'many'])
      expect(() => parseCliArgs(['site.ts', `--forks=${bad}`])).toThrow(/--forks must be a positive integer/);
  });
});

describe('parseCliArgs: -e', () => {
  it('collects NAME=VALUE and JSON objects in order, a later one winning; none gives {}', () => {
    expect(parseCliArgs(['site.ts']).extraVars).toEqual({});
    expect(
      parseCliArgs(['site.ts', '-e', 'a=1', '--extra-vars', '{"b": [1, 2], "a": "j"}', '-e', 'c=x=y']).extraVars,
    ).toEqual({ a: 'j', b: [1, 2], c: 'x=y' });
  });

  it('play verify refuses it: it only reads', () => {
    expect(() => parseCliArgs(['verify', 'site.ts', '-e', 'a=1'])).toThrow(
      'play verify only reads: --extra-vars has no meaning there',
    );
  });
});
