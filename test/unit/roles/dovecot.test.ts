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
  it('bounds a stop at DOVECOT_STOP_SECONDS with a drop-in written before the package is installed (its postinst reloads systemd)', async () => {
    const names = dovecot.tasks(context).map((t) => t.name);
    const dropIn = names.indexOf(`file ${STOP_DROP_IN}`);
    expect(dropIn).toBeGreaterThanOrEqual(0);
    expect(dropIn).toBeLessThan(names.findIndex((n) => n.startsWith('package ')));
    const task = dovecot.tasks(context)[dropIn];
    expect(task.notify).toEqual(['reload systemd']);
    const plan = await new FakeHost().plan(task);
    expect(plan.changed && plan.steps[0].kind === 'write' && plan.steps[0].content.toString()).toMatch(new RegExp(`^\\[Service\\]\\nTimeoutStopSec=${DOVECOT_STOP_SECONDS}s$`, 'm'));
  });

  it('reloads systemd before it restarts Dovecot, so a restart runs with the drop-in just written', () => {
    const handlers = dovecot.handlers!(context).map((t) => t.name);
    expect(handlers.indexOf('reload systemd')).toBeLessThan(handlers.indexOf('restart dovecot'));
  });
});
