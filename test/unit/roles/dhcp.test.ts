import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import dhcp from '../../../roles/dhcp/index.ts';
import {
  HA_SERVER_NAMES,
  KEA_PATHS,
  keaDhcp4Config,
  keaDhcp4ConfigText,
  subnetOf,
  type KeaConfigInput,
} from '../../../roles/dhcp/kea-config.ts';
import { dhcpHaState, dhcpHaVerdict, KEA_CONTROL_SOURCE } from '../../../roles/dhcp/ha-state.ts';

const PRIMARY: KeaConfigInput = {
  haRole: 'primary',
  lanInterface: 'eth0',
  lanNetwork: '198.18.30.0/24',
  lanAddress: '198.18.30.1',
  peerAddress: '198.18.30.2',
  router: '198.18.30.10',
  domain: 'smknh.sch.id',
  dhcpRange: { start: '198.18.30.100', end: '198.18.30.200' },
  dhcpDefaultLeaseTime: 3600,
  dhcpMaxLeaseTime: 7200,
  dhcpHaPort: 8001,
  dhcpHeartbeatDelay: 2,
  dhcpMaxResponseDelay: 6,
  dhcpMaxUnackedClients: 0,
};
const BACKUP: KeaConfigInput = {
  ...PRIMARY,
  haRole: 'backup',
  lanAddress: PRIMARY.peerAddress,
  peerAddress: PRIMARY.lanAddress,
};

/** The configuration as Kea reads it: the file's text without its `#` header, parsed as JSON. */
const parsed = (input: KeaConfigInput) => JSON.parse(keaDhcp4ConfigText(input).replace(/^#.*\n/, ''));
const haOf = (config: ReturnType<typeof parsed>) =>
  config.Dhcp4['hooks-libraries'].find((h: { library: string }) => h.library.endsWith('/libdhcp_ha.so')).parameters[
    'high-availability'
  ][0];

describe('the dhcp role: Kea in hot-standby', () => {
  it('renders JSON Kea reads: one header comment, then the same object keaDhcp4Config returns', () => {
    const text = keaDhcp4ConfigText(PRIMARY);
    expect(text.split('\n')[0]).toMatch(/^# Managed by play \(role dhcp\).*this is the primary\.$/);
    expect(
      text
        .split('\n')
        .slice(1)
        .every((line) => !line.startsWith('#')),
    ).toBe(true);
    expect(parsed(PRIMARY)).toEqual(keaDhcp4Config(PRIMARY));
  });

  it("one subnet on the LAN interface with the school's pool, router, both DNS servers (primary first) and domain", () => {
    for (const input of [PRIMARY, BACKUP]) {
      const { Dhcp4 } = parsed(input);
      expect(Dhcp4['interfaces-config']).toEqual({ interfaces: ['eth0'], 'dhcp-socket-type': 'raw' });
      expect(Dhcp4.subnet4).toEqual([
        {
          id: 1,
          subnet: '198.18.30.0/24',
          interface: 'eth0',
          pools: [{ pool: '198.18.30.100 - 198.18.30.200' }],
          'option-data': [{ name: 'routers', data: '198.18.30.10' }],
        },
      ]);
      expect(Dhcp4['option-data']).toEqual([
        { name: 'domain-name', data: 'smknh.sch.id' },
        { name: 'domain-name-servers', data: '198.18.30.1, 198.18.30.2' },
      ]);
      expect(Dhcp4).toMatchObject({ 'valid-lifetime': 3600, 'max-valid-lifetime': 7200, authoritative: true });
      expect(Dhcp4['lease-database']).toEqual({
        type: 'memfile',
        persist: true,
        name: KEA_PATHS.leaseFile,
        'lfc-interval': 3600,
      });
      expect(Dhcp4['control-socket']).toEqual({ 'socket-type': 'unix', 'socket-name': '/run/kea/kea4-ctrl-socket' });
      expect(Dhcp4['multi-threading']['enable-multi-threading']).toBe(true);
    }
  });

  it('the HA hook: hot-standby, the same two peers on both servers, each naming itself, mutual TLS, its own listener', () => {
    const [primary, backup] = [haOf(parsed(PRIMARY)), haOf(parsed(BACKUP))];
    expect(primary['this-server-name']).toBe(HA_SERVER_NAMES.primary);
    expect(backup['this-server-name']).toBe(HA_SERVER_NAMES.backup);
    const { 'this-server-name': _p, ...primaryRest } = primary;
    const { 'this-server-name': _b, ...backupRest } = backup;
    expect(backupRest).toEqual(primaryRest);
    expect(primary).toMatchObject({
      mode: 'hot-standby',
      'heartbeat-delay': 2000,
      'max-response-delay': 6000,
      'max-unacked-clients': 0,
      'trust-anchor': KEA_PATHS.certificate,
      'cert-file': KEA_PATHS.certificate,
      'key-file': KEA_PATHS.key,
      'require-client-certs': true,
      'multi-threading': { 'enable-multi-threading': true, 'http-dedicated-listener': true },
    });
    expect(primary.peers).toEqual([
      { name: 'primary', url: 'https://198.18.30.1:8001/', role: 'primary', 'auto-failover': true },
      { name: 'backup', url: 'https://198.18.30.2:8001/', role: 'standby', 'auto-failover': true },
    ]);
    // The lease commands come first: the HA hook's lease syncs use them.
    expect(parsed(PRIMARY).Dhcp4['hooks-libraries'].map((h: { library: string }) => h.library)).toEqual([
      '/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_lease_cmds.so',
      '/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_ha.so',
    ]);
  });

  it('subnetOf clears the host bits', () => {
    expect(subnetOf('198.18.30.7/24')).toBe('198.18.30.0/24');
    expect(subnetOf('10.1.130.9/17')).toBe('10.1.128.0/17');
  });

  it("refuses a pool outside the LAN or holding a server, and a heartbeat slower than the peer's deadline", () => {
    const vars = { ...dhcp.defaults, ...PRIMARY, schoolName: 'S', vip: '198.18.30.254', peerName: 'backup' } as never;
    expect(dhcp.check!(vars)).toEqual([]);
    const issues = dhcp.check!({
      ...(vars as object),
      dhcpRange: { start: '198.18.30.1', end: '198.18.31.5' },
      dhcpHeartbeatDelay: 6,
    } as never);
    expect(issues).toHaveLength(6);
    expect(issues).toEqual(
      expect.arrayContaining([
        { path: 'vars.dhcpRange.end', message: '198.18.31.5 is outside the LAN 198.18.30.0/24' },
        { path: 'vars.lanAddress', message: '198.18.30.1 lies in the DHCP pool 198.18.30.1-198.18.31.5' },
        { path: 'vars.peerAddress', message: '198.18.30.2 lies in the DHCP pool 198.18.30.1-198.18.31.5' },
        { path: 'vars.router', message: '198.18.30.10 lies in the DHCP pool 198.18.30.1-198.18.31.5' },
        { path: 'vars.vip', message: '198.18.30.254 lies in the DHCP pool 198.18.30.1-198.18.31.5' },
        { path: 'vars.dhcpMaxResponseDelay', message: 'must be longer than dhcpHeartbeatDelay' },
      ]),
    );
  });
});

/** What Kea 2.2.0's status-get answered on a primary whose standby is in touch (trimmed). */
const STATUS_GET = {
  result: 0,
  arguments: {
    pid: 301,
    uptime: 40,
    sockets: { status: 'ready' },
    'multi-threading-enabled': true,
    'high-availability': [
      {
        'ha-mode': 'hot-standby',
        'ha-servers': {
          local: { role: 'primary', scopes: ['primary'], state: 'hot-standby' },
          remote: {
            age: 1,
            'in-touch': true,
            'last-scopes': [],
            'last-state': 'hot-standby',
            role: 'standby',
            'communication-interrupted': false,
            'unacked-clients': 0,
          },
        },
      },
    ],
  },
};

describe("kea-control: Kea's control socket from a server's shell", () => {
  let dir = '';
  let server: Server;
  const received: string[] = [];
  let answer: unknown = STATUS_GET;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'play-kea-'));
    // Kea's way: read one command, write one JSON answer (here in two pieces), close.
    server = createServer((socket) => {
      socket.on('data', (data) => {
        received.push(data.toString());
        const text = JSON.stringify(answer);
        socket.write(text.slice(0, 20));
        setTimeout(() => socket.end(text.slice(20)), 20);
      });
    });
    await new Promise<void>((resolve) => server.listen(join(dir, 'socket'), resolve));
  });
  afterAll(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const run = (...args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn('python3', ['-I', KEA_CONTROL_SOURCE, '--socket', join(dir, 'socket'), ...args]);
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  const values = (stdout: string) =>
    new Map(
      stdout
        .trim()
        .split('\n')
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );

  it('ha-status: asks status-get and prints the HA state as key=value lines', async () => {
    const got = await run('ha-status');
    expect(got.code).toBe(0);
    expect(JSON.parse(received.at(-1)!)).toEqual({ command: 'status-get' });
    const state = dhcpHaState((key) => values(got.stdout).get(key) ?? '');
    expect(state).toEqual({
      mode: 'hot-standby',
      role: 'primary',
      state: 'hot-standby',
      partnerRole: 'standby',
      partnerState: 'hot-standby',
      partnerReachable: true,
      sockets: 'ready',
      error: '',
    });
    expect(dhcpHaVerdict(state)).toEqual({
      ok: true,
      detail: 'hot-standby, primary: hot-standby, partner: hot-standby',
    });
  });

  it("a command with arguments: Kea's answer as JSON", async () => {
    answer = { result: 0, text: 'IPv4 lease found.', arguments: { 'ip-address': '198.18.30.150' } };
    const got = await run('lease4-get', '{"ip-address": "198.18.30.150"}');
    expect(got.code).toBe(0);
    expect(JSON.parse(received.at(-1)!)).toEqual({
      command: 'lease4-get',
      arguments: { 'ip-address': '198.18.30.150' },
    });
    expect(JSON.parse(got.stdout)).toEqual(answer);
    answer = STATUS_GET;
  });

  it('says why when Kea cannot be asked, and refuses a bad command line', async () => {
    const missing = spawnSync('python3', ['-I', KEA_CONTROL_SOURCE, '--socket', join(dir, 'none'), 'ha-status'], {
      encoding: 'utf8',
    });
    expect(missing.status).toBe(1);
    expect(missing.stdout).toBe('dhcp_ha_error=No such file or directory\n');
    expect(dhcpHaVerdict(dhcpHaState((key) => values(missing.stdout).get(key) ?? ''))).toEqual({
      ok: false,
      detail: 'Kea does not answer: No such file or directory',
    });
    expect(
      spawnSync('python3', ['-I', KEA_CONTROL_SOURCE, 'lease4-get', '{not json'], { encoding: 'utf8' }).status,
    ).toBe(2);
    expect(spawnSync('python3', ['-I', KEA_CONTROL_SOURCE], { encoding: 'utf8' }).status).toBe(2);
  });
});
