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
