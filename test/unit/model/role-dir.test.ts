import { execFile, execFileSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// A role knows its folder from `dir: import.meta.dirname`: these tests load roles the ways a school does, through the
// built `play` binary (no test runner's loader in between), and check that their templates are found.
const ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const BIN = join(ROOT, 'dist/src/cli/play.js');

function run(
  file: string,
  args: readonly string[],
  cwd: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(file, args, { cwd, env: { ...process.env, CI: '1' }, timeout: 120_000 }, (error, stdout, stderr) => {
      done({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

/** A role with one template, and a playbook that renders it into `out/` on the controller (a local host). */
function writeProject(project: string, roleDir: string, rolePath: string): void {
  mkdirSync(join(roleDir, 'templates'), { recursive: true });
  writeFileSync(
    join(roleDir, 'index.ts'),
    `import { defineRole, template } from 'play';
export default defineRole({
  name: 'greet',
  dir: import.meta.dirname,
  tasks: () => [template({ src: 'greet.ejs', dest: ${JSON.stringify(join(project, 'out/greeting'))}, mode: '0644' })],
});
`,
  );
  writeFileSync(join(roleDir, 'templates/greet.ejs'), 'hello from <%= host %>\n');
  mkdirSync(join(project, 'out'), { recursive: true });
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'school', private: true, type: 'module' }));
  writeFileSync(
    join(project, 'site.ts'),
    `import { defineInventory, definePlaybook } from 'play';
import greet from ${JSON.stringify(rolePath)};
const inventory = defineInventory({ hosts: { here: { address: 'localhost', connection: 'local' } } });
export default definePlaybook({ inventory, plays: [{ hosts: 'here', roles: [greet], vars: { host: 'here' } }] });
`,
  );
}

describe('a role finds its templates wherever it is loaded from', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'play-role-dir-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('through a symlinked role folder', async () => {
    const project = join(dir, 'linked');
    const realRole = join(dir, 'shared-roles/greet');
    writeProject(project, realRole, './roles/greet/index.ts');
    mkdirSync(join(project, 'roles'));
    symlinkSync(realRole, join(project, 'roles/greet'));
    // The role resolves by its real path (Node's default): it and the project share the folder above, where
    // `play` is this checkout, as an npm link would make it, and where package.json says ESM.
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'roles', private: true, type: 'module' }));
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(ROOT, join(dir, 'node_modules/play'));
    const result = await run(process.execPath, [BIN, 'site.ts'], project);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(readFileSync(join(project, 'out/greeting'), 'utf8')).toBe('hello from here\n');
  });

  it('from an installed tarball: the package roles and the bin of node_modules', async () => {
    execFileSync('npm', ['pack', '--pack-destination', dir], { cwd: ROOT, stdio: 'ignore' });
    const tarball = join(dir, readdirSync(dir).find((n) => n.endsWith('.tgz'))!);
    const project = join(dir, 'installed');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'school', private: true, type: 'module' }));
    execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], {
      cwd: project,
      stdio: 'ignore',
    });

    // A role of the package: its folder is inside node_modules and holds the templates it names.
    const probe = await run(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const role = (await import('play/roles/postfix')).default; const { readdirSync } = await import('node:fs'); console.log(JSON.stringify({ dir: role.dir, templates: readdirSync(role.dir + '/templates') }));`,
      ],
      project,
    );
    expect(probe.stderr).toBe('');
    const { dir: postfixDir, templates } = JSON.parse(probe.stdout) as { dir: string; templates: string[] };
    expect(postfixDir).toBe(join(realpathSync(project), 'node_modules/play/dist/roles/postfix'));
    expect(templates).toContain('main.cf.ejs');

    // The school's own role in TypeScript, run by the installed bin (the engine is built JavaScript; only the
    // school's files go through the TypeScript loader).
    writeProject(project, join(project, 'roles/greet'), './roles/greet/index.ts');
    const result = await run(join(project, 'node_modules/.bin/play'), ['site.ts'], project);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(readFileSync(join(project, 'out/greeting'), 'utf8')).toBe('hello from here\n');
    // Nothing of the tests or the lab went into the package.
    const shipped = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n');
    expect(
      shipped.filter((f) => /^package\/(test|bench|inventory|playbooks|src)\//.test(f) || f.includes('.state')),
    ).toEqual([]);
    expect(shipped).toContain('package/dist/roles/postfix/templates/main.cf.ejs');
    expect(shipped).toContain('package/dist/src/cli/play.js');
  }, 180_000);
});
