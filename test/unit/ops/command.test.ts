import { describe, expect, it } from 'vitest';
import { command, type CommandParams } from '../../../src/ops/command.ts';
import { sh } from '../../../src/connection/sh.ts';
import { PlayError } from '../../../src/errors.ts';
import { MaskTable } from '../../../src/mask-table.ts';
import { secret } from '../../../src/secret.ts';
import { FakeHost, type FakeHostInit } from '../support/fake-host.ts';

const newaliases = sh`newaliases`;
const fresh = sh`test /etc/aliases.db -nt /etc/aliases`;

interface Case {
  readonly name: string;
  readonly host: FakeHostInit;
  readonly params: CommandParams;
  readonly expected: { reason: string } | { summary: string; command: string };
}

const checks = (succeeds: boolean): FakeHostInit => ({
  onCommand: (c) => (c.text === fresh.text ? { exitCode: succeeds ? 0 : 1 } : undefined),
});

const cases: Case[] = [
  {
    name: 'no guard: changed every run',
    host: {},
    params: { cmd: newaliases },
    expected: { summary: 'run: newaliases', command: 'newaliases' },
  },
  {
    name: 'creates exists',
    host: { paths: { '/etc/ssl/dh.pem': 'file' } },
    params: { cmd: sh`openssl dhparam -out /etc/ssl/dh.pem 2048`, creates: '/etc/ssl/dh.pem' },
    expected: { reason: '/etc/ssl/dh.pem exists (creates)' },
  },
  {
    name: 'creates missing',
    host: {},
    params: { cmd: sh`openssl dhparam -out ${'/etc/ssl/dh.pem'} 2048`, creates: '/etc/ssl/dh.pem' },
    expected: {
      summary: 'run: openssl dhparam -out /etc/ssl/dh.pem 2048',
      command: 'openssl dhparam -out /etc/ssl/dh.pem 2048',
    },
  },
  {
    name: 'creates is a directory',
    host: { paths: { '/var/lib/x': 'directory' } },
    params: { cmd: sh`mkdir /var/lib/x`, creates: '/var/lib/x' },
    expected: { reason: '/var/lib/x exists (creates)' },
  },
  {
    name: 'removes missing',
    host: {},
    params: { cmd: sh`a2dissite 000-default`, removes: '/etc/apache2/sites-enabled/000-default.conf' },
    expected: { reason: '/etc/apache2/sites-enabled/000-default.conf does not exist (removes)' },
  },
  {
    name: 'removes exists',
    host: { paths: { '/etc/apache2/sites-enabled/000-default.conf': 'file' } },
    params: { cmd: sh`a2dissite 000-default`, removes: '/etc/apache2/sites-enabled/000-default.conf' },
    expected: { summary: 'run: a2dissite 000-default', command: 'a2dissite 000-default' },
  },
  {
    name: 'unless succeeds',
    host: checks(true),
    params: { cmd: newaliases, unless: fresh },
    expected: { reason: 'unless check succeeded' },
  },
  {
    name: 'unless fails',
    host: checks(false),
    params: { cmd: newaliases, unless: fresh },
    expected: { summary: 'run: newaliases', command: 'newaliases' },
  },
  {
    name: 'hostile values in cmd are quoted',
    host: {},
    params: { cmd: sh`echo ${'a; rm -rf /'} ${'$(id)'}` },
    expected: { summary: "run: echo 'a; rm -rf /' '$(id)'", command: "echo 'a; rm -rf /' '$(id)'" },
  },
];

describe('command', () => {
  it.each(cases)('$name', async ({ host: init, params, expected }) => {
    const host = new FakeHost(init);
    const plan = await host.plan(command(params));
    if ('reason' in expected) {
      expect(plan).toEqual({ changed: false, reason: expected.reason });
    } else {
      if (!plan.changed) throw new Error(`unchanged: ${plan.reason}`);
      expect(plan.summary).toBe(expected.summary);
      expect(plan.steps.map((s) => (s.kind === 'exec' ? s.command.text : s.kind))).toEqual([expected.command]);
    }
    expect(host.probeRounds).toBe(command(params).op.probes().length ? 1 : 0);
  });

  it('a script of several lines is shown by its first line; its failure text replaces it in the error', async () => {
    const host = new FakeHost({
      onCommand: (c) => (c.text.startsWith('i=0') ? { exitCode: 3, stderr: 'apt broke\n' } : undefined),
    });
    const task = command({ cmd: sh`i=0\nwhile false; do :; done\nexit 3`, failure: 'the move failed' });
    const plan = await host.plan(task);
    if (!plan.changed) throw new Error('expected a change');
    expect(plan.summary).toBe('run: i=0 …');
    expect(plan.steps[0].kind === 'exec' && plan.steps[0].failure).toBe('the move failed');
    await expect(host.apply(plan)).rejects.toThrow(/^the move failed \(exit 3\)\napt broke$/);
  });

  it('all guards travel in one probe round trip', async () => {
    const host = new FakeHost(checks(false));
    const plan = await host.plan(command({ cmd: newaliases, creates: '/a', removes: '/b', unless: fresh }));
    expect(plan).toEqual({ changed: false, reason: '/b does not exist (removes)' });
    expect(host.probeRounds).toBe(1);
  });

  it('shows secrets masked and sends stdin', async () => {
    const token = secret('tok-123456');
    const host = new FakeHost();
    const task = command({ cmd: sh`curl -H ${token} https://example.test`, stdin: secret('body-secret') });
    const plan = await host.plan(task);
    if (!plan.changed) throw new Error('expected a change');
    expect(plan.summary).toBe('run: curl -H ******** https://example.test');
    expect(task.name).toBe('command curl -H ******** https://example.test');
    // The step's command carries both secrets, for the run's mask table: what the command prints of them is masked.
    const step = plan.steps[0];
    expect(
      step.kind === 'exec' && new MaskTable().addSecretsIn(step.command.secrets).mask('tok-123456 body-secret'),
    ).toBe('******** ********');
    await host.apply(plan);
    expect(host.changes).toEqual([{ text: 'curl -H tok-123456 https://example.test', stdin: 'body-secret' }]);
  });

  it('converges with creates', async () => {
    const host = new FakeHost();
    const { first, second } = await host.converge(command({ cmd: sh`touch /srv/flag`, creates: '/srv/flag' }));
    expect(first.changed).toBe(true);
    expect(second).toEqual({ changed: false, reason: '/srv/flag exists (creates)' });
  });

  it('converges with removes', async () => {
    const host = new FakeHost({ paths: { '/srv/old': 'file' } });
    const { first, second } = await host.converge(command({ cmd: sh`rm -f /srv/old`, removes: '/srv/old' }));
    expect(first.changed).toBe(true);
    expect(second).toEqual({ changed: false, reason: '/srv/old does not exist (removes)' });
  });

  it('converges with unless', async () => {
    let built = false;
    const host = new FakeHost({
      onCommand: (c) => {
        if (c.text === fresh.text) return { exitCode: built ? 0 : 1 };
        if (c.text !== 'newaliases') return undefined;
        built = true;
        return { exitCode: 0 };
      },
    });
    const { first, second } = await host.converge(command({ cmd: newaliases, unless: fresh }));
    expect(first.changed).toBe(true);
    expect(second).toEqual({ changed: false, reason: 'unless check succeeded' });
  });

  it('a failing command fails at apply', async () => {
    const host = new FakeHost({ onCommand: (c) => (c.text === 'false' ? { exitCode: 1, stderr: 'nope' } : undefined) });
    await expect(host.apply(await host.plan(command({ cmd: sh`false` })))).rejects.toThrow(/nope/);
  });

  it('shortens long or multi-line titles', () => {
    expect(command({ cmd: sh`echo ${'x'.repeat(100)}` }).name).toHaveLength('command '.length + 60);
    expect(command({ cmd: sh`set -e\necho hi` }).name).toBe('command set -e …');
  });

  it.each([
    [{ cmd: 'rm -rf /' as never }, /built with sh/],
    [{ cmd: newaliases, unless: 'true' as never }, /built with sh/],
    [{ cmd: newaliases, creates: 'relative/path' }, /creates must be an absolute path/],
  ] as [CommandParams, RegExp][])('rejects bad params %#', (params, message) => {
    expect(() => command(params)).toThrow(PlayError);
    expect(() => command(params)).toThrow(message);
  });
});
