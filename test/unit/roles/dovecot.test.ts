import { describe, expect, it } from 'vitest';
import dovecot, { DOVECOT_STOP_SECONDS, STOP_DROP_IN } from '../../../roles/dovecot/index.ts';
import { FakeHost } from '../support/fake-host.ts';

const vars = {
  ...dovecot.defaults,
  schoolName: 'SMK Nurul Huda',
  domain: 'smknh.sch.id',
  accounts: [{ name: 'kepsek', fullName: 'Kepala Sekolah', state: 'present' }],
  replication: false,
} as Parameters<typeof dovecot.tasks>[0]['vars'];
const context = { host: 'primary', vars, inventory: { hosts: {} } };

describe('the dovecot role', () => {
  it('bounds a stop at DOVECOT_STOP_SECONDS with a drop-in that systemd applies at once, before any task that restarts Dovecot', async () => {
    const names = dovecot.tasks(context).map((t) => t.name);
    const dropIn = names.indexOf(`file ${STOP_DROP_IN}`);
    expect(dropIn).toBeGreaterThanOrEqual(0);
    expect(names[dropIn + 1]).toBe('systemd applies the stop bound');
    expect(dropIn).toBeLessThan(names.findIndex((n) => n.startsWith('config set ')));
    const task = dovecot.tasks(context)[dropIn];
    // Reloaded unless systemd already shows the bound: the package may have been installed before or after.
    const bound = '[ "$(systemctl show -p TimeoutStopUSec --value dovecot.service)" = 10s ]';
    const applies = (yes: boolean) => new FakeHost({ onCommand: (c) => (c.text === bound ? { exitCode: yes ? 0 : 1 } : undefined) });
    const reload = await applies(false).plan(dovecot.tasks(context)[dropIn + 1]);
    expect(reload.changed && reload.steps.map((s) => s.kind === 'exec' && s.command.text)).toEqual(['systemctl daemon-reload']);
    expect((await applies(true).plan(dovecot.tasks(context)[dropIn + 1])).changed).toBe(false);
    const plan = await new FakeHost().plan(task);
    expect(plan.changed && plan.steps[0].kind === 'write' && plan.steps[0].content.toString()).toMatch(new RegExp(`^\\[Service\\]\\nTimeoutStopSec=${DOVECOT_STOP_SECONDS}s$`, 'm'));
  });

  it('reloads systemd before it restarts Dovecot, so a restart runs with the drop-in just written', () => {
    const handlers = dovecot.handlers!(context).map((t) => t.name);
    expect(handlers.indexOf('reload systemd')).toBeLessThan(handlers.indexOf('restart dovecot'));
  });
});
