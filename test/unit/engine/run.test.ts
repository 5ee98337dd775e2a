import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalConnection } from '../../../src/connection/local.ts';
import { RecordingConnection } from '../../../src/connection/recording.ts';
import { ConnectError } from '../../../src/errors.ts';
import { compileRun } from '../../../src/engine/compile.ts';
import { executeRun } from '../../../src/engine/run.ts';
import { exitCodeOf } from '../../../src/engine/report.ts';
import { REMOTE_MARKER } from '../../../src/remote/protocol.ts';
import {
  Type,
  command,
  packages,
  service,
  defineInventory,
  definePlaybook,
  defineRole,
  directory,
  file,
  flushHandlers,
  line,
  secret,
  sh,
  template,
} from '../../../src/index.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'play-run-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Every file under a folder with its content and mode, to prove nothing changed. */
function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const s = statSync(p);
      if (s.isDirectory()) {
        out[p] = `dir ${s.mode.toString(8)}`;
        walk(p);
      } else out[p] = `${s.mode.toString(8)} ${readFileSync(p, 'utf8')}`;
    }
  };
  walk(root);
  return out;
}

const twoHosts = () =>
  defineInventory({
    hosts: {
      alpha: { address: 'localhost', connection: 'local', vars: { name: 'alpha' } },
      beta: { address: 'localhost', connection: 'local', vars: { name: 'beta' } },
    },
    groups: { pair: { hosts: ['alpha', 'beta'] } },
  });

function recorder() {
  const connections = new Map<string, RecordingConnection>();
  const connect = async (host: string) => {
    const c = new RecordingConnection(host, new LocalConnection(host));
    connections.set(host, c);
    return c;
  };
  return { connections, connect };
}

function siteRole(root: string) {
  writeFileSync(join(root, 'site.ejs'), 'name=<%= name %>\n');
  return defineRole({
    name: 'site',
    schema: Type.Object({ name: Type.String() }),
    tasks: ({ host }) => [
      directory({ path: join(root, host), mode: '0750' }),
      file({ path: join(root, host, 'static.txt'), content: 'static\n', mode: '0640', notify: 'second' }),
      template({ src: join(root, 'site.ejs'), dest: join(root, host, 'site.conf'), notify: ['first', 'second'] }),
      line({ path: join(root, host, 'lines.txt'), line: 'extra', create: true, tags: ['lines'] }),
      command({ cmd: sh`touch ${join(root, `${host}-ran`)}`, creates: join(root, `${host}-ran`), tags: ['cmd'] }),
      // A fact that names no path (whether a command succeeds): read once in a run that changes nothing.
      command({ cmd: sh`true`, unless: sh`test -d ${join(root, host)}`, tags: ['guard'] }),
    ],
    handlers: ({ host }) => [
      command({ name: 'first', cmd: sh`echo first >> ${join(root, host, 'handlers.log')}` }),
      command({ name: 'second', cmd: sh`echo second >> ${join(root, host, 'handlers.log')}` }),
      command({ name: 'never', cmd: sh`echo never >> ${join(root, host, 'handlers.log')}` }),
    ],
  });
}

describe('executeRun', () => {
  it('converges, then a second run changes nothing', async () => {
    const playbook = definePlaybook({ inventory: twoHosts(), plays: [{ hosts: 'pair', roles: [siteRole(dir)] }] });
    const first = await executeRun(await compileRun(playbook, playbook.inventory), {
      check: false,
      forks: 10,
      connect: recorder().connect,
    });
    expect(first.hosts.alpha.changed).toBe(5 + 2);
    expect(readFileSync(join(dir, 'beta', 'site.conf'), 'utf8')).toBe('name=beta\n');
    expect(readFileSync(join(dir, 'alpha', 'static.txt'), 'utf8')).toBe('static\n');
    expect(readFileSync(join(dir, 'alpha', 'lines.txt'), 'utf8')).toBe('extra\n');
    const second = await executeRun(await compileRun(playbook, playbook.inventory), {
      check: false,
      forks: 10,
      connect: recorder().connect,
    });
    expect(second.hosts.alpha).toMatchObject({ changed: 0, ok: 6, failed: 0 });
    expect(second.hosts.beta).toMatchObject({ changed: 0, ok: 6, failed: 0 });
    // A no-op run of the whole role costs one round trip per host: all probes travel together.
    expect(second.hosts.alpha.commands).toBe(1);
  });

  it('--check sends no mutating command and leaves every file as it was', async () => {
    const playbook = definePlaybook({
      inventory: twoHosts(),
      plays: [
        { hosts: 'pair', roles: [siteRole(dir)], tasks: [command({ cmd: sh`touch ${join(dir, 'unguarded')}` })] },
      ],
    });
    const before = snapshot(dir);
    const { connections, connect } = recorder();
    const report = await executeRun(await compileRun(playbook, playbook.inventory), {
      check: true,
      forks: 10,
      connect,
    });
    expect(snapshot(dir)).toEqual(before);
    for (const connection of connections.values()) {
      expect(connection.commands.length).toBeGreaterThan(0);
      for (const c of connection.commands) expect(c.text.startsWith(REMOTE_MARKER.probe)).toBe(true);
    }
    // Every task (the guarded command too: its directory is not there yet) and the notified handlers are reported
    // as changes that would happen.
    expect(report.hosts.alpha.changed).toBe(5 + 1 + 1 + 2);
    // Handlers in definition order on each host (the two hosts run side by side, so their lines interleave).
    for (const host of ['alpha', 'beta'])
      expect(report.tasks.filter((t) => t.handler && t.host === host).map((t) => t.task)).toEqual(['first', 'second']);
    expect(exitCodeOf(report, { detailed: true })).toBe(3);
    expect(existsSync(join(dir, 'unguarded'))).toBe(false);
  });

  it('runs notified handlers once, in definition order, only when a notifying task changed', async () => {
    const playbook = definePlaybook({ inventory: twoHosts(), plays: [{ hosts: 'alpha', roles: [siteRole(dir)] }] });
    await executeRun(await compileRun(playbook, playbook.inventory), {
      check: false,
      forks: 1,
      connect: recorder().connect,
    });
    // "second" was notified twice (file, template) and "first" once, after it: each runs once, first before second.
    expect(readFileSync(join(dir, 'alpha', 'handlers.log'), 'utf8')).toBe('first\nsecond\n');
    await executeRun(await compileRun(playbook, playbook.inventory), {
      check: false,
      forks: 1,
      connect: recorder().connect,
    });
    expect(readFileSync(join(dir, 'alpha', 'handlers.log'), 'utf8')).toBe('first\nsecond\n');
    writeFileSync(join(dir, 'alpha', 'site.conf'), 'drifted\n');
    await executeRun(await compileRun(playbook, playbook.inventory), {
      check: false,
      forks: 1,
      connect: recorder().connect,
    });
    expect(readFileSync(join(dir, 'alpha', 'handlers.log'), 'utf8')).toBe('first\nsecond\nfirst\nsecond\n');
  });

  it('flushHandlers runs the notified handlers at that point', async () => {
    const log = join(dir, 'log');
    const playbook = definePlaybook({
      inventory: twoHosts(),
      plays: [
        {
          hosts: 'alpha',
          tasks: [
            file({ path: join(dir, 'a'), content: 'a', notify: 'h' }),
            flushHandlers(),
            command({ cmd: sh`echo task >> ${log}` }),
          ],
          handlers: [command({ name: 'h', cmd: sh`echo handler >> ${log}` })],
        },
      ],
    });
    await executeRun(await compileRun(playbook, playbook.inventory), {
      check: false,
      forks: 1,
      connect: recorder().connect,
    });
    expect(readFileSync(log, 'utf8')).toBe('handler\ntask\n');
  });

  it('a failing host and an unreachable host do not stop the others', async () => {
    const inventory = defineInventory({
      hosts: {
        good: { address: 'localhost', connection: 'local' },
        bad: { address: 'localhost', connection: 'local' },
        gone: { address: '198.18.99.99' },
      },
    });
    const playbook = definePlaybook({
      inventory,
      plays: [
        {
          hosts: 'all',
          tasks: ({ host }) => [
            command({ cmd: host === 'bad' ? sh`echo boom >&2; exit 7` : sh`true`, name: 'maybe fail' }),
            file({ path: join(dir, host), content: host }),
          ],
        },
        { hosts: 'all', tasks: ({ host }) => [file({ path: join(dir, `${host}-2`), content: host })] },
      ],
    });
    const { connect: local } = recorder();
    const connect = async (host: string) => {
      if (host === 'gone') throw new ConnectError('cannot connect to root@198.18.99.99:22: timed out', { host });
      return local(host);
    };
    const report = await executeRun(await compileRun(playbook, inventory), { check: false, forks: 10, connect });
    expect(readFileSync(join(dir, 'good-2'), 'utf8')).toBe('good');
    expect(existsSync(join(dir, 'bad'))).toBe(false);
    expect(existsSync(join(dir, 'bad-2'))).toBe(false);
    expect(report.hosts.bad.failed).toBe(1);
    expect(report.hosts.gone.unreachable).toBe(1);
    expect(report.hosts.good).toMatchObject({ failed: 0, unreachable: 0, changed: 3 });
    const failure = report.tasks.find((t) => t.status === 'failed')!;
    expect(failure.error).toContain('bad');
    expect(failure.error).toContain('maybe fail');
    expect(failure.error).toMatch(/test\/unit\/engine\/run\.test\.ts:\d+/);
    expect(failure.error).toContain('exit 7');
    expect(failure.error).toContain('boom');
    expect(exitCodeOf(report)).toBe(1);
  });

  it('a play with anyErrorsFatal stops the run after the batch where a host failed: no later batch or play runs', async () => {
    const events: string[] = [];
    const playbook = definePlaybook({
      inventory: twoHosts(),
      plays: [
        {
          name: 'one at a time',
          hosts: ['beta', 'alpha'],
          serial: 1,
          anyErrorsFatal: true,
          tasks: ({ host }) => [
            command({ name: 'step', cmd: host === 'beta' ? sh`echo apt failed >&2; exit 100` : sh`true` }),
            file({ path: join(dir, `${host}-1`), content: host }),
          ],
        },
        {
          name: 'afterwards',
          hosts: 'all',
          tasks: ({ host }) => [file({ path: join(dir, `${host}-2`), content: host })],
        },
      ],
    });
    const report = await executeRun(await compileRun(playbook, playbook.inventory), {
      check: false,
      forks: 10,
      connect: recorder().connect,
      onEvent: (e) => {
        if (e.type === 'stopped') events.push(`${e.play}: ${e.failed.join()} failed; ${e.skipped.join()} skipped`);
      },
    });
    expect(readdirSync(dir)).toEqual([]);
    expect(report.stop).toEqual({ play: 'one at a time', failed: ['beta'], skipped: ['alpha'] });
    expect(events).toEqual(['one at a time: beta failed; alpha skipped']);
    expect(report.hosts.alpha).toMatchObject({ ok: 0, changed: 0, failed: 0 });
    expect(exitCodeOf(report)).toBe(1);
    // Without it, the failed host is left out and the others go on, as in Ansible.
    const lenient = definePlaybook({
      inventory: twoHosts(),
      plays: playbook.plays.map((p) => ({ ...p, anyErrorsFatal: false })),
    });
    const goesOn = await executeRun(await compileRun(lenient, lenient.inventory), {
      check: false,
      forks: 10,
      connect: recorder().connect,
    });
    expect(goesOn.stop).toBeUndefined();
    expect(readdirSync(dir).sort()).toEqual(['alpha-1', 'alpha-2']);
  });

  it('refuses an anyErrorsFatal that is not true or false, naming the play', async () => {
    const playbook = definePlaybook({
      inventory: twoHosts(),
      plays: [{ name: 'upgrade', hosts: 'all', anyErrorsFatal: 'yes' as unknown as boolean, tasks: [] }],
    });
    await expect(compileRun(playbook, playbook.inventory)).rejects.toThrow(
      'upgrade: anyErrorsFatal must be true or false, got "yes"',
    );
  });

  it('--limit and --tags select hosts and tasks', async () => {
    const playbook = definePlaybook({ inventory: twoHosts(), plays: [{ hosts: 'pair', roles: [siteRole(dir)] }] });
    const run = await compileRun(playbook, playbook.inventory, { limit: 'beta', tags: ['cmd'] });
    expect(run.hosts).toEqual(['beta']);
    expect(run.plays[0].work.get('beta')!.works[0].tasks.map((t) => t.tags)).toEqual([['cmd']]);
    await executeRun(run, { check: false, forks: 10, connect: recorder().connect });
    expect(existsSync(join(dir, 'alpha'))).toBe(false);
    expect(existsSync(join(dir, 'beta', 'site.conf'))).toBe(false);
    expect(existsSync(join(dir, 'beta-ran'))).toBe(true);
    const skipped = await compileRun(playbook, playbook.inventory, { skipTags: ['lines', 'cmd'] });
    expect(skipped.plays[0].work.get('alpha')!.works[0].tasks).toHaveLength(4);
  });

  it('every task that installs packages also has the tag "packages": --tags packages selects them and nothing else', async () => {
    const playbook = definePlaybook({
      inventory: twoHosts(),
      plays: [
        {
          hosts: 'alpha',
          tasks: [
            packages({ names: ['apache2'], tags: ['web'] }),
            service({ name: 'apache2', state: 'started' }),
            command({ cmd: sh`true`, tags: ['web'] }),
          ],
        },
      ],
    });
    const run = await compileRun(playbook, playbook.inventory, { tags: ['packages'] });
    const tasks = run.plays[0].work.get('alpha')!.works[0].tasks;
    expect(tasks.map((t) => [t.task.name, t.tags])).toEqual([[tasks[0].task.name, ['web', 'packages']]]);
    expect(tasks[0].task.op.packageWant?.names).toEqual(['apache2']);
    const skipped = await compileRun(playbook, playbook.inventory, { skipTags: ['packages'] });
    expect(skipped.plays[0].work.get('alpha')!.works[0].tasks.map((t) => t.task.op.packageWant)).toEqual([
      undefined,
      undefined,
    ]);
  });

  it('--check carries predicted state: a service its package would install is "would start", not an error', async () => {
    const playbook = definePlaybook({
      inventory: twoHosts(),
      plays: [
        {
          hosts: 'alpha',
          tasks: [
            packages({ names: ['play-test-no-such-package'] }),
            service({ name: 'play-test-no-such-service', state: 'started', enabled: true }),
          ],
        },
      ],
    });
    const { connections, connect } = recorder();
    const report = await executeRun(await compileRun(playbook, playbook.inventory), { check: true, forks: 1, connect });
    expect(report.tasks.map((t) => t.status)).toEqual(['changed', 'changed']);
    expect(report.tasks[1].summary).toMatch(/start/);
    for (const c of connections.get('alpha')!.commands) expect(c.text.startsWith(REMOTE_MARKER.probe)).toBe(true);
    // Without the package change before it, the same service is an error: the host really lacks it.
    const alone = definePlaybook({
      inventory: twoHosts(),
      plays: [{ hosts: 'alpha', tasks: [service({ name: 'play-test-no-such-service', state: 'started' })] }],
    });
    const failed = await executeRun(await compileRun(alone, alone.inventory), {
      check: true,
      forks: 1,
      connect: recorder().connect,
    });
    expect(failed.tasks[0].status).toBe('failed');
    expect(failed.tasks[0].error).toContain('not found');
  });

  it('serial runs batches one after the other, in the order the play names the hosts', async () => {
    const order: string[] = [];
    const playbook = definePlaybook({
      inventory: twoHosts(),
      plays: [
        { hosts: ['beta', 'alpha'], serial: 1, tasks: ({ host }) => [file({ path: join(dir, host), content: host })] },
      ],
    });
    await executeRun(await compileRun(playbook, playbook.inventory), {
      check: false,
      forks: 10,
      connect: recorder().connect,
      onEvent: (e) => {
        if (e.type === 'host-start' || e.type === 'host-end') order.push(`${e.type}:${e.host}`);
      },
    });
    expect(order).toEqual(['host-start:beta', 'host-end:beta', 'host-start:alpha', 'host-end:alpha']);
  });
  it('serial orders changes, not reads: every host is probed before the first batch runs, one command per host for a no-op', async () => {
    const playbook = definePlaybook({
      inventory: twoHosts(),
      plays: [
        { hosts: ['beta', 'alpha'], serial: 1, tasks: ({ host }) => [file({ path: join(dir, host), content: host })] },
      ],
    });
    await executeRun(await compileRun(playbook, playbook.inventory), {
      check: false,
      forks: 10,
      connect: recorder().connect,
    });
    const log: string[] = [];
    const { connections, connect } = recorder();
    const report = await executeRun(await compileRun(playbook, playbook.inventory), {
      check: false,
      forks: 10,
      connect: async (host) => {
        const c = await connect(host);
        const exec = c.exec.bind(c);
        c.exec = (command, options) => {
          log.push(`probe:${host}`);
          return exec(command, options);
        };
        return c;
      },
      onEvent: (e) => {
        if (e.type === 'host-start') log.push(`start:${e.host}`);
      },
    });
    expect(log).toEqual(['probe:beta', 'probe:alpha', 'start:beta', 'start:alpha']);
    for (const host of ['alpha', 'beta']) expect(report.hosts[host]).toMatchObject({ changed: 0, commands: 1 });
    expect(connections.size).toBe(2);
  });

  it('facts read ahead are read again when an earlier batch changed something', async () => {
    // alpha's file is as alpha wants it when the run starts; beta's batch then changes it behind the read-ahead's
    // back, so alpha's batch must see that and put it right.
    writeFileSync(join(dir, 'alpha.txt'), 'alpha');
    const playbook = definePlaybook({
      inventory: twoHosts(),
      plays: [
        {
          hosts: ['beta', 'alpha'],
          serial: 1,
          tasks: ({ host }) =>
            host === 'beta'
              ? [file({ path: join(dir, 'alpha.txt'), content: 'beta was here' })]
              : [file({ path: join(dir, 'alpha.txt'), content: 'alpha' })],
        },
      ],
    });
    const report = await executeRun(await compileRun(playbook, playbook.inventory), {
      check: false,
      forks: 10,
      connect: recorder().connect,
    });
    expect(report.hosts.beta.changed).toBe(1);
    expect(report.hosts.alpha.changed).toBe(1);
    expect(readFileSync(join(dir, 'alpha.txt'), 'utf8')).toBe('alpha');
  });

  it("masks with the run's own table what its tasks print of a secret: of its vars, and of a command's own", async () => {
    const inventory = defineInventory({
      hosts: { alpha: { address: 'localhost', connection: 'local', vars: { dbPassword: secret('vars-secret-5501') } } },
    });
    const own = secret('own-secret-5502');
    const playbook = definePlaybook({
      inventory,
      plays: [
        {
          hosts: 'all',
          tasks: ({ vars }) => [
            command({ name: 'leak', cmd: sh`echo ${vars.dbPassword as never} ${own} >&2; exit 3` }),
          ],
        },
      ],
    });
    const run = await compileRun(playbook, inventory);
    const events: string[] = [];
    const report = await executeRun(run, {
      check: false,
      forks: 1,
      connect: recorder().connect,
      onEvent: (e) => events.push(JSON.stringify(e)),
    });
    const failure = report.tasks.find((t) => t.task === 'leak')!;
    expect(failure.status).toBe('failed');
    expect(failure.error).toContain('******** ********');
    for (const text of [JSON.stringify(report), ...events]) {
      expect(text).not.toContain('vars-secret-5501');
      expect(text).not.toContain('own-secret-5502');
    }
    // The run's table is its own: it knows both now, and a table of another run knows neither.
    expect(run.masks.mask('vars-secret-5501 own-secret-5502')).toBe('******** ********');
    expect(
      (
        await compileRun(definePlaybook({ inventory: twoHosts(), plays: [{ hosts: 'all', tasks: [] }] }), twoHosts())
      ).masks.mask('own-secret-5502'),
    ).toBe('own-secret-5502');
  });
});
