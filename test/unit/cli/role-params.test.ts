import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.ts';

const FIXTURE = join(
  resolve(fileURLToPath(new URL('../../..', import.meta.url))),
  'test/fixtures/cli/broken/bad-role-param.mjs',
);
const MESSAGE = 'play "greeters": role motd has no var "greting" (did you mean "greeting"? its vars: greeting, port)';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'play-role-params-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Runs main() in this process with captured streams, managed files going to `dir`. */
async function play(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  process.env.PLAY_TEST_DIR = dir;
  let stdout = '';
  let stderr = '';
  const code = await main(args, {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
  });
  return { code, stdout, stderr };
}

describe('a misspelled role param in a plain JavaScript playbook', () => {
  it('exits 2 naming the play, the role, the key and the vars it has; the valid play before it runs nothing', async () => {
    const result = await play([FIXTURE]);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`play: invalid input: motd (${FIXTURE}): ${MESSAGE}\n`);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('is refused by --check and --list-tasks too, and reported as one JSON error with --json', async () => {
    for (const flag of ['--check', '--list-tasks']) {
      const result = await play([FIXTURE, flag]);
      expect(result.code, flag).toBe(2);
      expect(result.stderr, flag).toContain(MESSAGE);
    }
    const json = await play([FIXTURE, '--json']);
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout)).toEqual({ error: `motd (${FIXTURE}): ${MESSAGE}`, exitCode: 2 });
    expect(readdirSync(dir)).toEqual([]);
  });
});
