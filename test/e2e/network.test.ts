import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientStdout } from './support/client.ts';
import { lease } from './support/dhcp.ts';
import { asOutsider, dig, digHeader, serialOf } from './support/dns.ts';
import { stdoutOf } from './support/hosts.ts';
import { until } from './support/wait.ts';
import { freshLab } from './support/lab.ts';
import { playJson } from './support/play.ts';
import { sh } from '../../src/connection/sh.ts';
import { LAB_CLIENT, LAB_HOSTS, LAB_VIP, CONTROLLER_ADDRESS } from '../lab/config.ts';
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
  beforeAll(freshLab);
  afterAll(() => {
    console.log(`network e2e timings (s): ${JSON.stringify(timings)}`);
  });

  it('takes both bare servers to the wanted state (exit 0), then a second run changes nothing', async () => {
    const first = await timed('first run', () => playJson([NETWORK]));
    expect(first.code, first.stderr + first.stdout).toBe(0);
    const second = await timed('second run', () => playJson([NETWORK]));
    expect(second.code, second.stderr).toBe(0);
    for (const host of ['primary', 'backup']) {
      expect(first.report.hosts[host].changed).toBeGreaterThanOrEqual(6);
      expect(second.report.hosts[host]).toMatchObject({ changed: 0, failed: 0, unreachable: 0 });
      expect(second.report.hosts[host].commands).toBe(1);
      for (const unit of ['named', 'isc-dhcp-server']) {
        expect(await stdoutOf(host, sh`systemctl is-active ${unit}; systemctl is-enabled ${unit}`)).toBe('active\nenabled\n');
      }
      // No DHCPv6 server, and nothing failed (the package's own start with its sample configuration included).
      expect(await stdoutOf(host, sh`pgrep -a dhcpd`)).not.toMatch(/-6/);
      await noFailedUnits(host);
    }
  });

  it('both servers answer mail, webmail, www and the apex with the VIP, the MX, the NS and the PTRs', async () => {
    // Both servers are deployed at once here: the backup may ask for a zone before the primary serves it. It asks
    // again within 5-30 s (min/max-retry-time), so it holds both zones well within a minute of the run.
    const started = Date.now();
    await until('the backup to hold both zones', () => [DOMAIN, REVERSE].every((zone) => serialOf(BACKUP, zone) === serialOf(PRIMARY, zone)), 60_000);
    timings['backup held both zones after the run (s)'] = (Date.now() - started) / 1000;
    for (const server of [PRIMARY, BACKUP]) {
      expect(dig(server, '+short', `mail.${DOMAIN}`)).toBe(`${LAB_VIP}\n`);
      expect(dig(server, '+short', `webmail.${DOMAIN}`)).toBe(`${LAB_VIP}\n`);
      expect(dig(server, '+short', `www.${DOMAIN}`)).toBe(`${LAB_VIP}\n`);
      expect(dig(server, '+short', DOMAIN)).toBe(`${LAB_VIP}\n`);
      expect(dig(server, '+short', 'MX', DOMAIN)).toBe(`10 mail.${DOMAIN}.\n`);
      expect(dig(server, '+short', 'NS', DOMAIN).split('\n').filter(Boolean).sort()).toEqual([`ns1.${DOMAIN}.`, `ns2.${DOMAIN}.`]);
      expect(dig(server, '+short', `ns1.${DOMAIN}`)).toBe(`${PRIMARY}\n`);
      expect(dig(server, '+short', `ns2.${DOMAIN}`)).toBe(`${BACKUP}\n`);
      expect(dig(server, '+short', '-x', LAB_VIP)).toBe(`mail.${DOMAIN}.\n`);
      expect(dig(server, '+short', '-x', PRIMARY)).toBe(`ns1.${DOMAIN}.\n`);
      expect(dig(server, '+short', '-x', BACKUP)).toBe(`ns2.${DOMAIN}.\n`);
      // Authoritative answers, from both.
      expect(digHeader(dig(server, `mail.${DOMAIN}`)).flags).toContain('aa');
    }
  });

  it('the backup is a secondary: its serials equal the primary\'s, got by TSIG-signed transfers', async () => {
    for (const zone of [DOMAIN, REVERSE]) {
      const serial = serialOf(PRIMARY, zone);
      expect(serial).toBeGreaterThan(2000010100);
      expect(serialOf(BACKUP, zone)).toBe(serial);
    }
    // The backup keeps what it transferred in /var/lib/bind (play writes no zone file there) ...
    expect(await stdoutOf('backup', sh`ls /var/lib/bind`)).toContain(`db.${DOMAIN}`);
    expect((await onHost('backup', sh`test -e /etc/bind/zones`)).exitCode).not.toBe(0);
    // ... and the primary logged the transfers as signed with the key.
    expect(await stdoutOf('primary', sh`journalctl -u named --no-pager`)).toMatch(new RegExp(`transfer of '${DOMAIN.replaceAll('.', '\\.')}/IN': AXFR started: TSIG ${TSIG_NAME}`));
  });

  it('AXFR: refused without the key, served with it (from both servers)', () => {
    const key = labSecret('tsig_key');
    for (const server of [PRIMARY, BACKUP]) {
      const refused = dig(server, 'AXFR', DOMAIN);
      expect(refused).toContain('Transfer failed.');
      expect(refused).not.toMatch(/\bIN\s+MX\b/);
      const signed = dig(server, '-y', `hmac-sha256:${TSIG_NAME}:${key}`, 'AXFR', DOMAIN);
      expect(signed).toMatch(new RegExp(`^mail\\.${DOMAIN.replaceAll('.', '\\.')}\\.\\s+\\d+\\s+IN\\s+A\\s+${LAB_VIP.replaceAll('.', '\\.')}$`, 'm'));
      expect(signed).toMatch(/\bIN\s+MX\s+10 mail\./);
      // A wrong key is refused too.
      const wrong = dig(server, '-y', `hmac-sha256:${TSIG_NAME}:${Buffer.alloc(32, 7).toString('base64')}`, 'AXFR', DOMAIN);
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

  let primaryClient = '';
  it('dhclient in lab-client gets a lease from the pool with the router, both DNS servers and the domain', () => {
    const got = timedSync('lease, both up', () => lease());
    expect(inPool(got.address), got.address).toBe(true);
    expect(got.routers).toBe(CONTROLLER_ADDRESS);
    expect(got.dns).toBe(`${PRIMARY},${BACKUP}`);
    expect(got.domain).toBe(DOMAIN);
    expect([PRIMARY, BACKUP]).toContain(got.server);
    // Load balancing (split 128) gives each server about half the clients: find a client identity the
    // primary answers, to show below that the backup takes it over.
    for (let i = 0; i < 16 && !primaryClient; i++) {
      if (lease({ clientId: `play-client-${i}` }).server === PRIMARY) primaryClient = `play-client-${i}`;
    }
    expect(primaryClient, 'no client identity among 16 was served by the primary').not.toBe('');
  });

  it('with the primary power-cut the backup still gives leases, also to the primary\'s clients', async () => {
    await powerCut('primary');
    try {
      for (const [label, id] of [['primary cut, own mac', undefined], ['primary cut, primary\'s client', primaryClient]] as const) {
        const got = timedSync(label, () => lease({ clientId: id, timeoutSeconds: 60 }));
        expect(got.server).toBe(BACKUP);
        expect(inPool(got.address)).toBe(true);
        expect(got.dns).toBe(`${PRIMARY},${BACKUP}`);
        expect(got.routers).toBe(CONTROLLER_ADDRESS);
      }
      // DNS without the primary: the backup answers on its own.
      expect(dig(BACKUP, '+short', `mail.${DOMAIN}`)).toBe(`${LAB_VIP}\n`);
    } finally {
      await powerOn('primary');
    }
  });

  it('with the backup power-cut the primary gives leases; afterwards both converge with 0 changes and no failed unit', async () => {
    // The primary must be back in the failover relationship before the backup goes.
    await until('the primary\'s dhcpd to be back in normal state', async () => /Both servers normal/.test((await onHost('primary', sh`journalctl -u isc-dhcp-server -b --no-pager`)).stdout), 90_000);
    await powerCut('backup');
    try {
      const got = timedSync('backup cut, own mac', () => lease({ timeoutSeconds: 60 }));
      expect(got.server).toBe(PRIMARY);
      expect(inPool(got.address)).toBe(true);
      expect(dig(PRIMARY, '+short', `mail.${DOMAIN}`)).toBe(`${LAB_VIP}\n`);
    } finally {
      await powerOn('backup');
    }
    const after = await playJson([NETWORK]);
    expect(after.code, after.stderr).toBe(0);
    for (const host of ['primary', 'backup']) {
      expect(after.report.hosts[host].changed).toBe(0);
      await noFailedUnits(host);
    }
    await until('the backup to answer again', () => serialOf(BACKUP, DOMAIN) === serialOf(PRIMARY, DOMAIN), 30_000);
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
