import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sh } from '../../../src/connection/sh.ts';
import { configSet, type ConfigSetParams } from '../../../src/ops/config-set.ts';
import { REMOTE_EXIT } from '../../../src/remote/protocol.ts';
import type { Plan } from '../../../src/ops/op.ts';
import { localHost, type LocalHost } from '../support/local-host.ts';

let host: LocalHost;
let tree: string;
let stageRoot: string;
beforeEach(() => {
  host = localHost();
  // A tree with odd names, as a config folder may have.
  tree = join(host.dir, "etc/my 'svc' $(x)");
  stageRoot = join(host.dir, 'run');
  mkdirSync(join(tree, 'conf.d'), { recursive: true });
  mkdirSync(stageRoot);
  writeFileSync(join(tree, 'main.conf'), 'main old\n', { mode: 0o640 });
  writeFileSync(join(tree, 'conf.d/extra.conf'), 'extra old\n');
  writeFileSync(join(tree, 'untouched.conf'), 'left alone\n');
});
afterEach(() => host.cleanup());

const log = () =>
  existsSync(join(host.dir, 'log')) ? readFileSync(join(host.dir, 'log'), 'utf8').trim().split('\n') : [];
const leftovers = () =>
  [...readdirSync(tree, { recursive: true }), ...readdirSync(stageRoot)].map(String).filter((n) => n.includes('play-'));

function set(overrides: Partial<ConfigSetParams> = {}) {
  const logFile = join(host.dir, 'log');
  return configSet({
    tree,
    files: [
      { path: join(tree, 'main.conf'), content: 'main new\n' },
      { path: join(tree, 'conf.d/extra.conf'), content: 'extra new\n' },
    ],
    // The check sees the whole staged tree: both new files together, and the files the set does not manage.
    validate: (dir) =>
      sh`grep -q 'main new' ${`${dir}/main.conf`} && grep -q 'extra new' ${`${dir}/conf.d/extra.conf`} && test -f ${`${dir}/untouched.conf`} && echo checked ${dir} >> ${logFile}`,
    activate: sh`echo "activate $(cat ${join(tree, 'main.conf')})" >> ${logFile}`,
    health: sh`echo health >> ${logFile}`,
    stageRoot,
    ...overrides,
  });
}

async function fails(task: ReturnType<typeof set>): Promise<string> {
  try {
    await host.converge(task);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected the set to fail');
}

describe('configSet', () => {
  it('stages both files, checks them together, renames them in, activates and probes; then it is unchanged', async () => {
    const plan = await host.converge(set());
    expect(plan.changed).toBe(true);
    expect((plan as Extract<Plan, { changed: true }>).diffs.map((d) => [d.path, d.before, d.after])).toEqual([
      [join(tree, 'main.conf'), 'main old\n', 'main new\n'],
      [join(tree, 'conf.d/extra.conf'), 'extra old\n', 'extra new\n'],
    ]);
    expect(readFileSync(join(tree, 'main.conf'), 'utf8')).toBe('main new\n');
    expect(readFileSync(join(tree, 'conf.d/extra.conf'), 'utf8')).toBe('extra new\n');
    // The old file's mode is kept.
    expect((statSync(join(tree, 'main.conf')).mode & 0o777).toString(8)).toBe('640');
    const [checked, activated, probed] = log();
    expect(checked).toMatch(new RegExp(`^checked ${stageRoot}/play-stage-[0-9a-f]{12}/tree$`));
    expect([activated, probed]).toEqual(['activate main new', 'health']);
    expect(leftovers()).toEqual([]);
    expect(await host.plan(set())).toEqual({ changed: false, reason: 'the 2 files of the set match' });
  });

  it('a set its check refuses changes nothing live: no activation, no leftovers (exit 93)', async () => {
    const message = await fails(set({ validate: () => sh`echo 'line 3: unknown directive' >&2; false` }));
    expect(message).toContain(`exit ${REMOTE_EXIT.setRefused}`);
    expect(message).toContain('unknown directive');
    expect(message).toContain('refused by its check (nothing live was changed)');
    expect(readFileSync(join(tree, 'main.conf'), 'utf8')).toBe('main old\n');
    expect(readFileSync(join(tree, 'conf.d/extra.conf'), 'utf8')).toBe('extra old\n');
    expect(log()).toEqual([]);
    expect(leftovers()).toEqual([]);
  });

  it('a failed activation restores every previous file, puts the service back on them, and fails with both errors (exit 96)', async () => {
    const logFile = join(host.dir, 'log');
    const message = await fails(
      set({
        activate: sh`echo "reload saw $(cat ${join(tree, 'main.conf')})" >> ${logFile}; echo 'bind: Address already in use' >&2; exit 1`,
        restore: sh`echo "restore saw $(cat ${join(tree, 'main.conf')})" >> ${logFile}`,
      }),
    );
    // The error names the set and ends with the script's own account of what happened, not the script itself.
    expect(message).toContain(`applying config set ${tree} failed (exit 96)\nactivation failed: bind`);
    expect(message).not.toContain('trap cleanup EXIT');
    expect(message).toContain('activation failed: bind: Address already in use');
    expect(message).toContain('rolled back: the previous files are in place');
    expect(log().slice(1)).toEqual(['reload saw main new', 'restore saw main old']);
    expect(readFileSync(join(tree, 'main.conf'), 'utf8')).toBe('main old\n');
    expect(readFileSync(join(tree, 'conf.d/extra.conf'), 'utf8')).toBe('extra old\n');
    expect(leftovers()).toEqual([]);
  });

  it('a failed health probe rolls back too; a file the set added is removed again', async () => {
    const added = join(tree, 'conf.d/new.conf');
    const message = await fails(
      set({
        files: [
          { path: join(tree, 'main.conf'), content: 'main new\n' },
          { path: join(tree, 'conf.d/extra.conf'), content: 'extra new\n' },
          { path: added, content: 'added\n' },
        ],
        health: sh`echo 'no banner' >&2; false`,
        healthSeconds: 0.4,
      }),
    );
    expect(message).toContain('the health probe failed after activation: no banner');
    expect(existsSync(added)).toBe(false);
    expect(readFileSync(join(tree, 'main.conf'), 'utf8')).toBe('main old\n');
    expect(leftovers()).toEqual([]);
  });

  it('when putting the service back fails too, it says so (exit 95)', async () => {
    const message = await fails(set({ activate: sh`false`, restore: sh`echo 'unit failed' >&2; false` }));
    expect(message).toContain('exit 95');
    expect(message).toContain('putting the service back on them failed too: unit failed');
    expect(readFileSync(join(tree, 'main.conf'), 'utf8')).toBe('main old\n');
  });

  it('a full disk while staging leaves every old file in place (exit 94)', async () => {
    if (process.getuid?.() !== 0) return; // A tmpfs of its own needs root (CI and the lab run as root).
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', stageRoot]);
    try {
      // The tree is larger than the staging disk.
      writeFileSync(join(tree, 'big.db'), Buffer.alloc(200_000, 1));
      const message = await fails(set());
      expect(message).toContain('exit 94');
      expect(message).toMatch(/staging the set failed: .*No space left on device.*\(nothing live was changed\)/s);
      expect(readFileSync(join(tree, 'main.conf'), 'utf8')).toBe('main old\n');
      expect(readFileSync(join(tree, 'conf.d/extra.conf'), 'utf8')).toBe('extra old\n');
      expect(log()).toEqual([]);
      expect(leftovers()).toEqual([]);
    } finally {
      execFileSync('umount', [stageRoot]);
    }
  });

  it('checkInPlace: the check reads the staged files at their own absolute paths, and nothing else sees the mount', async () => {
    if (process.getuid?.() !== 0) throw new Error('this test needs root (a mount namespace of its own)');
    const logFile = join(host.dir, 'log');
    // main.conf names conf.d/extra.conf by its absolute path, as an include does: the check must see the new one.
    const includes = join(tree, 'conf.d/extra.conf');
    await host.converge(
      set({
        checkInPlace: true,
        validate: (dir) =>
          sh`{ printf '%s: ' ${`checked ${dir}`}; echo "$(cat ${join(dir, 'main.conf')}) + $(cat ${includes})"; } >> ${logFile}`,
        activate: sh`echo "activate $(cat ${includes})" >> ${logFile}; grep -c ${tree} /proc/self/mountinfo >> ${logFile} || true`,
      }),
    );
    expect(log()).toEqual([`checked ${tree}: main new + extra new`, 'activate extra new', '0', 'health']);
  });

  it('checkInPlace: a refused set leaves the live tree as it was, unmounted', async () => {
    const message = await fails(
      set({
        checkInPlace: true,
        validate: (dir) => sh`grep -q 'main new' ${join(dir, 'main.conf')} && echo 'bad include' >&2 && false`,
      }),
    );
    expect(message).toContain(`exit ${REMOTE_EXIT.setRefused}`);
    expect(message).toContain('bad include');
    expect(readFileSync(join(tree, 'main.conf'), 'utf8')).toBe('main old\n');
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain('my ');
    expect(leftovers()).toEqual([]);
  });

  it('an activation chosen by what changed: it is told the changed paths inside the tree', async () => {
    const logFile = join(host.dir, 'log');
    writeFileSync(join(tree, 'main.conf'), 'main new\n');
    await host.converge(
      set({
        activate: (changed) =>
          changed.includes('main.conf')
            ? sh`echo restart >> ${logFile}`
            : sh`echo "reload for ${changed.join(' ')}" >> ${logFile}`,
      }),
    );
    expect(log().slice(1)).toEqual(['reload for conf.d/extra.conf', 'health']);
  });

  it('refuses a file outside its tree, and a file with neither content nor template', () => {
    expect(() =>
      configSet({ tree, files: [{ path: '/etc/passwd', content: 'x' }], validate: () => sh`true`, activate: sh`true` }),
    ).toThrow(/is not inside/);
    expect(() =>
      configSet({ tree, files: [{ path: join(tree, 'a') }], validate: () => sh`true`, activate: sh`true` }),
    ).toThrow(/needs either content or src/);
  });
});
