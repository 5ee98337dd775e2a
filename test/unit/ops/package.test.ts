import { describe, expect, it } from 'vitest';
import { packages, type PackagesParams } from '../../../src/ops/package.ts';
import { PlayError } from '../../../src/errors.ts';
import { secret } from '../../../src/secret.ts';
import { FakeHost, expectPlan, type ExpectedPlan, type FakeHostInit } from '../support/fake-host.ts';

const NI = 'DEBIAN_FRONTEND=noninteractive';
const INSTALL = `${NI} apt-get install -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold`;

interface Case {
  readonly name: string;
  readonly host: FakeHostInit;
  readonly params: PackagesParams;
  readonly expected: ExpectedPlan;
}

const cases: Case[] = [
  {
    name: 'all installed: unchanged with versions',
    host: { packages: { bind9: '1:9.18.33', dnsutils: '1:9.18.33' } },
    params: { names: ['bind9', 'dnsutils'] },
    expected: { reason: 'installed: bind9 1:9.18.33, dnsutils 1:9.18.33' },
  },
  {
    name: 'all missing: one apt-get call for every missing name',
    host: {},
    params: { names: ['bind9', 'dnsutils'] },
    expected: { summary: 'install bind9, dnsutils', commands: [`${INSTALL} -- bind9 dnsutils`] },
  },
  {
    name: 'some missing: only those are installed',
    host: { packages: { bind9: '1' } },
    params: { names: ['bind9', 'dnsutils', 'bind9-doc'] },
    expected: { summary: 'install dnsutils, bind9-doc', commands: [`${INSTALL} -- dnsutils bind9-doc`] },
  },
  {
    name: 'name instead of names',
    host: {},
    params: { name: 'postfix' },
    expected: { summary: 'install postfix', commands: [`${INSTALL} -- postfix`] },
  },
  {
    name: 'installRecommends false',
    host: {},
    params: { name: 'roundcube', installRecommends: false },
    expected: { summary: 'install roundcube', commands: [`${INSTALL} --no-install-recommends -- roundcube`] },
  },
  {
    name: 'updateCache runs apt-get update first',
    host: {},
    params: { name: 'keepalived', updateCache: true },
    expected: { summary: 'install keepalived', commands: [`${NI} apt-get update -q`, `${INSTALL} -- keepalived`] },
  },
  {
    name: 'updateCache with nothing to install: unchanged',
    host: { packages: { keepalived: '2.2.7' } },
    params: { name: 'keepalived', updateCache: true },
    expected: { reason: 'installed: keepalived 2.2.7' },
  },
  {
    name: 'absent and installed: removed',
    host: { packages: { telnet: '0.17', ftp: '0.17' } },
    params: { names: ['telnet', 'ftp', 'rsh-client'], state: 'absent' },
    expected: { summary: 'remove telnet, ftp', commands: [`${NI} apt-get remove -y -q -- telnet ftp`] },
  },
  {
    name: 'absent with purge',
    host: { packages: { telnet: '0.17' } },
    params: { name: 'telnet', state: 'absent', purge: true },
    expected: { summary: 'purge telnet', commands: [`${NI} apt-get purge -y -q -- telnet`] },
  },
  {
    name: 'absent and not installed: unchanged',
    host: {},
    params: { name: 'telnet', state: 'absent' },
    expected: { reason: 'not installed: telnet' },
  },
  {
    name: 'hostile names are quoted',
    host: {},
    params: { names: ['evil; rm -rf /', 'a b', "it's"] },
    expected: {
      summary: "install evil; rm -rf /, a b, it's",
      commands: [`${INSTALL} -- 'evil; rm -rf /' 'a b' 'it'\\''s'`],
    },
  },
];

describe('packages', () => {
  it.each(cases)('$name', async ({ host: init, params, expected }) => {
    const host = new FakeHost(init);
    const plan = await host.plan(packages(params));
    expectPlan(plan, expected);
    if (plan.changed) expect(plan.diffs).toEqual([]);
    expect(host.probeRounds).toBe(1);
  });

  it('feeds preseed answers through stdin before installing, secrets never in a command', async () => {
    const host = new FakeHost({ packageServices: { postfix: ['postfix'] } });
    const password = secret('s3cret-db-pass');
    const task = packages({
      names: ['postfix', 'roundcube'],
      preseed: [
        { package: 'postfix', question: 'postfix/main_mailer_type', type: 'select', value: 'Internet Site' },
        { package: 'roundcube-core', question: 'roundcube/mysql/app-pass', type: 'password', value: password },
      ],
    });
    const plan = await host.plan(task);
    if (!plan.changed) throw new Error('expected a change');
    expect(plan.steps).toHaveLength(2);
    const [preseed, install] = plan.steps;
    expect(preseed.kind === 'exec' && preseed.command.text).toBe('debconf-set-selections');
    expect(preseed.kind === 'exec' && preseed.stdin).toBe(
      'postfix postfix/main_mailer_type select Internet Site\nroundcube-core roundcube/mysql/app-pass password s3cret-db-pass\n',
    );
    expect(install.kind === 'exec' && install.command.text).toBe(`${INSTALL} -- postfix roundcube`);
    expect(plan.summary).not.toContain('s3cret-db-pass');
    for (const step of plan.steps)
      if (step.kind === 'exec') expect(step.command.text + step.command.display).not.toContain('s3cret-db-pass');

    const { second } = await host.converge(task);
    expect(second.changed).toBe(false);
    expect(host.state.debconf).toContain('roundcube-core roundcube/mysql/app-pass password s3cret-db-pass');
    for (const command of host.connection.commands) expect(command.text).not.toContain('s3cret-db-pass');
  });

  it('converges: install then unchanged', async () => {
    const host = new FakeHost({ packages: { bind9: '1' } });
    const task = packages({ names: ['bind9', 'dnsutils', 'odd name;'], updateCache: true });
    const { first, second } = await host.converge(task);
    expect(first.changed).toBe(true);
    expect(second).toEqual({ changed: false, reason: 'installed: bind9 1, dnsutils 1.0-1, odd name; 1.0-1' });
    expect(host.changes.map((c) => c.text)).toEqual([`${NI} apt-get update -q`, `${INSTALL} -- dnsutils 'odd name;'`]);
    expect(host.state.aptUpdates).toBe(1);
  });

  it('converges: remove then unchanged', async () => {
    const host = new FakeHost({ packages: { telnet: '1' } });
    const { first, second } = await host.converge(packages({ name: 'telnet', state: 'absent' }));
    expect(first.changed).toBe(true);
    expect(second.changed).toBe(false);
    expect(host.state.packages.has('telnet')).toBe(false);
  });

  it('an unknown package fails at apply', async () => {
    const host = new FakeHost({ unavailable: new Set(['nosuch']) });
    const plan = await host.plan(packages({ name: 'nosuch' }));
    await expect(host.apply(plan)).rejects.toThrow(/Unable to locate package nosuch/);
  });

  it('names the task after its packages, or taskName', () => {
    expect(packages({ names: ['bind9', 'dnsutils'] }).name).toBe('package bind9, dnsutils');
    const t = packages({ name: 'nginx', taskName: 'web server', notify: 'restart nginx', tags: ['web'] });
    expect(t).toMatchObject({ name: 'web server', notify: ['restart nginx'], tags: ['web'] });
    expect(t.op.kind).toBe('package');
  });

  it.each([
    [{ names: [] }, /at least one package/],
    [{ names: [''] }, /invalid package name/],
    [{ name: 'x', state: 'latest' as never }, /state must be/],
    [{ name: 'x', preseed: [{ package: 'x', question: 'x/q', type: 'string', value: 'a\nb' }] }, /one line/],
    [{ name: 'x', preseed: [{ package: 'x', question: 'x q', type: 'string', value: 'a' }] }, /single words/],
  ] as [PackagesParams, RegExp][])('rejects bad params %#', (params, message) => {
    expect(() => packages(params)).toThrow(PlayError);
    expect(() => packages(params)).toThrow(message);
  });
});
