import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  pairRows,
  parseServerState,
  probeRows,
  serverProbeChecks,
  serverRows,
  stateScript,
  type ServerState,
} from '../../../roles/common/health.ts';
import type { ProbeResult } from '../../../roles/common/service-probe.ts';
import { parseQuotaUse, QUOTA_USE_SCRIPT, quotaRow } from '../../../roles/common/quota.ts';
import { secret } from '../../../src/secret.ts';

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
mail_queue=0 0
serial=2026112701
dhcp_ha_sockets=ready
dhcp_ha_mode=hot-standby
dhcp_ha_role=primary
dhcp_ha_state=hot-standby
dhcp_ha_partner_role=standby
dhcp_ha_partner_state=hot-standby
dhcp_ha_partner_reachable=yes
dhcp_ha_partner_age=1
certificate_end=Nov 25 21:00:00 2036 GMT
certificate_days=3650
certificate_fingerprint=AB:CD
backup={"installedAt": "2026-12-01T00:00:00Z", "now": "2026-12-07T04:00:00Z", "repositoryNames": ["peer"], "repositories": {"peer": {"lastAttempt": "2026-12-07T01:40:00Z", "lastSuccess": "2026-12-07T01:42:00Z", "error": null, "snapshot": "1a2b3c4d", "files": 120, "repositoryBytes": 12300000, "check": {"at": "2026-12-07T01:43:00Z", "subset": "7/30", "ok": true}}}}
disk=/ 23% 77000000000;/ 23% 77000000000;/var/backups 41% 2500000000;
quota=kepsek 512000 2097152 24;guru1 1024 2097152 0;
rate_limiter=action=dunno
webmail_data=Master_Host=198.18.30.2;Slave_IO_Running=Yes;Slave_SQL_Running=Yes;Seconds_Behind_Master=0;Last_IO_Error=;Last_SQL_Error=;
`;

const with_ = (changes: Record<string, string>) =>
  HEALTHY.replace(/^(\w+)=.*$/gm, (line, key: string) => (key in changes ? `${key}=${changes[key]}` : line));

describe('the school health check', () => {
  it('its state script is valid shell', () => {
    const script = stateScript({ vip: '198.18.30.254', lanInterface: 'eth0', domain: 'smknh.sch.id' }).text;
    const syntax = spawnSync('bash', ['-n'], { input: script, encoding: 'utf8' });
    expect(syntax.stderr).toBe('');
    expect(syntax.status).toBe(0);
  });

  it('reads a healthy server: every row ok, with what was found', () => {
    const state = parseServerState(HEALTHY);
    expect(state).toMatchObject({ holdsVip: true, vrrpState: 'MASTER', serial: '2026112701', certificateDays: 3650 });
    expect(state.dhcpHa).toEqual({
      mode: 'hot-standby',
      role: 'primary',
      state: 'hot-standby',
      partnerRole: 'standby',
      partnerState: 'hot-standby',
      partnerReachable: true,
      sockets: 'ready',
      error: '',
    });
    expect(state.replicationQueue).toEqual({
      queued_sync: 0,
      queued_high: 0,
      queued_low: 0,
      queued_failed: 0,
      queued_full_resync: 0,
      waiting_failed: 0,
    });
    expect(serverRows('primary', state)).toEqual([
      { check: 'keepalived', gate: false, host: 'primary', ok: true, detail: 'MASTER (active), holds the VIP' },
      { check: 'replication', gate: false, host: 'primary', ok: true, detail: 'queue empty; no failed user' },
      { check: 'mail queue', gate: false, host: 'primary', ok: true, detail: 'empty' },
      {
        check: 'backup',
        gate: false,
        host: 'primary',
        ok: true,
        detail: 'peer: newest 2 h ago (snapshot 1a2b3c4d, 12 MB stored)',
      },
      {
        check: 'disk',
        gate: false,
        host: 'primary',
        ok: true,
        detail: '/ 23% used, 77 GB free; /var/backups 41% used, 2.5 GB free',
      },
      { check: 'quota', gate: false, host: 'primary', ok: true, detail: '2 accounts, fullest kepsek 24% of 2 GiB' },
      { check: 'sending limits', gate: false, host: 'primary', ok: true, detail: 'policyd-rate-limit answers' },
      {
        check: 'webmail data',
        gate: false,
        host: 'primary',
        ok: true,
        detail: 'replicating from 198.18.30.2: IO Yes, SQL Yes, 0 s behind',
      },
      {
        check: 'dhcp ha',
        gate: false,
        host: 'primary',
        ok: true,
        detail: 'hot-standby, primary: hot-standby, partner: hot-standby',
      },
      { check: 'certificate', host: 'primary', ok: true, detail: 'expires Nov 25 21:00:00 2036 GMT (3650 days)' },
    ]);
  });

  it("reads doveadm's quota table: storage rows with a limit, in bytes; none is a failed row", () => {
    // doveadm -f tab quota get -A, as Dovecot 2.3 and 2.4 print it (storage in kilobytes, - without a limit).
    const table = [
      'Username\tQuota name\tType\tValue\tLimit\t%',
      'kepsek\tUser quota\tSTORAGE\t512000\t2097152\t24',
      'kepsek\tUser quota\tMESSAGE\t1200\t-\t0',
      'guru1\tUser quota\tSTORAGE\t1024\t-\t0',
    ].join('\n');
    const awk = QUOTA_USE_SCRIPT.slice(QUOTA_USE_SCRIPT.indexOf('| ') + 2);
    const printed = spawnSync('sh', ['-c', awk], { input: `${table}\n`, encoding: 'utf8' }).stdout;
    expect(printed).toBe('kepsek 512000 2097152 24;');
    expect(parseQuotaUse(printed)).toEqual([
      { account: 'kepsek', usedBytes: 524_288_000, limitBytes: 2_147_483_648, percent: 24 },
    ]);
    expect(quotaRow('primary', [])).toMatchObject({ ok: false, detail: 'doveadm reported no quota' });
  });

  it('names each fault in its row', () => {
    const rows = serverRows(
      'primary',
      parseServerState(
        with_({
          vrrp_state: 'FAULT',
          queue_waiting_failed: '2',
          failed_users: 'kepsek guru1 ',
          mail_queue: '4 300',
          dhcp_ha_state: 'partner-down',
          dhcp_ha_partner_state: 'hot-standby',
          dhcp_ha_partner_reachable: 'no',
          certificate_days: '3',
          holds_vip: 'no',
          disk: '/ 95% 900000000;/var/backups 41% 2500000000;',
          quota: 'kepsek 512000 2097152 24;guru4 19456 20480 95;guru3 20480 20480 100;',
          rate_limiter: 'no answer: timed out',
          webmail_data:
            'Master_Host=198.18.30.2;Slave_IO_Running=Connecting;Slave_SQL_Running=Yes;Seconds_Behind_Master=NULL;Last_IO_Error=error connecting to master;',
          backup:
            '{"installedAt": "2026-12-01T00:00:00Z", "now": "2026-12-07T04:00:00Z", "repositoryNames": ["peer"], "repositories": {"peer": {"lastSuccess": "2026-12-05T01:42:00Z", "error": "restic backup: exit 1: Fatal: unable to open repository", "snapshot": "1a2b3c4d"}}}',
        }),
      ),
    );
    expect(rows.filter((r) => r.ok)).toEqual([]);
    expect(rows.map((r) => r.detail)).toEqual([
      'FAULT (active)',
      'queued: waiting failed 2; failed: kepsek guru1',
      '4 messages, the oldest 300 s old: deliveries are failing (postqueue -p)',
      'peer: last run failed: restic backup: exit 1: Fatal: unable to open repository; newest 50 h ago (snapshot 1a2b3c4d)',
      '/ 95% used, 900 MB free; /var/backups 41% used, 2.5 GB free: / over 90%',
      'guru4 95% of 20 MiB, guru3 100% of 20 MiB: at 90% or more (new mail is refused when full)',
      "policyd-rate-limit: no answer: timed out; no login's sending is limited",
      'replicating from 198.18.30.2: IO Connecting, SQL Yes, lag unknown; IO error: error connecting to master',
      'hot-standby, primary: partner-down, partner: hot-standby (out of touch)',
      'expires Nov 25 21:00:00 2036 GMT (3 days)',
    ]);
    expect(
      serverRows('backup', parseServerState(with_({ keepalived: 'inactive', vrrp_state: '', holds_vip: 'no' })))[0],
    ).toMatchObject({ ok: false, detail: 'no state yet (inactive)' });
    expect(serverRows('backup', parseServerState('holds_vip=no\n'))[1]).toMatchObject({
      ok: false,
      detail: 'no replicator answers',
    });
    // Kea down, the state command timing out, a DHCP socket Kea could not open, a pair still syncing.
    const dhcpRow = (stdout: string) =>
      serverRows('backup', parseServerState(stdout)).find((r) => r.check === 'dhcp ha');
    expect(
      dhcpRow(with_({ dhcp_ha_state: '' }).replace(/^dhcp_ha_sockets=.*$/m, 'dhcp_ha_error=No such file or directory')),
    ).toMatchObject({ ok: false, detail: 'Kea does not answer: No such file or directory' });
    expect(dhcpRow('holds_vip=no\n')).toMatchObject({ ok: false, detail: 'no HA state' });
    expect(dhcpRow(with_({ dhcp_ha_sockets: 'failed to open socket on eth0' }))).toMatchObject({
      ok: false,
      detail: 'hot-standby, primary: hot-standby, partner: hot-standby; DHCP socket: failed to open socket on eth0',
    });
    expect(
      dhcpRow(
        with_({
          dhcp_ha_role: 'standby',
          dhcp_ha_state: 'syncing',
          dhcp_ha_partner_role: 'primary',
          dhcp_ha_partner_state: 'partner-down',
        }),
      ),
    ).toMatchObject({ ok: false, detail: 'hot-standby, standby: syncing, partner: partner-down' });
    // A young queue is normal (a delivery in flight, a retry in 10 s); postqueue failing is not.
    expect(serverRows('primary', parseServerState(with_({ mail_queue: '1 8' })))[2]).toEqual({
      check: 'mail queue',
      gate: false,
      host: 'primary',
      ok: true,
      detail: '1 message, the oldest 8 s old',
    });
    expect(serverRows('primary', parseServerState(HEALTHY.replace(/^mail_queue=.*\n/m, '')))[2]).toMatchObject({
      ok: false,
      detail: 'postqueue -j failed or took over 5 s: is postfix running?',
    });
  });

  it('the pair: exactly one VIP holder, equal serials, one certificate', () => {
    const primary = parseServerState(HEALTHY);
    const backup: ServerState = { ...primary, holdsVip: false };
    expect(
      pairRows(
        new Map([
          ['primary', primary],
          ['backup', backup],
        ]),
      ),
    ).toEqual([
      { check: 'vip holder', gate: false, ok: true, detail: 'primary' },
      { check: 'zone serial', gate: false, ok: true, detail: 'primary 2026112701, backup 2026112701' },
      { check: 'webmail users', gate: false, ok: true, detail: '0 users, the same ids on every server' },
      { check: 'same certificate', gate: false, ok: true, detail: 'on every server' },
    ]);
    const split = pairRows(
      new Map([
        ['primary', primary],
        [
          'backup',
          {
            ...primary,
            serial: '2026112702',
            certificateFingerprint: 'EF',
            webmailUsers: new Map([['guru4@localhost', '7']]),
          },
        ],
      ]).set('primary', { ...primary, webmailUsers: new Map([['guru4@localhost', '6']]) }),
    );
    expect(split.map((r) => [r.ok, r.detail])).toEqual([
      [false, 'primary and backup'],
      [false, 'primary 2026112701, backup 2026112702'],
      [false, 'ids differ between servers: guru4@localhost (primary 6, backup 7)'],
      [false, 'differs between servers'],
    ]);
    expect(pairRows(new Map([['backup', backup]]))[0]).toEqual({
      check: 'vip holder',
      gate: false,
      ok: false,
      detail: 'nobody holds the VIP',
    });
  });

  it('the probes of a server: every user service at its own address and at the VIP, an IMAPS login, a DHCP discover', () => {
    const password = secret('Pr0be-Secret');
    const checks = serverProbeChecks(
      {
        vip: '198.18.30.254',
        lanInterface: 'eth0',
        lanAddress: '198.18.30.1',
        domain: 'smknh.sch.id',
        accounts: [
          { name: 'old', fullName: 'Old', state: 'absent' },
          { name: 'kepsek', fullName: 'K', password },
        ],
      },
      2,
    );
    const at = (host: string) => checks.filter((c) => 'host' in c && c.host === host).map((c) => c.label);
    const services = ['smtp 25', 'submission 587', 'smtps 465', 'imap 143', 'imaps 993 login', 'webmail 443', 'dns 53'];
    expect(at('198.18.30.1')).toEqual(services);
    expect(at('198.18.30.254')).toEqual(services);
    expect(checks.find((c) => c.label === 'imaps 993 login')).toMatchObject({
      kind: 'imap',
      port: 993,
      tls: true,
      user: 'kepsek',
      password,
    });
    expect(checks.find((c) => c.label === 'webmail 443')).toMatchObject({
      kind: 'https',
      servername: 'mail.smknh.sch.id',
      expect: 'rcmloginuser',
    });
    expect(checks.at(-1)).toEqual({ kind: 'dhcp', label: 'dhcp offer', interface: 'eth0', servers: 2 });
  });

  const result = (host: string, label: string, ok: boolean, detail: string, ms = 12): ProbeResult => ({
    kind: 'smtp',
    label,
    host,
    port: Number(label.split(' ').at(-1)),
    ok,
    detail,
    ms,
  });
  const dhcp = (servers: string[]): ProbeResult => ({
    kind: 'dhcp',
    label: 'dhcp offer',
    host: 'eth0',
    port: 67,
    ok: servers.length > 0,
    detail: '',
    ms: 20,
    offers: servers.map((server, i) => ({ server, address: `198.18.30.15${i}` })),
  });
  const SERVERS = [
    { name: 'primary', lanAddress: '198.18.30.1' },
    { name: 'backup', lanAddress: '198.18.30.2' },
  ];

  it('probe rows: each service per server with its latency, the VIP seen from every server, one DHCP row saying who offered', () => {
    const found = new Map([
      [
        'primary',
        [
          result('198.18.30.1', 'smtp 25', true, '220 mail ESMTP; EHLO 250 with STARTTLS', 4.2),
          result('198.18.30.254', 'smtp 25', true, '220 mail ESMTP; EHLO 250 with STARTTLS', 3),
          dhcp(['198.18.30.1']),
        ],
      ],
      [
        'backup',
        [
          result('198.18.30.2', 'smtp 25', true, '220 mail ESMTP; EHLO 250 with STARTTLS', 5),
          result('198.18.30.254', 'smtp 25', true, '220 mail ESMTP; EHLO 250 with STARTTLS', 7.6),
          dhcp(['198.18.30.1']),
        ],
      ],
    ]);
    expect(probeRows(SERVERS, '198.18.30.254', found)).toEqual([
      { check: 'smtp 25', host: 'primary', ok: true, detail: '220 mail ESMTP; EHLO 250 with STARTTLS (4 ms)' },
      { check: 'smtp 25', host: 'backup', ok: true, detail: '220 mail ESMTP; EHLO 250 with STARTTLS (5 ms)' },
      {
        check: 'dhcp offer',
        gate: false,
        ok: true,
        detail: 'offers 198.18.30.150 from primary (seen from primary, backup)',
      },
      {
        check: 'smtp 25',
        host: 'vip',
        ok: true,
        detail: '220 mail ESMTP; EHLO 250 with STARTTLS (3 ms from primary, 8 ms from backup)',
      },
    ]);
  });

  it('probe rows name a stalled service by server, address and port; the VIP fails when any server cannot get an answer there', () => {
    const stalled = 'banner: no answer within the deadline';
    const found = new Map([
      [
        'primary',
        [
          result('198.18.30.1', 'smtp 25', false, stalled, 2001),
          result('198.18.30.254', 'smtp 25', false, stalled, 2002),
          dhcp([]),
        ],
      ],
      [
        'backup',
        [
          result('198.18.30.2', 'smtp 25', true, '220 ok', 5),
          result('198.18.30.254', 'smtp 25', true, '220 ok', 6),
          dhcp([]),
        ],
      ],
    ]);
    const rows = probeRows(SERVERS, '198.18.30.254', found);
    expect(rows.find((r) => r.host === 'primary' && r.check === 'smtp 25')).toEqual({
      check: 'smtp 25',
      host: 'primary',
      ok: false,
      detail: `198.18.30.1:25 ${stalled} (2001 ms)`,
    });
    expect(rows.find((r) => r.host === 'vip')).toEqual({
      check: 'smtp 25',
      host: 'vip',
      ok: false,
      detail: `from primary: 198.18.30.254:25 ${stalled} (2002 ms); from backup: ok (6 ms)`,
    });
    expect(rows.find((r) => r.check === 'dhcp offer')).toEqual({
      check: 'dhcp offer',
      gate: false,
      ok: false,
      detail: 'no offer (DHCPDISCOVER from primary, backup)',
    });
    // Both serving (each out of touch with the other after a link cut): both are named.
    const both = probeRows(SERVERS, '198.18.30.254', new Map([['backup', [dhcp(['198.18.30.2', '198.18.30.1'])]]]));
    expect(both.find((r) => r.check === 'dhcp offer')?.detail).toBe(
      'offers 198.18.30.150 from backup (seen from backup); 198.18.30.151 from primary (seen from backup)',
    );
  });
});
