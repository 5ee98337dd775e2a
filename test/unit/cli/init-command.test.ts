import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_INIT_TEMPLATE, INIT_COMMAND_USAGE } from '../../../src/cli/init-command.ts';
import { main } from '../../../src/cli/main.ts';

const FIXTURES = join(import.meta.dirname, 'fixtures');
const work = mkdtempSync(join(tmpdir(), 'play-init-command-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs `play …` in-process, collecting what it writes. */
async function play(argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
  });
  return { code, stdout, stderr };
}

describe('play init --from TEMPLATE', () => {
  it('runs a second, tiny template from a file: it gets DIR and its own options, not --from', async () => {
    const dir = join(work, 'greeting');
    const result = await play(['init', dir, '--from', join(FIXTURES, 'tiny-template.ts'), '--name', 'Bu Sari']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(readFileSync(join(dir, 'hello.txt'), 'utf8')).toBe('hello, Bu Sari\n');
  });

  it('takes a path relative to the working folder and --from=VALUE', async () => {
    const dir = join(work, 'relative');
    const from = `./${relative(process.cwd(), join(FIXTURES, 'tiny-template.ts'))}`;
    expect((await play(['init', `--from=${from}`, dir])).code).toBe(0);
    expect(existsSync(join(dir, 'hello.txt'))).toBe(true);
  });

  it("passes the template's own refusal on (exit 2), and its --help", async () => {
    const refused = await play(['init', join(work, 'x'), '--from', join(FIXTURES, 'tiny-template.ts'), '--colour']);
    expect(refused).toMatchObject({ code: 2, stderr: 'play init: tiny-template: give DIR and at most --name NAME\n' });
    expect(existsSync(join(work, 'x'))).toBe(false);
    const help = await play(['init', '--from', join(FIXTURES, 'tiny-template.ts'), '--help']);
    expect(help).toMatchObject({ code: 0, stdout: 'Usage: play init DIR --from tiny-template [--name NAME]\n' });
  });

  it('refuses with exit 2 and one line: a missing file, a module without initTemplate, a package that is not there, --from without a value', async () => {
    const cases: [string[], RegExp][] = [
      [['--from', './no/such-template.ts'], /^play init: init template not found: \.\/no\/such-template\.ts\n$/],
      [
        ['--from', join(FIXTURES, 'not-a-template.ts')],
        /^play init: .*not-a-template\.ts is not a play init template: it has no export initTemplate made with defineInitTemplate/,
      ],
      [['--from', '@nowhere/no-such-template'], /^play init: cannot load init template @nowhere\/no-such-template: /],
      [['--from'], /^play init: --from needs a template/],
      [['--from', 'play/school', '--from', 'play/school'], /^play init: --from given twice/],
    ];
    for (const [args, message] of cases) {
      const result = await play(['init', join(work, 'refused'), ...args]);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr, args.join(' ')).toMatch(message);
      expect(result.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
    }
    expect(existsSync(join(work, 'refused'))).toBe(false);
  });

  it("uses the school's template by default: --help shows play init's usage, then the school's own", async () => {
    expect(DEFAULT_INIT_TEMPLATE).toBe('play/school');
    const help = await play(['init', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout.startsWith(INIT_COMMAND_USAGE)).toBe(true);
    expect(help.stdout).toContain("The default template, play/school: a school's webmail pair");
    expect(help.stdout).toContain('--school NAME');
    // The same as naming it.
    const named = await play(['init', '--from', 'play/school', '--help']);
    expect(help.stdout.endsWith(named.stdout)).toBe(true);
  });
});
