import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientStdout } from './support/client.ts';
import { haState, keaCommand, lease, type Lease } from './support/dhcp.ts';
import { play } from './support/play.ts';
import { probeFromClient } from './support/probe.ts';
import { asOutsider, dig, digHeader, serialOf } from './support/dns.ts';
import { stdoutOf } from './support/hosts.ts';
import { until } from './support/wait.ts';
import { freshLab } from './support/lab.ts';
import { playJson } from './support/play.ts';
import { raw, sh } from '../../src/connection/sh.ts';
import dhcp, { ISC_DHCP_LEFTOVERS } from '../../roles/dhcp/index.ts';
import { peerFirewallTable } from '../../roles/common/peer-firewall.ts';
import { LAB_HOSTS, LAB_VIP, CONTROLLER_ADDRESS } from '../lab/config.ts';
import { labSecret } from '../lab/lab-vault.ts';
import { onHost, powerCut, powerOn } from '../lab/faults.ts';

const NETWORK = 'test/e2e/playbooks/network.ts';
const DOMAIN = 'smknh.sch.id';
const [PRIMARY, BACKUP] = LAB_HOSTS.map((h) => h.address);
const SUBNET = PRIMARY.replace(/\.\d+$/, '');
const REVERSE = `${SUBNET.split('.').reverse().join('.')}.in-addr.arpa`;
const TSIG_NAME = 'play-transfer';

const timings: Record<string, number> = {};
async function timed<T>(label: string, work: () => Promise<T>): Promise<T> {
  const start = Date.now();
  try {
    return await work();
  } finally {
    timings[label] = (Date.now() - start) / 1000;
  }
}

function inPool(address: string): boolean {
  const last = Number(address.split('.')[3]);
  return address.startsWith(`${SUBNET}.`) && last >= 100 && last <= 200;
}

async function noFailedUnits(host: string): Promise<void> {
  expect(await stdoutOf(host, sh`systemctl --failed --no-legend --plain`)).toBe('');
}

describe('dns and dhcp roles on the lab servers', () => {
  beforeAll(() => freshLab({ from: 'packages' }));
  afterAll(() => {
    console.log(`network e2e timings (s): ${JSON.stringify(timings)}`);
  });

  it('takes both pre-staged servers to the wanted state (exit 0), then a second run changes nothing', async () => {
    const first = await timed('first run', () => playJson([NETWORK]));
    expect(first.code, first.stderr + first.stdout).toBe(0);
    const second = await timed('second run', () => playJson([NETWORK]));
    expect(second.code, second.stderr).toBe(0);
    for (const host of ['primary', 'backup']) {
      expect(first.report.hosts[host].changed).toBeGreaterThanOrEqual(6);
      expect(second.report.hosts[host]).toMatchObject({ changed: 0, failed: 0, unreachable: 0 });
      expect(second.report.hosts[host].commands).toBe(1);
      for (const unit of ['named', 'kea-dhcp4-server', 'dhcp-ha-firewall']) {
        expect(await stdoutOf(host, sh`systemctl is-active ${unit}; systemctl is-enabled ${unit}`)).toBe(
          'active\nenabled\n',
        );
      }
      // Kea alone serves DHCP: no dhcpd of ISC DHCP (end-of-life), and nothing failed (the package's own start with
      // its sample configuration included).
      expect((await onHost(host, sh`pgrep -a dhcpd`)).stdout).toBe('');
      await noFailedUnits(host);
    }
  });

  it('both servers answer mail, webmail, www and the apex with the VIP, the MX, the NS and the PTRs', async () => {
    // Both servers are deployed at once here: the backup may ask for a zone before the primary serves it. It asks
    // again within 5-30 s (min/max-retry-time), so it holds both zones well within a minute of the run.
    const started = Date.now();
    await until(
      'the backup to hold both zones',
      () => [DOMAIN, REVERSE].every((zone) => serialOf(BACKUP, zone) === serialOf(PRIMARY, zone)),
      60_000,
    );
    timings['backup held both zones after the run (s)'] = (Date.now() - started) / 1000;
    for (const server of [PRIMARY, BACKUP]) {
      expect(dig(server, '+short', `mail.${DOMAIN}`)).toBe(`${LAB_VIP}\n`);
      expect(dig(server, '+short', `webmail.${DOMAIN}`)).toBe(`${LAB_VIP}\n`);
      expect(dig(server, '+short', `www.${DOMAIN}`)).toBe(`${LAB_VIP}\n`);
      expect(dig(server, '+short', DOMAIN)).toBe(`${LAB_VIP}\n`);
      expect(dig(server, '+short', 'MX', DOMAIN)).toBe(`10 mail.${DOMAIN}.\n`);
      expect(dig(server, '+short', 'NS', DOMAIN).split('\n').filter(Boolean).sort()).toEqual([
        `ns1.${DOMAIN}.`,
        `ns2.${DOMAIN}.`,
      ]);
      expect(dig(server, '+short', `ns1.${DOMAIN}`)).toBe(`${PRIMARY}\n`);
      expect(dig(server, '+short', `ns2.${DOMAIN}`)).toBe(`${BACKUP}\n`);
      expect(dig(server, '+short', '-x', LAB_VIP)).toBe(`mail.${DOMAIN}.\n`);
      expect(dig(server, '+short', '-x', PRIMARY)).toBe(`ns1.${DOMAIN}.\n`);
      expect(dig(server, '+short', '-x', BACKUP)).toBe(`ns2.${DOMAIN}.\n`);
      // Authoritative answers, from both.
      expect(digHeader(dig(server, `mail.${DOMAIN}`)).flags).toContain('aa');
    }
  });

  it("the backup is a secondary: its serials equal the primary's, got by TSIG-signed transfers", async () => {
    for (const zone of [DOMAIN, REVERSE]) {
      const serial = serialOf(PRIMARY, zone);
      expect(serial).toBeGreaterThan(2000010100);
      expect(serialOf(BACKUP, zone)).toBe(serial);
    }
    // The backup keeps what it transferred in /var/lib/bind (play writes no zone file there) ...
    expect(await stdoutOf('backup', sh`ls /var/lib/bind`)).toContain(`db.${DOMAIN}`);
    expect((await onHost('backup', sh`test -e /etc/bind/zones`)).exitCode).not.toBe(0);
    // ... and the primary logged the transfers as signed with the key.
    expect(await stdoutOf('primary', sh`journalctl -u named --no-pager`)).toMatch(
      new RegExp(`transfer of '${DOMAIN.replaceAll('.', '\\.')}/IN': AXFR started: TSIG ${TSIG_NAME}`),
    );
  });

  it('AXFR: refused without the key, served with it (from both servers)', () => {
    const key = labSecret('tsig_key');
    for (const server of [PRIMARY, BACKUP]) {
      const refused = dig(server, 'AXFR', DOMAIN);
      expect(refused).toContain('Transfer failed.');
      expect(refused).not.toMatch(/\bIN\s+MX\b/);
      const signed = dig(server, '-y', `hmac-sha256:${TSIG_NAME}:${key}`, 'AXFR', DOMAIN);
      expect(signed).toMatch(
        new RegExp(
          `^mail\\.${DOMAIN.replaceAll('.', '\\.')}\\.\\s+\\d+\\s+IN\\s+A\\s+${LAB_VIP.replaceAll('.', '\\.')}$`,
          'm',
        ),
      );
      expect(signed).toMatch(/\bIN\s+MX\s+10 mail\./);
      // A wrong key is refused too.
      const wrong = dig(
        server,
        '-y',
        `hmac-sha256:${TSIG_NAME}:${Buffer.alloc(32, 7).toString('base64')}`,
        'AXFR',
        DOMAIN,
      );
      expect(wrong).not.toMatch(/\bIN\s+MX\b/);
    }
  });

  it('recursion only for the LAN: a LAN client may recurse, an outside address is refused', async () => {
    for (const server of [PRIMARY, BACKUP]) {
      // From the LAN: recursion available (ra) and attempted: SERVFAIL, as the lab has no Internet.
      const lan = digHeader(dig(server, 'example.com'));
      expect(lan.flags).toContain('ra');
      expect(lan.status).toBe('SERVFAIL');
    }
    // An outsider: the client borrows an address outside lanNetwork, and the servers get a host route back to it
    // (on the same bridge, so nothing else changes). Answers from the school zone: yes; recursion: REFUSED.
    await asOutsider((outsider) => {
      for (const server of [PRIMARY, BACKUP]) {
        const own = dig(server, '-b', outsider, `mail.${DOMAIN}`);
        expect(digHeader(own)).toMatchObject({ status: 'NOERROR' });
        expect(digHeader(own).flags).toContain('aa');
        expect(digHeader(own).flags).not.toContain('ra');
        const other = digHeader(dig(server, '-b', outsider, 'example.com'));
        expect(other.status).toBe('REFUSED');
        expect(other.flags).not.toContain('ra');
        expect(dig(server, '-b', outsider, 'AXFR', DOMAIN)).toContain('Transfer failed.');
      }
    });
  });

  it('a changed record bumps the serial once, the backup follows; no-op runs keep the serial', async () => {
    const before = serialOf(PRIMARY, DOMAIN);
    const reverseBefore = serialOf(PRIMARY, REVERSE);
    const env = { PLAY_E2E_DNS_RECORD: `intranet A ${SUBNET}.77` };
    const added = await timed('run adding a record', () => playJson([NETWORK], env));
    expect(added.code, added.stderr).toBe(0);
    expect(added.report.hosts.primary.changed).toBe(2); // the zone file, and the reload
    expect(added.report.hosts.backup.changed).toBe(0);
    const after = serialOf(PRIMARY, DOMAIN);
    expect(after).toBeGreaterThan(before);
    expect(serialOf(PRIMARY, REVERSE)).toBe(reverseBefore);
    const start = Date.now();
    await until('the backup to transfer the new serial', () => serialOf(BACKUP, DOMAIN) === after, 30_000);
    timings['backup follows (notify + transfer)'] = (Date.now() - start) / 1000;
    expect(dig(BACKUP, '+short', `intranet.${DOMAIN}`)).toBe(`${SUBNET}.77\n`);

    const again = await playJson([NETWORK], env);
    expect(again.report.hosts.primary.changed).toBe(0);
    expect(serialOf(PRIMARY, DOMAIN)).toBe(after);

    // Taking the record out is a change too: the serial goes up again (never back).
    const removed = await playJson([NETWORK]);
    expect(removed.code).toBe(0);
    const last = serialOf(PRIMARY, DOMAIN);
    expect(last).toBeGreaterThan(after);
    await until('the backup to drop the record', () => serialOf(BACKUP, DOMAIN) === last, 30_000);
    expect(dig(BACKUP, '+short', `intranet.${DOMAIN}`)).toBe('');
    const settled = await playJson([NETWORK]);
    expect(settled.report.hosts.primary.changed).toBe(0);
    expect(serialOf(PRIMARY, DOMAIN)).toBe(last);
  });

  it('a record named-checkzone refuses never replaces the zone (exit 1, serial unchanged)', async () => {
    const serial = serialOf(PRIMARY, DOMAIN);
    const zoneBefore = await stdoutOf('primary', sh`cat ${`/etc/bind/zones/db.${DOMAIN}`}`);
    const bad = await playJson([NETWORK], { PLAY_E2E_DNS_RECORD: 'broken A 300.1.2.3' });
    expect(bad.code).toBe(1);
    expect(bad.report.hosts.primary.failed).toBe(1);
    const failure = bad.report.tasks.find((t) => t.host === 'primary' && t.status === 'failed');
    expect(failure?.task).toContain(`zone ${DOMAIN}`);
    expect(failure?.error).toMatch(/named-checkzone/);
    expect(await stdoutOf('primary', sh`cat ${`/etc/bind/zones/db.${DOMAIN}`}`)).toBe(zoneBefore);
    expect(serialOf(PRIMARY, DOMAIN)).toBe(serial);
    expect((await playJson([NETWORK])).report.hosts.primary.changed).toBe(0);
  });

  /** `play verify site --json` (the school's health check): its `dhcp ha` rows (the rest of the site is not deployed here). */
  async function verifiedHa(): Promise<Record<string, { ok: boolean; detail: string }>> {
    const result = await play(['verify', 'playbooks/site.ts', '-i', 'inventory/lab.ts', '--json']);
    const rows = (
      JSON.parse(result.stdout) as { rows: { check: string; host?: string; ok: boolean; detail: string }[] }
    ).rows;
    return Object.fromEntries(
      rows.filter((r) => r.check === 'dhcp ha').map((r) => [r.host, { ok: r.ok, detail: r.detail }]),
    );
  }
  const bothHotStandby = async () =>
    (await Promise.all(['primary', 'backup'].map(haState))).every(
      (s) => s.state === 'hot-standby' && s.partner_state === 'hot-standby',
    );
  const haStory = async () =>
    JSON.stringify(
      Object.fromEntries(
        await Promise.all(['primary', 'backup'].map(async (h) => [h, await haState(h).catch((e: Error) => e.message)])),
      ),
    );
  /** One DHCPDISCOVER from lab-client (the service probe): the servers that offered, each with its address. */
  const offers = async () =>
    (await probeFromClient({ timeout: 2, checks: [{ kind: 'dhcp', interface: 'eth0', servers: 2 }] }))[0].offers ?? [];

  it('Kea HA: both servers reach hot-standby and play verify says so; the primary alone answers DHCP', async () => {
    timings['hot-standby after the run (s)'] =
      (await until('both servers in hot-standby', bothHotStandby, 90_000, { intervalMs: 500, state: haStory })) / 1000;
    expect(await verifiedHa()).toEqual({
      primary: { ok: true, detail: 'hot-standby, primary: hot-standby, partner: hot-standby' },
      backup: { ok: true, detail: 'hot-standby, standby: hot-standby, partner: hot-standby' },
    });
    // A real DISCOVER from a LAN client: one offer, the primary's (the standby only listens).
    expect((await offers()).map((o) => o.server)).toEqual([PRIMARY]);
  });

  it('the HA port: reset for a LAN client, and even the peer gets nothing without the replication certificate', async () => {
    const port = dhcp.defaults!.dhcpHaPort as number;
    // A LAN device: nftables resets the connection before TLS starts.
    const fromClient = clientStdout('python3', [
      '-c',
      `import socket\ntry:\n    socket.create_connection(('${PRIMARY}', ${port}), 3)\n    print('connected')\nexcept OSError as e:\n    print(type(e).__name__)`,
    ]);
    expect(fromClient.trim()).toBe('ConnectionRefusedError');
    // The peer's address without a client certificate: the TLS handshake or the first read is refused. With the
    // certificate, Kea's listener answers a heartbeat.
    const ask = (
      withCertificate: boolean,
    ) => sh`python3 - ${PRIMARY} ${String(port)} ${withCertificate ? 'yes' : 'no'} <<'EOF'
import json, socket, ssl, sys
host, port, cert = sys.argv[1], int(sys.argv[2]), sys.argv[3] == 'yes'
context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
context.load_verify_locations('/etc/kea/tls/replication.pem')
context.check_hostname = False
if cert:
    context.load_cert_chain('/etc/kea/tls/replication.pem', '/etc/kea/tls/replication.key')
body = json.dumps({'command': 'ha-heartbeat', 'service': ['dhcp4']}).encode()
try:
    with context.wrap_socket(socket.create_connection((host, port), 5), server_hostname=host) as s:
        s.sendall(b'POST / HTTP/1.1\\r\\nHost: %s\\r\\nContent-Type: application/json\\r\\nContent-Length: %d\\r\\n\\r\\n%s' % (host.encode(), len(body), body))
        answer = b''
        while not answer.rstrip().endswith(b']') and not answer.rstrip().endswith(b'}'):
            chunk = s.recv(65536)
            if not chunk:
                break
            answer += chunk
        answer = answer.decode(errors='replace')
        print('answer: ' + (answer.split('\\r\\n\\r\\n', 1)[-1] if answer else '(closed)'))
except (ssl.SSLError, OSError) as e:
    print('refused: %s' % e)
EOF`;
    const without = await stdoutOf('backup', ask(false));
    expect(without).toMatch(/^(refused: .*(certificate|alert|handshake|EOF|reset).*|answer: \(closed\))\n$/i);
    const withCertificate = await stdoutOf('backup', ask(true));
    expect(withCertificate).toMatch(/^answer: .*"state": "hot-standby"/);
  });

  let beforeOutage: Lease;
  it('dhclient in lab-client gets a lease from the pool with the router, both DNS servers and the domain; the standby has it too', async () => {
    // A client identifier of its own: Kea would give the client of the outage, with the same MAC address, this lease
    // again if this one had none.
    beforeOutage = timedSync('lease, both up', () => lease({ clientId: 'play-before-outage', keep: true }));
    expect(inPool(beforeOutage.address), beforeOutage.address).toBe(true);
    expect(beforeOutage.server).toBe(PRIMARY);
    expect(beforeOutage.routers).toBe(CONTROLLER_ADDRESS);
    expect(beforeOutage.dns).toBe(`${PRIMARY},${BACKUP}`);
    expect(beforeOutage.domain).toBe(DOMAIN);
    // The primary sent the lease to the standby before it answered the client (hot-standby's lease updates).
    const onStandby = await keaCommand('backup', 'lease4-get', { 'ip-address': beforeOutage.address });
    expect(onStandby, JSON.stringify(onStandby)).toMatchObject({
      result: 0,
      arguments: { 'ip-address': beforeOutage.address, state: 0 },
    });
  });

  let duringOutage: Lease;
  it('with the primary power-cut the standby goes to partner-down and gives leases; play verify names it', async () => {
    await powerCut('primary');
    const cut = performance.now();
    try {
      const partnerDown = await until(
        'the standby in partner-down',
        async () => (await haState('backup')).state === 'partner-down',
        60_000,
        { since: cut, intervalMs: 250, state: haStory },
      );
      timings['standby in partner-down after the power cut (s)'] = partnerDown / 1000;
      const offered = await until(
        'an offer from the standby',
        async () => (await offers()).some((o) => o.server === BACKUP),
        60_000,
        { since: cut, intervalMs: 100 },
      );
      timings['first offer from the standby after the power cut (s)'] = offered / 1000;
      duringOutage = timedSync('lease, primary cut', () =>
        lease({ clientId: 'play-outage-client', timeoutSeconds: 60, keep: true }),
      );
      expect(duringOutage.server).toBe(BACKUP);
      expect(inPool(duringOutage.address)).toBe(true);
      expect(duringOutage.address).not.toBe(beforeOutage.address);
      expect(duringOutage.dns).toBe(`${PRIMARY},${BACKUP}`);
      expect(duringOutage.routers).toBe(CONTROLLER_ADDRESS);
      const backupRow = (await verifiedHa()).backup;
      expect(backupRow.ok).toBe(false);
      expect(backupRow.detail).toMatch(/^hot-standby, standby: partner-down, partner: \S+ \(out of touch\)$/);
      // DNS without the primary: the backup answers on its own.
      expect(dig(BACKUP, '+short', `mail.${DOMAIN}`)).toBe(`${LAB_VIP}\n`);
    } finally {
      await powerOn('primary');
    }
  });

  it('the primary back: both return to hot-standby, and the primary knows the lease the standby gave during the outage', async () => {
    const back = performance.now();
    timings["hot-standby again after the primary's power-on (s)"] =
      (await until('both servers in hot-standby again', bothHotStandby, 120_000, {
        since: back,
        intervalMs: 500,
        state: haStory,
      })) / 1000;
    const onPrimary = await keaCommand('primary', 'lease4-get', { 'ip-address': duringOutage.address });
    expect(onPrimary, JSON.stringify(onPrimary)).toMatchObject({
      result: 0,
      arguments: { 'ip-address': duringOutage.address, state: 0 },
    });
    expect(Object.values(await verifiedHa()).every((r) => r.ok)).toBe(true);
    expect((await offers()).map((o) => o.server)).toEqual([PRIMARY]);
  });

  it('with the backup power-cut the primary gives leases; afterwards both converge with 0 changes and no failed unit', async () => {
    await powerCut('backup');
    const cut = performance.now();
    try {
      timings["primary in partner-down after the backup's power cut (s)"] =
        (await until(
          'the primary in partner-down',
          async () => (await haState('primary')).state === 'partner-down',
          60_000,
          { since: cut, state: haStory },
        )) / 1000;
      const got = timedSync('lease, backup cut', () => lease({ timeoutSeconds: 60 }));
      expect(got.server).toBe(PRIMARY);
      expect(inPool(got.address)).toBe(true);
      expect(dig(PRIMARY, '+short', `mail.${DOMAIN}`)).toBe(`${LAB_VIP}\n`);
    } finally {
      await powerOn('backup');
    }
    await until('both servers in hot-standby again', bothHotStandby, 120_000, { intervalMs: 500, state: haStory });
    const after = await playJson([NETWORK]);
    expect(after.code, after.stderr).toBe(0);
    for (const host of ['primary', 'backup']) {
      expect(after.report.hosts[host].changed).toBe(0);
      await noFailedUnits(host);
    }
    await until('the backup to answer again', () => serialOf(BACKUP, DOMAIN) === serialOf(PRIMARY, DOMAIN), 30_000);
  });

  it('a server that ISC DHCP served before (a school upgrading play): dhcpd stopped and disabled, its firewall gone', async () => {
    // What the ISC DHCP role of earlier releases left on the primary: dhcpd running and enabled with a pool of its
    // own, and its failover firewall (unit, table, file), and no Kea running. Installed with policy-rc.d holding the
    // package's start.
    const legacy = sh`set -e
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q isc-dhcp-server >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q isc-dhcp-server >/dev/null; }
rm -f /usr/sbin/policy-rc.d
sed -i 's/^INTERFACESv4=.*/INTERFACESv4="eth0"/' /etc/default/isc-dhcp-server
printf 'authoritative;\nsubnet ${`${SUBNET}.0`} netmask 255.255.255.0 { range ${`${SUBNET}.240`} ${`${SUBNET}.241`}; }\n' > /etc/dhcp/dhcpd.conf
cat > ${ISC_DHCP_LEFTOVERS.firewallFile} <<'EOF'
${raw(peerFirewallTable({ purpose: 'ISC DHCP failover', table: ISC_DHCP_LEFTOVERS.firewallTable, ports: [647, 847], peerAddress: BACKUP }))}EOF
printf '[Unit]\nBefore=isc-dhcp-server.service\n[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/usr/sbin/nft -f ${ISC_DHCP_LEFTOVERS.firewallFile}\nExecStop=/usr/sbin/nft delete table inet ${ISC_DHCP_LEFTOVERS.firewallTable}\n[Install]\nWantedBy=multi-user.target\n' > ${ISC_DHCP_LEFTOVERS.firewallUnitPath}
systemctl daemon-reload
# Before Kea: it would hold port 67, and dhcpd could not start.
systemctl disable --now kea-dhcp4-server
systemctl enable --now ${ISC_DHCP_LEFTOVERS.firewallUnit} isc-dhcp-server
# A generated (LSB) unit: enable --now does not start it.
systemctl start isc-dhcp-server
systemctl is-active isc-dhcp-server
nft list table inet ${ISC_DHCP_LEFTOVERS.firewallTable} >/dev/null`;
    const set = await onHost('primary', legacy);
    expect(set.exitCode, set.stderr).toBe(0);
    const upgraded = await timed('run over an ISC DHCP server', () => playJson([NETWORK]));
    expect(upgraded.code, upgraded.stderr).toBe(0);
    const changedTasks = upgraded.report.tasks.filter((t) => t.status === 'changed').map((t) => `${t.host}: ${t.task}`);
    expect(changedTasks).toEqual(
      expect.arrayContaining([
        'primary: ISC DHCP from an earlier deploy is stopped and disabled',
        'primary: the ISC DHCP failover firewall of an earlier deploy is removed',
      ]),
    );
    expect(upgraded.report.hosts.backup.changed).toBe(0);
    expect((await onHost('primary', sh`pgrep -a dhcpd`)).stdout).toBe('');
    expect((await onHost('primary', sh`systemctl is-enabled isc-dhcp-server`)).stdout.trim()).toBe('disabled');
    expect((await onHost('primary', sh`nft list table inet ${ISC_DHCP_LEFTOVERS.firewallTable}`)).exitCode).not.toBe(0);
    expect(
      (await onHost('primary', sh`ls ${ISC_DHCP_LEFTOVERS.firewallUnitPath} ${ISC_DHCP_LEFTOVERS.firewallFile}`))
        .exitCode,
    ).not.toBe(0);
    const again = await playJson([NETWORK]);
    for (const host of ['primary', 'backup']) expect(again.report.hosts[host]).toMatchObject({ changed: 0, failed: 0 });
    // Kea alone answers, once the primary Kea just started is back in hot-standby (waiting, syncing, ready: a few
    // seconds without DHCP): the primary's offer, from the pool, not the old dhcpd's .240-.241.
    await until('both servers in hot-standby', bothHotStandby, 60_000, { intervalMs: 500, state: haStory });
    const seen = await offers();
    expect(seen.map((o) => o.server)).toEqual([PRIMARY]);
    expect(inPool(seen[0].address)).toBe(true);
    await noFailedUnits('primary');
  });
});

function timedSync<T>(label: string, work: () => T): T {
  const start = Date.now();
  try {
    return work();
  } finally {
    timings[label] = (Date.now() - start) / 1000;
  }
}
