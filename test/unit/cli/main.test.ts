import { execFile } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../../src/cli/main.ts';
import { SshConnection } from '../../../src/connection/ssh.ts';
import { freePort } from '../../support/sshd.ts';

const ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const FIXTURES = join(ROOT, 'test/fixtures/cli');
const BIN = join(ROOT, 'dist/src/cli/play.js');
const SECRET_VALUE = 'TOPSECRET-123';

const fixture = (name: string) => join(FIXTURES, name);

interface Outcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** Runs main() in this process with captured streams, managed files going to `dir`. */
async function play(args: readonly string[], dir: string): Promise<Outcome> {
  process.env.PLAY_TEST_DIR = dir;
  let stdout = '';
  let stderr = '';
  const started = performance.now();
  const code = await main(args, {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
  });
  return { code, stdout, stderr, ms: performance.now() - started };
}

/** Runs the real binary (`node dist/src/cli/play.js`, built by `npm run build`). */
function spawnPlay(
  args: readonly string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<Outcome> {
  const started = performance.now();
  return new Promise((resolvePromise) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd: options.cwd ?? ROOT, env: { ...process.env, CI: '1', ...options.env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolvePromise({ code, stdout, stderr, ms: performance.now() - started });
      },
    );
  });
}

/** Every file under `dir` with its bytes, mode and mtime: equal snapshots mean nothing was touched. */
function snapshot(dir: string): Record<string, { content: string; mode: number; mtimeMs: number }> {
  const out: Record<string, { content: string; mode: number; mtimeMs: number }> = {};
  for (const name of readdirSync(dir, { recursive: true }) as string[]) {
    const path = join(dir, name);
    const stat = statSync(path);
    out[name] = {
      content: stat.isFile() ? readFileSync(path).toString('base64') : '(dir)',
      mode: stat.mode,
      mtimeMs: stat.mtimeMs,
    };
  }
  return out;
}

/** The 1-based line of the fixture that holds `marker`. */
function lineOf(file: string, marker: string): number {
  const index = readFileSync(file, 'utf8')
    .split('\n')
    .findIndex((l) => l.includes(marker));
  if (index < 0) throw new Error(`${marker} not in ${file}`);
  return index + 1;
}

interface JsonReport {
  check: boolean;
  hosts: Record<
    string,
    { ok: number; changed: number; failed: number; skipped: number; unreachable: number; commands: number }
  >;
  tasks: {
    host: string;
    play: string;
    role?: string;
    task: string;
    status: string;
    durationMs: number;
    diff?: string;
    error?: string;
  }[];
}

const totalChanged = (report: JsonReport) => Object.values(report.hosts).reduce((n, h) => n + h.changed, 0);

const temps: string[] = [];
function tempDir(prefix = 'play-cli-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  temps.push(dir);
  return dir;
}

let dir: string;
beforeEach(() => {
  dir = tempDir();
});
afterEach(() => {
  vi.restoreAllMocks();
  delete process.env.PLAY_TEST_DIR;
  for (const d of temps.splice(0)) rmSync(d, { recursive: true, force: true });
});

const hostFiles = (host: string) => ['motd', 'static', 'secret', 'stored', 'notified'].map((ext) => `${host}.${ext}`);

describe('play CLI: successful runs', { timeout: 60_000 }, () => {
  it('exits 0, converges every host, and a second run changes nothing', async () => {
    const first = await play([fixture('site.ts'), '--json'], dir);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const report1 = JSON.parse(first.stdout) as JsonReport;
    expect(report1.hosts.alpha.changed).toBeGreaterThan(0);
    expect(report1.hosts.beta.changed).toBeGreaterThan(0);
    expect(readdirSync(dir).sort()).toEqual([...hostFiles('alpha'), ...hostFiles('beta')].sort());
    expect(readFileSync(join(dir, 'alpha.motd'), 'utf8')).toBe('# managed by play\nhello from alpha\nport 80\n');
    // The secret really reached the host (as file content, as an argument and on stdin).
    expect(readFileSync(join(dir, 'alpha.secret'), 'utf8')).toBe(SECRET_VALUE);
    expect(readFileSync(join(dir, 'alpha.stored'), 'utf8')).toBe(`${SECRET_VALUE}\n${SECRET_VALUE}`);

    const before = snapshot(dir);
    const second = await play([fixture('site.ts'), '--json'], dir);
    expect(second.code).toBe(0);
    const report2 = JSON.parse(second.stdout) as JsonReport;
    expect(totalChanged(report2)).toBe(0);
    expect(report2.tasks.every((t) => t.status === 'ok')).toBe(true);
    expect(snapshot(dir)).toEqual(before);
  });

  it('--profile prints on stderr where the time went, phase by phase, and leaves stdout as it was', async () => {
    const result = await play([fixture('site.ts'), '--json', '--profile'], dir);
    expect(result.code).toBe(0);
    expect(() => JSON.parse(result.stdout)).not.toThrow();
    const lines = result.stderr.split('\n').filter((l) => /^ {2}\S/.test(l));
    expect(lines.map((l) => l.trim().split(/\s{2,}/)[0])).toEqual([
      'load playbook',
      'vault',
      'compile',
      'connect and read facts',
      'plan and apply',
      'close connections',
      'report',
      'total',
    ]);
    const ms = lines.map((l) => Number(/(\d+) ms/.exec(l)![1]));
    // The total is the sum of the phases (each rounded).
    expect(Math.abs(ms.slice(0, -1).reduce((a, b) => a + b, 0) - ms.at(-1)!)).toBeLessThanOrEqual(ms.length);
  });

  it('prints a plain log and a PLAY RECAP without --json', async () => {
    const result = await play([fixture('site.ts')], dir);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('PLAY [site] hosts: alpha, beta');
    expect(result.stdout).toMatch(/alpha \| changed \| motd › motd file/);
    expect(result.stdout).toContain('+hello from alpha');
    expect(result.stdout).toMatch(/PLAY RECAP\nalpha\s+ok=0 changed=5 failed=0 skipped=0 unreachable=0/);
  });

  it('--json prints exactly one JSON document with per-host counts, per-task results and diffs', async () => {
    const result = await play([fixture('site.ts'), '--json'], dir);
    expect(result.code).toBe(0);
    expect(result.stdout.endsWith('\n')).toBe(true);
    const report = JSON.parse(result.stdout) as JsonReport;
    expect(report.check).toBe(false);
    expect(Object.keys(report.hosts).sort()).toEqual(['alpha', 'beta']);
    for (const host of ['alpha', 'beta']) {
      const recap = report.hosts[host];
      for (const key of ['ok', 'changed', 'failed', 'skipped', 'unreachable', 'commands'] as const)
        expect(typeof recap[key]).toBe('number');
      expect(recap).toMatchObject({ ok: 0, changed: 5, failed: 0, skipped: 0, unreachable: 0 });
      expect(recap.commands).toBeGreaterThan(0);
    }
    expect(report.tasks.length).toBe(10);
    for (const t of report.tasks) {
      expect(t).toMatchObject({
        host: expect.any(String),
        play: 'site',
        role: expect.any(String),
        task: expect.any(String),
        status: expect.any(String),
        durationMs: expect.any(Number),
      });
    }
    const motd = report.tasks.find((t) => t.host === 'alpha' && t.task === 'motd file')!;
    expect(motd).toMatchObject({ role: 'motd', status: 'changed' });
    expect(motd.diff).toContain('+hello from alpha');
    expect(report.tasks.find((t) => t.host === 'beta' && t.task === 'static file')!.diff).toContain('+static');
    expect(report.tasks.find((t) => t.host === 'alpha' && t.task === 'note motd')).toMatchObject({
      status: 'changed',
      handler: true,
    });
  });

  it('--limit narrows the hosts that run', async () => {
    const result = await play([fixture('site.ts'), '--json', '-l', 'beta'], dir);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as JsonReport;
    expect(Object.keys(report.hosts)).toEqual(['beta']);
    expect(readdirSync(dir).sort()).toEqual(hostFiles('beta').sort());
  });

  it('--tags narrows the tasks that run', async () => {
    const result = await play([fixture('site.ts'), '--json', '--tags', 'static'], dir);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as JsonReport;
    expect(report.tasks.map((t) => t.task)).toEqual(['static file', 'static file']);
    expect(readdirSync(dir).sort()).toEqual(['alpha.static', 'beta.static']);
  });

  it("-i replaces the playbook's inventory", async () => {
    const result = await play([fixture('site.ts'), '--json', '-i', fixture('inventory-other.ts')], dir);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as JsonReport;
    expect(Object.keys(report.hosts)).toEqual(['gamma']);
    expect(readdirSync(dir).sort()).toEqual(hostFiles('gamma').sort());
  });
});

describe('play CLI: --check', { timeout: 60_000 }, () => {
  it('exits 0 and changes nothing on disk', async () => {
    const result = await play([fixture('site.ts'), '--check'], dir);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('PLAY RECAP (check mode: nothing was changed)');
    expect(result.stdout).toMatch(/alpha \| would change \| motd › motd file/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('--detailed-exitcode: 3 while something would change, 0 once converged', async () => {
    const pending = await play([fixture('site.ts'), '--check', '--detailed-exitcode', '--json'], dir);
    expect(pending.code).toBe(3);
    const report = JSON.parse(pending.stdout) as JsonReport;
    expect(report.check).toBe(true);
    expect(totalChanged(report)).toBe(10);
    expect(readdirSync(dir)).toEqual([]);

    expect((await play([fixture('site.ts'), '--json'], dir)).code).toBe(0);
    const converged = await play([fixture('site.ts'), '--check', '--detailed-exitcode'], dir);
    expect(converged.code).toBe(0);
  });

  it('shows the diff of a hand-edited file and leaves it as hand-edited', async () => {
    expect((await play([fixture('site.ts'), '--json'], dir)).code).toBe(0);
    writeFileSync(join(dir, 'alpha.motd'), '# managed by play\nHAND EDITED LINE\nport 80\n');
    const before = snapshot(dir);
    const result = await play([fixture('site.ts'), '--check'], dir);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('-HAND EDITED LINE');
    expect(result.stdout).toContain('+hello from alpha');
    expect(result.stdout).toMatch(/alpha \| would change \| motd › motd file/);
    expect(result.stdout).toMatch(/beta \| ok \| motd › motd file/);
    expect(readFileSync(join(dir, 'alpha.motd'), 'utf8')).toBe('# managed by play\nHAND EDITED LINE\nport 80\n');
    expect(snapshot(dir)).toEqual(before);
  });
});

describe('play CLI: invalid input exits 2 and touches nothing', { timeout: 60_000 }, () => {
  const expectUntouched = () => expect(readdirSync(dir)).toEqual([]);

  it('an unknown flag', async () => {
    const result = await play([fixture('site.ts'), '--bogus'], dir);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--bogus');
    expect(result.stderr).toContain('Usage: play PLAYBOOK');
    expectUntouched();
  });

  it('no playbook', async () => {
    const result = await play([], dir);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('no playbook given');
    expectUntouched();
  });

  it('a playbook that does not exist', async () => {
    const result = await play([fixture('nope.ts')], dir);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('playbook not found');
    expect(result.stderr).toContain('nope.ts');
    expectUntouched();
  });

  it('--forks 0', async () => {
    const result = await play([fixture('site.ts'), '--forks', '0'], dir);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--forks must be a positive integer');
    expectUntouched();
  });

  it.each([
    ['', '--limit was given an empty pattern'],
    ['db*', 'host pattern "db*" matches no host or group'],
    ['constructor', 'host pattern "constructor" names no host or group'],
    ['alpha:&nobody', 'host pattern "nobody" names no host or group'],
    ['!alpha:!beta', 'host pattern "!alpha:!beta" selects no host'],
  ])('--limit %j', async (limit, message) => {
    const result = await play([fixture('site.ts'), '--limit', limit], dir);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
    expectUntouched();
  });

  it('--limit !alpha runs on every host but alpha', async () => {
    const result = await play([fixture('site.ts'), '--list-hosts', '--limit', '!alpha'], dir);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('beta');
    expect(result.stdout).not.toMatch(/\balpha\b/);
  });

  it('--detailed-exitcode without --check', async () => {
    const result = await play([fixture('site.ts'), '--detailed-exitcode'], dir);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--detailed-exitcode needs --check');
    expectUntouched();
  });

  it('a bad inventory: names the file, the host and the property path', async () => {
    const result = await play([fixture('broken/bad-inventory-playbook.ts')], dir);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('invalid inventory');
    expect(result.stderr).toContain(fixture('broken/bad-inventory.ts'));
    expect(result.stderr).toMatch(/hosts\.web\.port \(host web\): must be integer/);
    expect(result.stderr).toMatch(/groups\.front\.hosts\.1: names unknown host "ghost"/);
    expectUntouched();
  });

  it('an inventory given with -i that does not exist', async () => {
    const result = await play([fixture('site.ts'), '-i', fixture('no-such-inventory.ts')], dir);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('inventory not found');
    expectUntouched();
  });

  it('a bad inventory given with -i', async () => {
    const result = await play([fixture('site.ts'), '-i', fixture('broken/bad-inventory.ts')], dir);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(fixture('broken/bad-inventory.ts'));
    expect(result.stderr).toContain('hosts.web.port');
    expectUntouched();
  });

  it('invalid role vars: names the role, the host and the var paths (an earlier valid play runs nothing)', async () => {
    const result = await play([fixture('broken/bad-vars.ts')], dir);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('invalid vars for role needy on host beta');
    expect(result.stderr).toMatch(/vars\.owner: is required/);
    expect(result.stderr).toMatch(/vars\.count: must be integer/);
    expectUntouched();
  });

  it('invalid input with --json: one JSON error document on stdout', async () => {
    const result = await play([fixture('broken/bad-vars.ts'), '--json'], dir);
    expect(result.code).toBe(2);
    const doc = JSON.parse(result.stdout) as { error: string; exitCode: number };
    expect(doc.exitCode).toBe(2);
    expect(doc.error).toContain('vars.owner');
    expectUntouched();
  });

  it('an undefined template variable: names the template file and line', async () => {
    const result = await play([fixture('broken/bad-template.ts')], dir);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${fixture('roles/badtpl/templates/broken.ejs')}:3`);
    expect(result.stderr).toContain('undefinedThing is not defined');
    expectUntouched();
  });

  it('an unknown handler: names the task and the declaring file:line', async () => {
    const file = fixture('broken/unknown-handler.ts');
    const result = await play([file], dir);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('notifies unknown handler "restart nothing"');
    expect(result.stderr).toContain('notifying file');
    expect(result.stderr).toContain(`test/fixtures/cli/broken/unknown-handler.ts:${lineOf(file, 'NOTIFY-TASK') + 1}`);
    expectUntouched();
  });

  it('a playbook with a syntax error', async () => {
    const folder = tempDir('play-cli-syntax-');
    writeFileSync(join(folder, 'package.json'), '{ "type": "module" }\n');
    const source = readFileSync(fixture('broken/syntax-error.ts.txt'), 'utf8')
      .replace(`'../../../../src/index.ts'`, `'${join(ROOT, 'src/index.ts')}'`)
      .replace(`'../inventory.ts'`, `'${fixture('inventory.ts')}'`);
    const file = join(folder, 'syntax-error.ts');
    writeFileSync(file, source);
    const result = await play([file], dir);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`cannot load playbook ${file}`);
    expect(result.stderr).toContain(`syntax-error.ts:${lineOf(fixture('broken/syntax-error.ts.txt'), 'roles: [ }')}:`);
    expectUntouched();
  });

  it('a playbook without a default export', async () => {
    const file = fixture('broken/no-default.ts');
    const result = await play([file], dir);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${file} does not export default definePlaybook`);
    expectUntouched();
  });
});

describe('play CLI: failing tasks exit 1', { timeout: 60_000 }, () => {
  it('names host, role, task, declaring line, command, exit code and stderr; the other host converges', async () => {
    const result = await play([fixture('fail.ts')], dir);
    expect(result.code).toBe(1);
    const output = result.stdout + result.stderr;
    const line = lineOf(fixture('roles/failer/index.ts'), 'FAIL-TASK');
    expect(output).toContain(`alpha › failer › fail loudly (test/fixtures/cli/roles/failer/index.ts:${line})`);
    expect(output).toContain(`sh -c 'echo boom "$1" >&2; exit 7' fail ********`);
    expect(output).toContain('exit 7');
    expect(output).toContain('boom');
    expect(output).toMatch(/alpha\s+ok=0 changed=0 failed=1/);
    expect(output).toMatch(/beta\s+ok=0 changed=5 failed=0 skipped=0 unreachable=0/);
    // alpha stopped at its failing task; beta converged.
    expect(readdirSync(dir).sort()).toEqual(hostFiles('beta').sort());
    expect(readFileSync(join(dir, 'beta.motd'), 'utf8')).toContain('hello from beta');
  });

  it('--json reports the failure in the task list', async () => {
    const result = await play([fixture('fail.ts'), '--json'], dir);
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout) as JsonReport;
    expect(report.hosts.alpha.failed).toBe(1);
    expect(report.hosts.beta).toMatchObject({ failed: 0, changed: 5 });
    const failed = report.tasks.find((t) => t.status === 'failed')!;
    expect(failed).toMatchObject({ host: 'alpha', role: 'failer', task: 'fail loudly' });
    expect(failed.error).toContain('exit 7');
    expect(failed.error).toContain('boom');
  });
});

describe('play CLI: secrets never appear in output', { timeout: 60_000 }, () => {
  const clean = (result: Outcome) => {
    expect(result.stdout).not.toContain(SECRET_VALUE);
    expect(result.stderr).not.toContain(SECRET_VALUE);
  };

  it('in normal, --json, --check and converged runs', async () => {
    const check = await play([fixture('site.ts'), '--check'], dir);
    expect(check.code).toBe(0);
    expect(check.stdout).toContain('secret content created (not shown)');
    clean(check);
    clean(await play([fixture('site.ts'), '--check', '--json'], dir));
    const normal = await play([fixture('site.ts')], dir);
    expect(normal.code).toBe(0);
    expect(normal.stdout).toContain('store ********');
    clean(normal);
    expect(readFileSync(join(dir, 'alpha.secret'), 'utf8')).toBe(SECRET_VALUE);
    clean(await play([fixture('site.ts'), '--json'], dir));
    // A secret file changed by hand: --check shows that it would change, not what it holds.
    writeFileSync(join(dir, 'alpha.secret'), 'tampered\n');
    const drift = await play([fixture('site.ts'), '--check'], dir);
    expect(drift.stdout).toContain('secret content changed (not shown)');
    clean(drift);
    clean(await play([fixture('site.ts'), '--check', '--json'], dir));
  });

  it('a rotated secret in a template: neither the old value nor the new, nor their escaped forms, in any output', async () => {
    const OLD = `Old'Key"7711`;
    const NEW = `New'Key"8822`;
    const forms = (value: string) => [value, JSON.stringify(value).slice(1, -1), value.replace(/['"\\]/g, '\\$&')];
    const outputs: Outcome[] = [];
    // Each run a process of its own, as in real life: one that never saw the old value cannot mask it by value.
    const run = async (args: string[], value: string) => {
      const result = await spawnPlay([fixture('rotate.ts'), ...args], {
        env: { PLAY_TEST_DIR: dir, PLAY_TEST_ROTATE: value },
      });
      outputs.push(result);
      return result;
    };
    expect((await run([], OLD)).code).toBe(0);
    expect(readFileSync(join(dir, 'alpha.config.php'), 'utf8')).toContain(`$config['des_key'] = '${OLD}';`);
    const check = await run(['--check'], NEW);
    expect(check.stdout).toContain('config.php: secret content changed (not shown)');
    await run(['--check', '--json'], NEW);
    const rotated = await run([], NEW);
    expect(rotated.code).toBe(0);
    expect(rotated.stdout).toContain('secret content changed (not shown)');
    await run(['--json'], NEW);
    expect(readFileSync(join(dir, 'alpha.config.php'), 'utf8')).toContain(`$config['des_key'] = '${NEW}';`);
    for (const result of outputs) {
      for (const form of [...forms(OLD), ...forms(NEW)]) {
        expect(result.stdout).not.toContain(form);
        expect(result.stderr).not.toContain(form);
      }
    }
  });

  it('in failing runs, where the failing command prints the secret to stderr', async () => {
    const failing = await play([fixture('fail.ts')], dir);
    expect(failing.code).toBe(1);
    expect(failing.stdout).toContain('boom ********');
    clean(failing);
    rmSync(dir, { recursive: true, force: true });
    dir = tempDir();
    const json = await play([fixture('fail.ts'), '--json'], dir);
    expect(json.code).toBe(1);
    clean(json);
    clean(await play([fixture('fail.ts'), '--check'], dir));
  });

  it('through the real binary', async () => {
    const env = { PLAY_TEST_DIR: dir };
    const failing = await spawnPlay([fixture('fail.ts')], { env });
    expect(failing.code).toBe(1);
    expect(failing.stdout).toContain('boom ********');
    clean(failing);
    expect(readFileSync(join(dir, 'beta.secret'), 'utf8')).toBe(SECRET_VALUE);
  });
});

describe('play CLI: listing connects to nothing', { timeout: 60_000 }, () => {
  it('--list-hosts and --list-tasks print and exit 0 without opening any connection', async () => {
    const open = vi.spyOn(SshConnection, 'open');
    const result = await play([fixture('lab.ts'), '--list-hosts', '--list-tasks'], dir);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('play "lab" (2 hosts):\n  alpha, far');
    expect(result.stdout).toMatch(
      /far:\n\s+motd › motd file \[motd\]\s+\(test\/fixtures\/cli\/roles\/motd\/index\.ts:\d+\)/,
    );
    expect(result.stdout).toContain('handlers: note motd');
    expect(result.stdout).not.toContain('PLAY RECAP');
    expect(open).not.toHaveBeenCalled();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('the real binary returns quickly', async () => {
    const result = await spawnPlay([fixture('lab.ts'), '--list-hosts'], { env: { PLAY_TEST_DIR: dir } });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('alpha, far');
    expect(result.ms).toBeLessThan(12_000);
    const tasks = await spawnPlay([fixture('lab.ts'), '--list-tasks'], { env: { PLAY_TEST_DIR: dir } });
    expect(tasks.code).toBe(0);
    expect(tasks.stdout).toContain('far:');
    expect(tasks.ms).toBeLessThan(12_000);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('--limit narrows the listed hosts', async () => {
    const result = await play([fixture('lab.ts'), '--list-hosts', '-l', 'alpha'], dir);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('play "lab" (1 hosts):\n  alpha\n');
    expect(result.stdout).not.toContain('far');
  });

  it('--tags narrows the listed tasks', async () => {
    const result = await play([fixture('lab.ts'), '--list-tasks', '-t', 'static'], dir);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('motd › static file [static]');
    expect(result.stdout).not.toContain('motd file');
  });

  it("-i lists the other inventory's hosts", async () => {
    const result = await play([fixture('site.ts'), '--list-hosts', '-i', fixture('inventory-other.ts')], dir);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('play "site" (1 hosts):\n  gamma\n');
    expect(result.stdout).not.toContain('alpha');
  });
});

describe('play CLI: the real binary', { timeout: 60_000 }, () => {
  it('finds a bare playbook name in playbooks/ of the current folder', async () => {
    const cwd = fixture('project');
    expect(existsSync(join(cwd, 'site.ts'))).toBe(false);
    // A folder named like the playbook sits in the current folder: it must not be taken for the playbook.
    expect(statSync(join(cwd, 'site')).isDirectory()).toBe(true);
    const first = await spawnPlay(['site', '--json'], { cwd, env: { PLAY_TEST_DIR: dir } });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const report = JSON.parse(first.stdout) as JsonReport;
    expect(new Set(report.tasks.map((t) => t.play))).toEqual(new Set(['project site']));
    expect(totalChanged(report)).toBeGreaterThan(0);
    expect(readFileSync(join(dir, 'alpha.motd'), 'utf8')).toContain('hello from alpha');
    const second = await spawnPlay(['site', '--json'], { cwd, env: { PLAY_TEST_DIR: dir } });
    expect(second.code).toBe(0);
    expect(totalChanged(JSON.parse(second.stdout) as JsonReport)).toBe(0);
  });

  it('exits 2 on a playbook syntax error and on an unknown flag', async () => {
    const folder = tempDir('play-cli-syntax-');
    writeFileSync(join(folder, 'package.json'), '{ "type": "module" }\n');
    writeFileSync(join(folder, 'syntax-error.ts'), readFileSync(fixture('broken/syntax-error.ts.txt'), 'utf8'));
    const syntax = await spawnPlay([join(folder, 'syntax-error.ts')], { env: { PLAY_TEST_DIR: dir } });
    expect(syntax.code).toBe(2);
    expect(syntax.stderr).toContain(`cannot load playbook ${join(folder, 'syntax-error.ts')}`);
    expect(syntax.stderr).toContain(`syntax-error.ts:${lineOf(fixture('broken/syntax-error.ts.txt'), 'roles: [ }')}:`);
    const flag = await spawnPlay([fixture('site.ts'), '--nope'], { env: { PLAY_TEST_DIR: dir } });
    expect(flag.code).toBe(2);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('an unreachable ssh host: exit 1, the local host still converges, recap shows unreachable=1', async () => {
    const port = await freePort();
    const knownHosts = join(tempDir('play-cli-kh-'), 'known_hosts');
    writeFileSync(knownHosts, '');
    chmodSync(knownHosts, 0o600);
    const result = await spawnPlay([fixture('unreachable.ts'), '--known-hosts', knownHosts, '--accept-new-host-keys'], {
      env: { PLAY_TEST_DIR: dir, PLAY_TEST_SSH_PORT: String(port) },
    });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/down \| unreachable \| connect/);
    expect(result.stdout).toContain(`127.0.0.1:${port}`);
    expect(result.stdout).toMatch(/down\s+ok=0 changed=0 failed=0 skipped=0 unreachable=1/);
    expect(result.stdout).toMatch(/alpha\s+ok=0 changed=3 failed=0 skipped=0 unreachable=0/);
    expect(readdirSync(dir).sort()).toEqual(['alpha.motd', 'alpha.notified', 'alpha.static']);
    expect(readFileSync(knownHosts, 'utf8')).toBe('');
  });
});

describe('play verify', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'play-verify-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('prints the table and exits 0 when every check is ok; 1 naming the failed check otherwise; --json is pure JSON', async () => {
    writeFileSync(join(dir, 'alpha.health'), 'ok\n');
    writeFileSync(join(dir, 'beta.health'), 'ok\n');
    const healthy = await play(['verify', fixture('health.ts')], dir);
    expect(healthy.stderr).toBe('');
    expect(healthy.code).toBe(0);
    expect(healthy.stdout).toMatch(/^CHECK +HOST +STATE +DETAIL$/m);
    expect(healthy.stdout).toMatch(/^health file +alpha +OK +says ok \(greeting hello\)$/m);
    expect(healthy.stdout).toContain('healthy: 2 checks ok');

    writeFileSync(join(dir, 'beta.health'), 'broken\n');
    const sick = await play(['verify', fixture('health.ts')], dir);
    expect(sick.code).toBe(1);
    expect(sick.stdout).toMatch(/^health file +beta +FAIL +says broken/m);
    expect(sick.stdout).toContain('NOT healthy: 1 of 2 checks failed (health file)');

    const json = await play(['verify', fixture('health.ts'), '--json', '-l', 'beta'], dir);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({
      healthy: false,
      rows: [{ check: 'health file', host: 'beta', ok: false, detail: 'says broken (greeting hello)' }],
    });
  });

  it('refuses flags that change or plan things (exit 2), and a playbook without a health check', async () => {
    const check = await play(['verify', fixture('health.ts'), '--check'], dir);
    expect(check.code).toBe(2);
    expect(check.stderr).toContain('play verify only reads: --check has no meaning there');
    const none = await play(['verify', fixture('site.ts')], dir);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/has no health check/);
  });
});

describe('play CLI: extra vars (-e)', { timeout: 60_000 }, () => {
  it('typed by the playbook: NAME=VALUE converted to the schema type, given to task lists and over role vars', async () => {
    const result = await play(
      [fixture('extra-vars.ts'), '-e', 'note=remember', '-e', 'copies=2', '--extra-vars', '{"port": 8080}'],
      dir,
    );
    expect(result.code, result.stderr).toBe(0);
    expect(readFileSync(join(dir, 'note-0'), 'utf8')).toBe('remember (number)\n');
    expect(readFileSync(join(dir, 'note-1'), 'utf8')).toBe('remember (number)\n');
    expect(existsSync(join(dir, 'note-2'))).toBe(false);
    // -e wins over the inventory's greeting and the role's default port.
    expect(readFileSync(join(dir, 'alpha.motd'), 'utf8')).toContain('port 8080');
    const again = await play(
      [fixture('extra-vars.ts'), '-e', 'note=remember', '-e', 'copies=2', '-e', 'greeting=salam'],
      dir,
    );
    expect(again.code, again.stderr).toBe(0);
    expect(readFileSync(join(dir, 'alpha.motd'), 'utf8')).toContain('salam from alpha');
  });

  it.each([
    [['-e', 'copies=2'], /-e note: is required/],
    [['-e', 'note=x', '-e', 'copies=many'], /-e copies: must be integer/],
    [['-e', 'note=x', '-e', 'copies=9'], /-e copies: must be <= 3/],
    [
      ['-e', 'note=x', '-e', 'acount=guru2'],
      /-e acount: is not an extra var of this playbook \(it takes: note, copies, greeting, port\)/,
    ],
    [['-e', 'note'], /-e note: give NAME=VALUE/],
    [['-e', '{"note": '], /-e \{"note": : not a JSON object/],
  ])('refuses %j with exit 2 and one message, before any host is touched', async (extra, message) => {
    const before = snapshot(dir);
    const result = await play([fixture('extra-vars.ts'), ...extra], dir);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(snapshot(dir)).toEqual(before);
  });

  it('a playbook that declares no extra vars refuses -e', async () => {
    const result = await play([fixture('site.ts'), '-e', 'greeting=x'], dir);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('the playbook takes no extra vars, yet -e greeting was given');
    expect(readdirSync(dir)).toEqual([]);
  });
});
