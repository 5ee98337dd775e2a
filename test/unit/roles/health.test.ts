import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { pairRows, parseServerState, serverRows, stateScript, type ServerState } from '../../../roles/common/health.ts';

/** What stateScript prints on a healthy primary (the replicator lines as doveadm 2.3.19 prints them, after awk). */
const HEALTHY = `holds_vip=yes
keepalived=active
vrrp_state=MASTER
queue_queued_sync=0
queue_queued_high=0
queue_queued_low=0
queue_queued_failed=0
queue_queued_full_resync=0
queue_waiting_failed=0
failed_users=
deliver_before_accept=active
deliver_before_accept_enabled=enabled
has_message=active
serial=2026112701
dhcp_state=normal
dhcp_partner_state=normal
vip_53=yes
vip_25=yes
vip_587=yes
vip_465=yes
vip_143=yes
vip_993=yes
vip_80=yes
vip_443=yes
certificate_end=Nov 25 21:00:00 2036 GMT
certificate_days=3650
certificate_fingerprint=AB:CD
`;

const with_ = (changes: Record<string, string>) => HEALTHY.replace(/^(\w+)=.*$/gm, (line, key: string) => (key in changes ? `${key}=${changes[key]}` : line));

describe('the school health check', () => {
  it('its state script is valid shell', () => {
    const script = stateScript({ vip: '198.18.30.254', lanInterface: 'eth0', domain: 'smknh.sch.id' }).text;
    const syntax = spawnSync('bash', ['-n'], { input: script, encoding: 'utf8' });
    expect(syntax.stderr).toBe('');
    expect(syntax.status).toBe(0);
  });

  it('reads a healthy server: every row ok, with what was found', () => {
    const state = parseServerState(HEALTHY);
    expect(state).toMatchObject({ holdsVip: true, vrrpState: 'MASTER', serial: '2026112701', dhcpState: 'normal', certificateDays: 3650 });
    expect(state.replicationQueue).toEqual({ queued_sync: 0, queued_high: 0, queued_low: 0, queued_failed: 0, queued_full_resync: 0, waiting_failed: 0 });
    expect(serverRows('primary', state)).toEqual([
      { check: 'keepalived', host: 'primary', ok: true, detail: 'MASTER (active), holds the VIP' },
      { check: 'replication', host: 'primary', ok: true, detail: 'queue empty; no failed user' },
      { check: 'mail stored before 250', host: 'primary', ok: true, detail: 'deliver-before-accept running' },
      { check: 'dhcp failover', host: 'primary', ok: true, detail: 'normal (partner normal)' },
      { check: 'services at the VIP', host: 'primary', ok: true, detail: 'all 8 answer (53 25 587 465 143 993 80 443)' },
      { check: 'certificate', host: 'primary', ok: true, detail: 'expires Nov 25 21:00:00 2036 GMT (3650 days)' },
    ]);
  });

  it('names each fault in its row', () => {
    const rows = serverRows(
      'primary',
      parseServerState(with_({ vrrp_state: 'FAULT', queue_waiting_failed: '2', failed_users: 'kepsek guru1 ', deliver_before_accept: 'failed', dhcp_state: 'communications-interrupted', dhcp_partner_state: 'normal', vip_993: 'no', certificate_days: '3', holds_vip: 'no' })),
    );
    expect(rows.filter((r) => r.ok)).toEqual([]);
    expect(rows.map((r) => r.detail)).toEqual([
      'FAULT (active)',
      'queued: waiting failed 2; failed: kepsek guru1',
      'deliver-before-accept failed: postfix queues first',
      'communications-interrupted (partner normal)',
      'no answer: imaps',
      'expires Nov 25 21:00:00 2036 GMT (3 days)',
    ]);
    expect(serverRows('backup', parseServerState(with_({ keepalived: 'inactive', vrrp_state: '', holds_vip: 'no' })))[0]).toMatchObject({ ok: false, detail: 'no state yet (inactive)' });
    expect(serverRows('backup', parseServerState('holds_vip=no\n'))[1]).toMatchObject({ ok: false, detail: 'no replicator answers' });
    // The milter runs, but the helper that keeps mail sent again from being stored twice does not.
    expect(serverRows('primary', parseServerState(with_({ has_message: 'inactive' })))[2]).toEqual({
      check: 'mail stored before 250', host: 'primary', ok: false, detail: 'deliver-before-accept running, mailbox-has-message inactive: mail sent again is stored twice',
    });
    // Not installed (the postfix role's deliverBeforeAccept: false): not a fault.
    const notUsed = parseServerState(with_({ deliver_before_accept: 'inactive', deliver_before_accept_enabled: '' }));
    expect(serverRows('backup', notUsed)[2]).toEqual({ check: 'mail stored before 250', host: 'backup', ok: true, detail: 'not used: postfix queues first' });
  });

  it('the pair: exactly one VIP holder, equal serials, one certificate', () => {
    const primary = parseServerState(HEALTHY);
    const backup: ServerState = { ...primary, holdsVip: false };
    expect(pairRows(new Map([['primary', primary], ['backup', backup]]))).toEqual([
      { check: 'vip holder', ok: true, detail: 'primary' },
      { check: 'zone serial', ok: true, detail: 'primary 2026112701, backup 2026112701' },
      { check: 'same certificate', ok: true, detail: 'on every server' },
    ]);
    const split = pairRows(new Map([['primary', primary], ['backup', { ...primary, serial: '2026112702', certificateFingerprint: 'EF' }]]));
    expect(split.map((r) => [r.ok, r.detail])).toEqual([
      [false, 'primary and backup'],
      [false, 'primary 2026112701, backup 2026112702'],
      [false, 'differs between servers'],
    ]);
    expect(pairRows(new Map([['backup', backup]]))[0]).toEqual({ check: 'vip holder', ok: false, detail: 'nobody holds the VIP' });
  });
});
