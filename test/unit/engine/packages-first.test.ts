import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalConnection } from '../../../src/connection/local.ts';
import { sh } from '../../../src/connection/sh.ts';
import { compileRun } from '../../../src/engine/compile.ts';
import { PACKAGES_FIRST_TASK } from '../../../src/engine/packages-first.ts';
import { executeRun } from '../../../src/engine/run.ts';
import { defineInventory, definePlaybook, defineRole, file, packages, type Play } from '../../../src/index.ts';

// A stand-in for dpkg and apt on PATH: dpkg-query answers from a list of installed packages per host, apt-get
// install adds to it and logs the call, debconf-set-selections logs its input. The engine's own probe scripts,
// lock and journal commands run for real through a local shell.
let dir: string;
let savedPath: string | undefined;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'play-packages-first-'));
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  const script = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  script(
    'dpkg-query',
    `shift 2; [ "$1" = -- ] && shift; for n in "$@"; do grep -qx "$n" "$PLAY_FAKE_DPKG" 2>/dev/null && printf '%s\\tii \\t1.0\\n' "$n"; done; exit 0`,
  );
  script(
    'apt-get',
    `echo "apt-get $*" >> "$PLAY_FAKE_DPKG.log"; [ "$1" = install ] || exit 0; while [ "$1" != -- ]; do shift; done; shift; for n in "$@"; do echo "$n" >> "$PLAY_FAKE_DPKG"; done`,
  );
  script('debconf-set-selections', `{ echo debconf; cat; } >> "$PLAY_FAKE_DPKG.log"`);
  savedPath = process.env.PATH;
  process.env.PATH = `${bin}:${process.env.PATH}`;
});
afterEach(() => {
  process.env.PATH = savedPath;
  rmSync(dir, { recursive: true, force: true });
});

const inventory = () =>
  defineInventory({
    hosts: {
      primary: { address: 'localhost', connection: 'local' },
      backup: { address: 'localhost', connection: 'local' },
    },
  });

// Each host's "dpkg" lives in its own file: the connection sets PLAY_FAKE_DPKG for every command it runs.
const connect = async (host: string) => {
  const local = new LocalConnection(host);
  const exec = local.exec.bind(local);
  local.exec = (command, options) =>
    exec(sh`PLAY_FAKE_DPKG=${join(dir, `${host}.installed`)}; export PLAY_FAKE_DPKG; ${command}`, options);
  return local;
};
const installed = (host: string) =>
  readFileSync(join(dir, `${host}.installed`), 'utf8')
    .split('\n')
    .filter(Boolean);
const aptLog = (host: string) => readFileSync(join(dir, `${host}.installed.log`), 'utf8');

const web = defineRole({
  name: 'web',
  tasks: () => [packages({ names: ['apache2', 'ssl-cert'] }), file({ path: join(dir, 'web.conf'), content: 'web\n' })],
});
const mail = defineRole({
  name: 'mail',
  tasks: () => [
    packages({
      name: 'postfix',
      preseed: [{ package: 'postfix', question: 'postfix/mailname', type: 'string', value: 'smknh.sch.id' }],
    }),
    packages({ names: ['roundcube'], installRecommends: false }),
    // It notifies a handler, which must see its own task change: never installed first.
    packages({ name: 'opendkim', notify: 'restart opendkim' }),
  ],
  handlers: () => [file({ name: 'restart opendkim', path: join(dir, 'opendkim-restarted'), content: 'yes\n' })],
});
const site = (extra: Partial<Play> = {}) =>
  definePlaybook({
    inventory: inventory(),
    plays: [
      {
        name: 'site',
        hosts: ['primary', 'backup'],
        serial: 1,
        roles: [web, mail],
        installPackagesFirst: true,
        ...extra,
      },
    ],
  });

async function run(playbook: ReturnType<typeof site>, check = false) {
  const events: string[] = [];
  const report = await executeRun(await compileRun(playbook, playbook.inventory), {
    check,
    forks: 10,
    connect,
    stateRoot: join(dir, 'state'),
    onEvent: (e) => {
      if (e.type === 'host-start') events.push(`start ${e.host}`);
      if (e.type === 'task-end')
        events.push(
          `${e.result.host} ${e.result.status} ${e.result.task}${e.result.summary ? `: ${e.result.summary}` : ''}`,
        );
    },
  });
  return { report, events };
}

describe('a play that installs its packages first', () => {
  it("installs every host's packages in one round of apt-get before the first batch, whatever serial says; the tasks then find them installed", async () => {
    const { report, events } = await run(site());
    expect(events.slice(0, 2).sort()).toEqual([
      `backup changed ${PACKAGES_FIRST_TASK}: install apache2, ssl-cert, postfix, roundcube`,
      `primary changed ${PACKAGES_FIRST_TASK}: install apache2, ssl-cert, postfix, roundcube`,
    ]);
    expect(events[2]).toBe('start primary');
    expect(events).toContain('primary ok package apache2, ssl-cert: installed: apache2 1.0, ssl-cert 1.0');
    expect(events).toContain('primary changed package opendkim: install opendkim');
    for (const host of ['primary', 'backup']) {
      // The debconf answers first, then one install with recommends and one without; opendkim on its own.
      expect(aptLog(host)).toBe(
        'debconf\npostfix postfix/mailname string smknh.sch.id\n' +
          'apt-get install -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold -- apache2 ssl-cert postfix\n' +
          'apt-get install -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold --no-install-recommends -- roundcube\n' +
          'apt-get install -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold -- opendkim\n',
      );
      expect(installed(host).sort()).toEqual(['apache2', 'opendkim', 'postfix', 'roundcube', 'ssl-cert']);
      expect(report.hosts[host].failed).toBe(0);
    }
  });

  it('shows the same install under --check, changes nothing, and the tasks it covers say so', async () => {
    const { report, events } = await run(site(), true);
    expect(events).toContain(`primary changed ${PACKAGES_FIRST_TASK}: install apache2, ssl-cert, postfix, roundcube`);
    expect(events).toContain(`primary ok package apache2, ssl-cert: installed first (${PACKAGES_FIRST_TASK})`);
    expect(events).toContain('primary changed package opendkim: install opendkim');
    expect(() => aptLog('primary')).toThrow();
    expect(report.hosts.primary.changed).toBe(4);
  });

  it('with everything installed shows nothing and adds no command; without the option each task installs its own', async () => {
    await run(site());
    const again = await run(site());
    expect(again.events.filter((e) => e.includes(PACKAGES_FIRST_TASK))).toEqual([]);
    expect(again.report.hosts.primary.changed).toBe(0);
    rmSync(join(dir, 'primary.installed'));
    rmSync(join(dir, 'primary.installed.log'));
    const plain = await run(site({ installPackagesFirst: false, hosts: ['primary'] }));
    expect(plain.events.filter((e) => e.includes(PACKAGES_FIRST_TASK))).toEqual([]);
    expect(aptLog('primary').match(/^apt-get install/gm)).toHaveLength(4);
  });

  it('a host whose install fails is out of the run; the other goes on', async () => {
    writeFileSync(
      join(dir, 'bin', 'apt-get'),
      `#!/bin/sh\n[ "$PLAY_FAKE_DPKG" = "${join(dir, 'backup.installed')}" ] && { echo 'E: Unable to locate package roundcube' >&2; exit 100; }\nwhile [ "$1" != -- ]; do shift; done; shift; for n in "$@"; do echo "$n" >> "$PLAY_FAKE_DPKG"; done\n`,
    );
    const { report, events } = await run(site());
    expect(report.tasks.find((t) => t.host === 'backup' && t.task === PACKAGES_FIRST_TASK)).toMatchObject({
      status: 'failed',
      error: expect.stringContaining('Unable to locate package roundcube'),
    });
    expect(events).not.toContain('start backup');
    expect(report.hosts.primary.failed).toBe(0);
    expect(installed('primary')).toContain('roundcube');
  });

  it('refuses an installPackagesFirst that is not a boolean, naming the play', async () => {
    await expect(compileRun(site({ installPackagesFirst: 'yes' as unknown as boolean }), inventory())).rejects.toThrow(
      'site: installPackagesFirst must be true or false, got "yes"',
    );
  });
});
