import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalConnection } from '../../../src/connection/local.ts';
import { RecordingConnection } from '../../../src/connection/recording.ts';
import type { Connection, ExecOptions, HoldOptions } from '../../../src/connection/connection.ts';
import { ShellCommand } from '../../../src/connection/sh.ts';
import { compileRun } from '../../../src/engine/compile.ts';
import { chooseWork } from '../../../src/engine/host-platform.ts';
import { PLATFORM_TASK } from '../../../src/engine/host-run.ts';
import { exitCodeOf } from '../../../src/engine/report.ts';
import { executeRun } from '../../../src/engine/run.ts';
import { REMOTE_MARKER } from '../../../src/remote/protocol.ts';
import { formatTaskList, listJson } from '../../../src/cli/listing.ts';
import {
  DEBIAN_12,
  DEBIAN_13,
  TemplateError,
  Type,
  ValidationError,
  defineInventory,
  definePlaybook,
  defineRole,
  file,
  reboot,
  template,
  type Platform,
  type Playbook,
} from '../../../src/index.ts';

const os = (major: number, codename: string) =>
  `PRETTY_NAME="Debian GNU/Linux ${major} (${codename})"\nNAME="Debian GNU/Linux"\nVERSION_ID="${major}"\nVERSION="${major} (${codename})"\nVERSION_CODENAME=${codename}\nID=debian\n`;
const TRIXIE = `${os(13, 'trixie')}DEBIAN_VERSION_FULL=13.2\n`;
const BOOKWORM = os(12, 'bookworm');
const BULLSEYE = os(11, 'bullseye');
const SID = 'PRETTY_NAME="Debian GNU/Linux forky/sid"\nNAME="Debian GNU/Linux"\nVERSION_CODENAME=forky\nID=debian\n';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'play-platform-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** This machine, whose /etc/os-release says what the test wants: the probe reads a file of the test instead. */
class ReleaseConnection implements Connection {
  private readonly local: LocalConnection;
  constructor(
    readonly host: string,
    private readonly osRelease: string,
  ) {
    this.local = new LocalConnection(host);
  }
  get commandCount() {
    return this.local.commandCount;
  }
  private rewrite(command: ShellCommand) {
    const text = command.text
      .replaceAll('/etc/os-release', this.osRelease)
      .replaceAll('/usr/lib/os-release', this.osRelease);
    return new ShellCommand(text, command.display);
  }
  exec(command: ShellCommand, options?: ExecOptions) {
    return this.local.exec(this.rewrite(command), options);
  }
  hold(command: ShellCommand, options?: HoldOptions) {
    return this.local.hold(this.rewrite(command), options);
  }
  close() {
    return this.local.close();
  }
}

/** Hosts running these releases (os-release texts), every command recorded. */
function hostsRunning(releases: Record<string, string>) {
  const connections = new Map<string, RecordingConnection>();
  const connect = async (host: string) => {
    const path = join(dir, `${host}.os-release`);
    writeFileSync(path, releases[host]);
    const connection = new RecordingConnection(host, new ReleaseConnection(host, path));
    connections.set(host, connection);
    return connection;
  };
  return { connections, connect };
}

const inventory = defineInventory({
  hosts: {
    primary: { address: 'localhost', connection: 'local' },
    backup: { address: 'localhost', connection: 'local' },
  },
  groups: { mail: { hosts: ['primary', 'backup'] } },
  vars: { pool: 'www' },
});

/** A role whose package, path and config differ between Debian 12 and 13, as php-fpm's do. */
function php(root: string, platforms: readonly Platform[] = [DEBIAN_12, DEBIAN_13], built: string[] = []) {
  writeFileSync(join(root, 'pool.ejs'), '[<%= pool %>]\nlisten = <%= socket %>\n');
  return defineRole({
    name: 'php',
    platforms,
    schema: Type.Object({ pool: Type.String() }),
    tasks: ({ host, platform }) => {
      built.push(`${host} ${platform.major}`);
      const version = platform.major >= 13 ? '8.4' : '8.2';
      return [
        file({ name: `php${version}-fpm`, path: join(root, `${host}-version`), content: `${version}\n` }),
        template({
          src: join(root, 'pool.ejs'),
          dest: join(root, `${host}-pool.conf`),
          vars: { socket: `/run/php/php${version}-fpm.sock` },
        }),
      ];
    },
  });
}

/** A role that runs on any release. */
function motd(root: string) {
  return defineRole({
    name: 'motd',
    tasks: ({ host }) => [file({ path: join(root, `${host}-motd`), content: 'welcome\n' })],
  });
}

async function refusal(playbook: Playbook): Promise<ValidationError | TemplateError> {
  const error = await compileRun(playbook, playbook.inventory).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error instanceof ValidationError || error instanceof TemplateError).toBe(true);
  return error as ValidationError;
}

describe('compileRun with platforms', () => {
  it("builds and renders each host's work for every release the roles support, before any connection", async () => {
    const built: string[] = [];
    const playbook = definePlaybook({
      inventory,
      plays: [{ hosts: 'mail', roles: [php(dir, undefined, built), motd(dir)] }],
    });
    const run = await compileRun(playbook, inventory);
    expect(built).toEqual(['primary 12', 'primary 13', 'backup 12', 'backup 13']);
    const { works, unsupported } = run.plays[0].work.get('primary')!;
    expect(works.map((w) => w.platform)).toEqual([DEBIAN_12, DEBIAN_13]);
    expect(unsupported).toEqual([]);
    expect(works.map((w) => w.tasks.map((t) => t.task.name))).toEqual([
      ['php8.2-fpm', `template ${join(dir, 'primary-pool.conf')}`, `file ${join(dir, 'primary-motd')}`],
      ['php8.4-fpm', `template ${join(dir, 'primary-pool.conf')}`, `file ${join(dir, 'primary-motd')}`],
    ]);
  });

  it('a release only some roles support is compiled for none and remembered as unsupported, with those roles', async () => {
    const playbook = definePlaybook({
      inventory,
      plays: [{ hosts: 'primary', roles: [php(dir), { ...motd(dir), name: 'dovecot', platforms: [DEBIAN_13] }] }],
    });
    const { works, unsupported } = (await compileRun(playbook, inventory)).plays[0].work.get('primary')!;
    expect(works.map((w) => w.platform)).toEqual([DEBIAN_13]);
    expect(unsupported).toEqual([{ platform: DEBIAN_12, roles: ['dovecot'] }]);
  });

  it('refuses roles with no release in common (exit 2)', async () => {
    const error = await refusal(
      definePlaybook({
        inventory,
        plays: [
          { name: 'web', hosts: 'primary', roles: [php(dir, [DEBIAN_12]), { ...motd(dir), platforms: [DEBIAN_13] }] },
        ],
      }),
    );
    expect(error.message).toBe(
      'play "web": its roles support no release in common (php supports Debian 12; motd supports Debian 13)',
    );
  });

  it('names the release whose task list or template fails, and connects to nothing', async () => {
    writeFileSync(join(dir, 'conf.ejs'), '<%= platform === 13 ? missing : "ok" %>\n');
    const broken = defineRole({
      name: 'dovecot',
      platforms: [DEBIAN_12, DEBIAN_13],
      tasks: ({ host, platform }) => [
        template({ src: join(dir, 'conf.ejs'), dest: join(dir, `${host}.conf`), vars: { platform: platform.major } }),
      ],
    });
    const error = await refusal(definePlaybook({ inventory, plays: [{ hosts: 'primary', roles: [broken] }] }));
    expect(error).toBeInstanceOf(TemplateError);
    expect(error.describe()).toMatch(
      /^primary › dovecot › template .* on Debian 13 \(.*host-platform\.test\.ts:\d+\): /,
    );
    expect(error.describe()).toContain('missing');

    const throwing = defineRole({
      name: 'dovecot',
      platforms: [DEBIAN_12, DEBIAN_13],
      tasks: ({ platform }) => {
        if (platform.major === 12) throw new Error('Dovecot 2.3 is not written yet');
        return [];
      },
    });
    const built = await refusal(definePlaybook({ inventory, plays: [{ hosts: 'primary', roles: [throwing] }] }));
    expect(built.describe()).toBe(
      'primary › dovecot on Debian 12: building the task list failed: Dovecot 2.3 is not written yet',
    );
  });

  it("runs a role's check for each release and names the release whose vars it refuses", async () => {
    const role = defineRole({
      name: 'dovecot',
      platforms: [DEBIAN_12, DEBIAN_13],
      schema: Type.Object({ sslMinProtocol: Type.String() }),
      defaults: { sslMinProtocol: 'TLSv1' },
      check: (vars, platform) =>
        platform.major >= 13 && vars.sslMinProtocol === 'TLSv1'
          ? [{ path: 'vars.sslMinProtocol', message: 'Dovecot 2.4 has no TLSv1' }]
          : [],
      tasks: () => [],
    });
    const error = await refusal(definePlaybook({ inventory, plays: [{ hosts: 'primary', roles: [role] }] }));
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.message).toBe(
      'invalid vars for role dovecot on host primary on Debian 13:\n  vars.sslMinProtocol: Dovecot 2.4 has no TLSv1',
    );
    // The same issue on every release names none; so does a schema error, which is the same on all.
    const always = defineRole({
      ...role,
      check: () => [{ path: 'vars.sslMinProtocol', message: 'never' }],
    } as typeof role);
    expect((await refusal(definePlaybook({ inventory, plays: [{ hosts: 'primary', roles: [always] }] }))).message).toBe(
      'invalid vars for role dovecot on host primary:\n  vars.sslMinProtocol: never',
    );
    const wrongType = definePlaybook({
      inventory,
      plays: [{ hosts: 'primary', roles: [{ role, vars: { sslMinProtocol: 3 as unknown as string } }] }],
    });
    expect((await refusal(wrongType)).message).toMatch(/^invalid vars for role dovecot on host primary:\n/);
  });

  it('compiles roles without platforms once, with no platform, as before', async () => {
    const seen: unknown[] = [];
    const role = defineRole({
      name: 'motd',
      tasks: ({ platform }) => {
        seen.push(platform);
        return [];
      },
    });
    const run = await compileRun(
      definePlaybook({ inventory, plays: [{ hosts: 'primary', roles: [role] }] }),
      inventory,
    );
    expect(seen).toEqual([undefined]);
    expect(run.plays[0].work.get('primary')!.works).toHaveLength(1);
    expect(run.plays[0].work.get('primary')!.works[0].platform).toBeUndefined();
  });
});

describe('executeRun with platforms', () => {
  it('runs on each host the work of the release its os-release names, read in the first round trip', async () => {
    const playbook = definePlaybook({ inventory, plays: [{ hosts: 'mail', roles: [php(dir), motd(dir)] }] });
    const { connections, connect } = hostsRunning({ primary: TRIXIE, backup: BOOKWORM });
    const report = await executeRun(await compileRun(playbook, inventory), { check: false, forks: 2, connect });
    expect(exitCodeOf(report)).toBe(0);
    expect(readFileSync(join(dir, 'primary-version'), 'utf8')).toBe('8.4\n');
    expect(readFileSync(join(dir, 'primary-pool.conf'), 'utf8')).toBe('[www]\nlisten = /run/php/php8.4-fpm.sock\n');
    expect(readFileSync(join(dir, 'backup-version'), 'utf8')).toBe('8.2\n');
    expect(readFileSync(join(dir, 'backup-pool.conf'), 'utf8')).toBe('[www]\nlisten = /run/php/php8.2-fpm.sock\n');
    expect(report.tasks.filter((t) => t.host === 'primary').map((t) => t.task)[0]).toBe('php8.4-fpm');
    for (const c of connections.values()) {
      expect(c.commands[0].text.startsWith(REMOTE_MARKER.probe)).toBe(true);
      expect(c.commands[0].text).toContain('/etc/os-release');
    }
    // A second run changes nothing and costs one round trip: the release travels with the other facts.
    const again = hostsRunning({ primary: TRIXIE, backup: BOOKWORM });
    const second = await executeRun(await compileRun(playbook, inventory), {
      check: false,
      forks: 2,
      connect: again.connect,
    });
    expect(second.hosts.primary).toMatchObject({ changed: 0, failed: 0, commands: 1 });
    expect(second.hosts.backup).toMatchObject({ changed: 0, failed: 0, commands: 1 });
  });

  it('fails a host whose release no role supports, before any change, and runs the others', async () => {
    const playbook = definePlaybook({
      inventory,
      plays: [
        { name: 'web', hosts: 'mail', roles: [php(dir), motd(dir)] },
        { hosts: 'mail', roles: [motd(dir)] },
      ],
    });
    const { connections, connect } = hostsRunning({ primary: BULLSEYE, backup: BOOKWORM });
    const report = await executeRun(await compileRun(playbook, inventory), { check: false, forks: 2, connect });
    const failure = report.tasks.find((t) => t.host === 'primary')!;
    expect(failure).toMatchObject({ task: PLATFORM_TASK, status: 'failed', play: 'web' });
    expect(failure.error).toBe("primary runs Debian 11 (bullseye); this play's roles support Debian 12, Debian 13");
    expect(report.hosts.primary).toMatchObject({ failed: 1, unreachable: 0, changed: 0 });
    expect(report.tasks.filter((t) => t.host === 'primary')).toHaveLength(1);
    expect(existsSync(join(dir, 'primary-version'))).toBe(false);
    expect(existsSync(join(dir, 'primary-motd'))).toBe(false);
    for (const c of connections.get('primary')!.commands) expect(c.text.startsWith(REMOTE_MARKER.probe)).toBe(true);
    expect(readFileSync(join(dir, 'backup-version'), 'utf8')).toBe('8.2\n');
    expect(exitCodeOf(report)).toBe(1);
  });

  it('names the roles that lack a release some role supports, and what a testing host runs', async () => {
    const dovecot = defineRole({ name: 'dovecot', platforms: [DEBIAN_13], tasks: () => [] });
    const playbook = definePlaybook({ inventory, plays: [{ hosts: 'mail', roles: [php(dir), dovecot] }] });
    const report = await executeRun(await compileRun(playbook, inventory), {
      check: true,
      forks: 2,
      connect: hostsRunning({ primary: BOOKWORM, backup: SID }).connect,
    });
    const error = (host: string) => report.tasks.find((t) => t.host === host)!.error;
    expect(error('primary')).toBe(
      'primary runs Debian 12 (bookworm); role dovecot of this play does not support it (all its roles support Debian 13)',
    );
    expect(error('backup')).toBe(
      "backup runs Debian GNU/Linux forky/sid (no VERSION_ID in /etc/os-release): a Debian without a release number (testing or unstable) is no platform roles support; this play's roles support Debian 13",
    );
  });

  it('reads no release for plays whose roles declare no platforms', async () => {
    const playbook = definePlaybook({ inventory, plays: [{ hosts: 'mail', roles: [motd(dir)] }] });
    const { connections, connect } = hostsRunning({ primary: 'ID=ubuntu\n', backup: SID });
    const report = await executeRun(await compileRun(playbook, inventory), { check: false, forks: 2, connect });
    expect(exitCodeOf(report)).toBe(0);
    expect(readFileSync(join(dir, 'backup-motd'), 'utf8')).toBe('welcome\n');
    for (const c of connections.values())
      for (const command of c.commands) expect(command.text).not.toContain('os-release');
  });
});

describe('chooseWork', () => {
  it('takes the only work of a play without platforms, whatever the host runs', async () => {
    const run = await compileRun(
      definePlaybook({ inventory, plays: [{ hosts: 'primary', roles: [motd(dir)] }] }),
      inventory,
    );
    const choice = run.plays[0].work.get('primary')!;
    expect(chooseWork(choice, undefined)).toEqual({ work: choice.works[0] });
    expect(chooseWork(choice, 'primary runs Ubuntu')).toEqual({ work: choice.works[0] });
  });
});

describe('listing with platforms', () => {
  it('lists the tasks per release when they differ, once when they do not', async () => {
    const playbook = definePlaybook({
      inventory,
      plays: [
        { name: 'web', hosts: 'primary', roles: [php(dir)] },
        { name: 'motd', hosts: 'primary', roles: [motd(dir), php(dir)], tasks: [] },
      ],
    });
    const same = definePlaybook({
      inventory,
      plays: [{ name: 'same', hosts: 'primary', roles: [{ ...motd(dir), platforms: [DEBIAN_12, DEBIAN_13] }] }],
    });
    const run = await compileRun(playbook, inventory, { render: false });
    const text = formatTaskList(run);
    expect(text).toContain('  primary (Debian 12, Debian 13):\n    on Debian 12:\n      php › php8.2-fpm');
    expect(text).toContain('    on Debian 13:\n      php › php8.4-fpm');
    const once = formatTaskList(await compileRun(same, inventory, { render: false }));
    expect(once).toMatch(
      /^play "same":\n {2}primary \(Debian 12, Debian 13\):\n {4}motd › file \S+primary-motd {2}\(\S+host-platform\.test\.ts:\d+\)$/,
    );
    const json = listJson(run).plays[0].hosts.primary as {
      platforms: string[];
      byPlatform: Record<string, { tasks: { task: string }[] }>;
    };
    expect(json.platforms).toEqual(['Debian 12', 'Debian 13']);
    expect(json.byPlatform['Debian 13'].tasks[0].task).toBe('php8.4-fpm');
  });
});

/**
 * Hosts that reboot into what an upgrade installed: this machine, whose os-release and boot id are the test's own.
 * A scheduled reboot (`systemd-run … systemctl reboot`) ends the commands held on the host (a reboot kills every
 * process, the run lock's holder among them), and the next connection finds a new boot of the new release.
 */
function rebootingHosts(before: string, after: string) {
  const boots = new Map<string, { boot: number; rebooting: boolean; held: { release(): Promise<void> }[] }>();
  let holds = 0;
  const connect = async (host: string) => {
    const path = join(dir, `${host}.os-release`);
    const state = boots.get(host) ?? { boot: 1, rebooting: false, held: [] };
    if (!boots.has(host)) writeFileSync(path, before);
    boots.set(host, state);
    if (state.rebooting) {
      state.rebooting = false;
      state.boot++;
      writeFileSync(path, after);
    }
    const release = new ReleaseConnection(host, path);
    const booted: Connection = {
      host,
      get commandCount() {
        return release.commandCount;
      },
      async exec(command, options) {
        if (command.text === 'cat /proc/sys/kernel/random/boot_id')
          return { command: command.text, exitCode: 0, stdout: `boot-${state.boot}\n`, stderr: '', durationMs: 0 };
        if (command.text.startsWith('systemd-run ')) {
          state.rebooting = true;
          await Promise.all(state.held.splice(0).map((held) => held.release()));
          return { command: command.text, exitCode: 0, stdout: '', stderr: '', durationMs: 0 };
        }
        if (command.text.includes('systemctl is-system-running --wait'))
          return { command: command.text, exitCode: 0, stdout: 'running\n', stderr: '', durationMs: 0 };
        return release.exec(command, options);
      },
      hold(command, options) {
        holds++;
        const held = release.hold(command, options);
        state.held.push(held);
        return held;
      },
      close: () => release.close(),
    };
    return new RecordingConnection(host, booted);
  };
  return { connect, holds: () => holds };
}

describe('a reboot in a run', () => {
  it('the next play runs the work of the release the host rebooted into, and the next change takes the run lock again', async () => {
    const playbook = definePlaybook({
      inventory,
      plays: [
        { name: 'before', hosts: 'backup', roles: [php(dir)] },
        { name: 'upgrade', hosts: 'backup', tasks: [reboot({ timeoutSeconds: 30 })] },
        { name: 'after', hosts: 'backup', roles: [php(dir)] },
      ],
    });
    const hosts = rebootingHosts(BOOKWORM, TRIXIE);
    const report = await executeRun(await compileRun(playbook, inventory), {
      check: false,
      forks: 1,
      connect: hosts.connect,
      stateRoot: join(dir, 'state'),
    });
    expect(exitCodeOf(report)).toBe(0);
    expect(report.tasks.map((t) => `${t.play}: ${t.task} ${t.status}`)).toEqual([
      'before: php8.2-fpm changed',
      `before: template ${join(dir, 'backup-pool.conf')} changed`,
      'upgrade: reboot changed',
      'after: php8.4-fpm changed',
      `after: template ${join(dir, 'backup-pool.conf')} changed`,
    ]);
    expect(readFileSync(join(dir, 'backup-version'), 'utf8')).toBe('8.4\n');
    // Taken before the first change, then again after the reboot ended the first holder.
    expect(hosts.holds()).toBe(2);
  });
});
