import { describe, expect, it } from 'vitest';
import { service, type ServiceParams } from '../../../src/ops/service.ts';
import { packages } from '../../../src/ops/package.ts';
import { PlayError } from '../../../src/errors.ts';
import { FakeHost, expectPlan, type ExpectedPlan, type FakeHostInit } from '../support/fake-host.ts';

interface Case {
  readonly name: string;
  readonly host: FakeHostInit;
  readonly params: ServiceParams;
  readonly expected: ExpectedPlan;
}

const running = { active: true, enabled: true };
const stopped = { active: false, enabled: false };

const cases: Case[] = [
  {
    name: 'running and enabled: unchanged',
    host: { services: { nginx: running } },
    params: { name: 'nginx', state: 'started', enabled: true },
    expected: { reason: 'nginx is running and enabled' },
  },
  {
    name: 'stopped and disabled: start and enable',
    host: { services: { nginx: stopped } },
    params: { name: 'nginx', state: 'started', enabled: true },
    expected: {
      summary: 'start and enable nginx',
      commands: ['systemctl start -- nginx', 'systemctl enable -- nginx'],
    },
  },
  {
    name: 'stop a running one',
    host: { services: { nginx: running } },
    params: { name: 'nginx', state: 'stopped' },
    expected: { summary: 'stop nginx', commands: ['systemctl stop -- nginx'] },
  },
  {
    name: 'already stopped',
    host: { services: { nginx: stopped } },
    params: { name: 'nginx', state: 'stopped' },
    expected: { reason: 'nginx is stopped' },
  },
  {
    name: 'disable only',
    host: { services: { nginx: running } },
    params: { name: 'nginx', enabled: false },
    expected: { summary: 'disable nginx', commands: ['systemctl disable -- nginx'] },
  },
  {
    name: 'enabled only, already',
    host: { services: { nginx: stopped } },
    params: { name: 'nginx', enabled: false },
    expected: { reason: 'nginx is disabled' },
  },
  {
    name: 'restarted always changes',
    host: { services: { nginx: running } },
    params: { name: 'nginx', state: 'restarted' },
    expected: { summary: 'restart nginx', commands: ['systemctl restart -- nginx'] },
  },
  {
    name: 'reloaded always changes',
    host: { services: { nginx: running } },
    params: { name: 'nginx', state: 'reloaded' },
    expected: { summary: 'reload nginx', commands: ['systemctl reload -- nginx'] },
  },
  {
    name: 'a unit name with a suffix',
    host: { services: { 'dovecot.socket': stopped } },
    params: { name: 'dovecot.socket', state: 'started' },
    expected: { summary: 'start dovecot.socket', commands: ['systemctl start -- dovecot.socket'] },
  },
  {
    name: 'sysv: init script and update-rc.d',
    host: { manager: 'sysv', services: { bind9: stopped } },
    params: { name: 'bind9', state: 'started', enabled: true },
    expected: { summary: 'start and enable bind9', commands: ['/etc/init.d/bind9 start', 'update-rc.d bind9 enable'] },
  },
  {
    name: 'sysv: stop and disable',
    host: { manager: 'sysv', services: { bind9: running } },
    params: { name: 'bind9', state: 'stopped', enabled: false },
    expected: { summary: 'stop and disable bind9', commands: ['/etc/init.d/bind9 stop', 'update-rc.d bind9 disable'] },
  },
  {
    name: 'hostile name is quoted',
    host: { services: { 'x; reboot': stopped } },
    params: { name: 'x; reboot', state: 'started' },
    expected: { summary: 'start x; reboot', commands: ["systemctl start -- 'x; reboot'"] },
  },
  {
    name: 'hostile name is quoted (sysv)',
    host: { manager: 'sysv', services: { 'x; reboot': stopped } },
    params: { name: 'x; reboot', state: 'restarted' },
    expected: { summary: 'restart x; reboot', commands: ["/etc/init.d/'x; reboot' restart"] },
  },
];

describe('service', () => {
  it.each(cases)('$name', async ({ host: init, params, expected }) => {
    const host = new FakeHost(init);
    const plan = await host.plan(service(params));
    expectPlan(plan, expected);
    expect(host.probeRounds).toBe(1);
  });

  it('a missing unit is an error on a real run', async () => {
    const host = new FakeHost();
    await expect(host.plan(service({ name: 'nginx', state: 'started' }))).rejects.toThrow(
      new PlayError('service nginx not found on host'),
    );
  });

  it('a missing unit is a pending change when earlier changes are pending', async () => {
    const host = new FakeHost();
    const plan = await host.plan(service({ name: 'nginx', state: 'started', enabled: true }), {
      earlierChangesPending: true,
    });
    expect(plan).toEqual({
      changed: true,
      summary: 'start and enable nginx (once an earlier change installs it)',
      steps: [],
      diffs: [],
    });
  });

  it.each(['systemd', 'sysv'] as const)('converges (%s)', async (manager) => {
    const host = new FakeHost({ manager, services: { bind9: stopped } });
    const task = service({ name: 'bind9', state: 'started', enabled: true });
    const { first, second } = await host.converge(task);
    expect(first.changed).toBe(true);
    expect(second).toEqual({ changed: false, reason: 'bind9 is running and enabled' });
    expect(host.state.services.get('bind9')).toEqual({ active: true, enabled: true });
  });

  it('check mode after a package install: pending, then real run converges', async () => {
    const host = new FakeHost({ packageServices: { nginx: ['nginx'] } });
    const install = packages({ name: 'nginx' });
    const start = service({ name: 'nginx', state: 'started', enabled: true });
    // check mode: the install is planned, not applied
    expect((await host.plan(install)).changed).toBe(true);
    expect(await host.plan(start, { earlierChangesPending: true })).toMatchObject({ changed: true, steps: [] });
    // real run
    await host.apply(await host.plan(install));
    expect(await host.plan(start)).toEqual({ changed: false, reason: 'nginx is running and enabled' });
  });

  it('reload of a stopped service fails at apply, as systemctl does', async () => {
    const host = new FakeHost({ services: { nginx: stopped } });
    await expect(host.apply(await host.plan(service({ name: 'nginx', state: 'reloaded' })))).rejects.toThrow(
      /cannot reload/,
    );
  });

  it('names the task, or taskName for handlers', () => {
    expect(service({ name: 'nginx', state: 'started' }).name).toBe('service nginx');
    expect(service({ name: 'nginx', state: 'reloaded', taskName: 'reload nginx' }).name).toBe('reload nginx');
  });

  it.each([
    [{ name: 'nginx' }, /give state, enabled or both/],
    [{ name: '' }, /invalid service name/],
    [{ name: '../../bin/sh', state: 'started' }, /invalid service name/],
    [{ name: 'nginx', state: 'running' as never }, /state must be one of/],
  ] as [ServiceParams, RegExp][])('rejects bad params %#', (params, message) => {
    expect(() => service(params)).toThrow(message);
  });
});
