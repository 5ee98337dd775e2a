/**
 * Where Debian's Kea packages (kea-dhcp4-server, kea-common) keep what the dhcp role configures. Kea 2.6.3 and
 * later refuse a lease file, control socket or hook library outside these directories, so the role uses no
 * other place on either release.
 *
 * @example
 * sh`kea-dhcp4 -t ${KEA_PATHS.config}`
 */
export const KEA_PATHS = {
  config: '/etc/kea/kea-dhcp4.conf',
  /** The control socket `play verify` and the tests send commands to (root and `_kea` only). */
  controlSocket: '/run/kea/kea4-ctrl-socket',
  leaseFile: '/var/lib/kea/kea-leases4.csv',
  tlsDirectory: '/etc/kea/tls',
  certificate: '/etc/kea/tls/replication.pem',
  key: '/etc/kea/tls/replication.key',
} as const;

/**
 * The directory of Kea's hook libraries (`libdhcp_ha.so`, `libdhcp_lease_cmds.so`, shipped in kea-common):
 * the same on Debian 12 (Kea 2.2) and 13 (Kea 2.6) for amd64, the only architecture the school's servers use.
 * The one place a per-release or per-architecture path would go.
 *
 * @example
 * keaHooksDirectory() // '/usr/lib/x86_64-linux-gnu/kea/hooks'
 */
export function keaHooksDirectory(): string {
  return '/usr/lib/x86_64-linux-gnu/kea/hooks';
}

/**
 * What the Kea configuration of one server is made from: the school's LAN, the pool, the lease times, and the
 * HA relationship (this server, its peer, the port and timing of the HA hook's own HTTPS listener).
 *
 * @example
 * const input: KeaConfigInput = { haRole: 'primary', lanInterface: 'eth0', lanNetwork: '198.18.30.0/24', … };
 */
export interface KeaConfigInput {
  readonly haRole: 'primary' | 'backup';
  readonly lanInterface: string;
  readonly lanNetwork: string;
  readonly lanAddress: string;
  readonly peerAddress: string;
  readonly router: string;
  readonly domain: string;
  readonly dhcpRange: { readonly start: string; readonly end: string };
  /** Seconds: the lease a client gets when it asks for none, and the longest it may ask for. */
  readonly dhcpDefaultLeaseTime: number;
  readonly dhcpMaxLeaseTime: number;
  /** TCP port of the HA hook's dedicated HTTPS listener, on each server's LAN address. */
  readonly dhcpHaPort: number;
  /** Seconds between heartbeats to the peer. */
  readonly dhcpHeartbeatDelay: number;
  /** Seconds without an answer from the peer before it counts as gone (then partner-down, see below). */
  readonly dhcpMaxResponseDelay: number;
  /** Clients the standby sees go unanswered before it takes over; 0: take over on the heartbeat alone. */
  readonly dhcpMaxUnackedClients: number;
}

/** The HA relationship's server names: the inventory's roles, so logs and `status-get` say `primary`/`backup`. */
export const HA_SERVER_NAMES = { primary: 'primary', backup: 'backup' } as const;

const toNumber = (address: string) => address.split('.').reduce((n, part) => n * 256 + Number(part), 0);
const toAddress = (n: number) => [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');

/**
 * The network address of a CIDR network in the form Kea's `subnet` takes (host bits cleared).
 *
 * @example
 * subnetOf('198.18.30.7/24') // '198.18.30.0/24'
 */
export function subnetOf(cidr: string): string {
  const [address, bits] = cidr.split('/');
  const size = 2 ** (32 - Number(bits));
  return `${toAddress(Math.floor(toNumber(address) / size) * size)}/${bits}`;
}

/**
 * The `Dhcp4` configuration of one server (kea-dhcp4, the same text on Kea 2.2 and 2.6): one subnet on the LAN
 * interface with one pool, the router, both servers as DNS servers (the primary first), the domain, leases in a
 * persisted memfile, the control socket, and the HA hook in hot-standby mode with the lease commands it needs.
 * Both servers get the same configuration but for `this-server-name`.
 *
 * @example
 * JSON.stringify(keaDhcp4Config({ haRole: 'primary', lanAddress: '198.18.30.1', peerAddress: '198.18.30.2', … }))
 */
export function keaDhcp4Config(input: KeaConfigInput) {
  const [primaryAddress, backupAddress] =
    input.haRole === 'primary' ? [input.lanAddress, input.peerAddress] : [input.peerAddress, input.lanAddress];
  const hooks = keaHooksDirectory();
  const url = (address: string) => `https://${address}:${input.dhcpHaPort}/`;
  return {
    Dhcp4: {
      // Raw sockets: clients without an address yet are answered by broadcast, as dhcpd did.
      'interfaces-config': { interfaces: [input.lanInterface], 'dhcp-socket-type': 'raw' },
      'control-socket': { 'socket-type': 'unix', 'socket-name': KEA_PATHS.controlSocket },
      // Persisted, compacted by kea-lfc every hour: a restart keeps every lease.
      'lease-database': { type: 'memfile', persist: true, name: KEA_PATHS.leaseFile, 'lfc-interval': 3600 },
      // The HA hook's multi-threaded mode (its own HTTPS listener, no kea-ctrl-agent) needs the server's.
      'multi-threading': { 'enable-multi-threading': true, 'thread-pool-size': 2, 'packet-queue-size': 64 },
      'expired-leases-processing': { 'reclaim-timer-wait-time': 10, 'hold-reclaimed-time': 3600 },
      // The only DHCP server of the school's LAN: a client asking for an address we did not give gets a NAK.
      authoritative: true,
      'valid-lifetime': input.dhcpDefaultLeaseTime,
      'max-valid-lifetime': input.dhcpMaxLeaseTime,
      'min-valid-lifetime': 60,
      // Renew at half the lease, rebind at 7/8, as dhcpd's clients did.
      'calculate-tee-times': true,
      'option-data': [
        { name: 'domain-name', data: input.domain },
        { name: 'domain-name-servers', data: `${primaryAddress}, ${backupAddress}` },
      ],
      'hooks-libraries': [
        { library: `${hooks}/libdhcp_lease_cmds.so` },
        {
          library: `${hooks}/libdhcp_ha.so`,
          parameters: {
            'high-availability': [
              {
                'this-server-name': HA_SERVER_NAMES[input.haRole],
                mode: 'hot-standby',
                'heartbeat-delay': input.dhcpHeartbeatDelay * 1000,
                'max-response-delay': input.dhcpMaxResponseDelay * 1000,
                'max-ack-delay': 5000,
                'max-unacked-clients': input.dhcpMaxUnackedClients,
                'sync-timeout': 60000,
                'multi-threading': {
                  'enable-multi-threading': true,
                  'http-dedicated-listener': true,
                  'http-listener-threads': 2,
                  'http-client-threads': 2,
                },
                // Mutual TLS with the school's replication certificate (it names both LAN addresses): the peer is
                // the only client and the only server either one trusts.
                'trust-anchor': KEA_PATHS.certificate,
                'cert-file': KEA_PATHS.certificate,
                'key-file': KEA_PATHS.key,
                'require-client-certs': true,
                peers: [
                  { name: HA_SERVER_NAMES.primary, url: url(primaryAddress), role: 'primary', 'auto-failover': true },
                  { name: HA_SERVER_NAMES.backup, url: url(backupAddress), role: 'standby', 'auto-failover': true },
                ],
              },
            ],
          },
        },
      ],
      subnet4: [
        {
          id: 1,
          subnet: subnetOf(input.lanNetwork),
          interface: input.lanInterface,
          pools: [{ pool: `${input.dhcpRange.start} - ${input.dhcpRange.end}` }],
          'option-data': [{ name: 'routers', data: input.router }],
        },
      ],
      loggers: [{ name: 'kea-dhcp4', output_options: [{ output: 'stdout' }], severity: 'INFO' }],
    },
  };
}

/**
 * The configuration file's text: Kea's JSON, with a header comment (Kea reads `#` comments; nothing else does).
 *
 * @example
 * file({ path: KEA_PATHS.config, content: keaDhcp4ConfigText(input), validate: (p) => sh`kea-dhcp4 -t ${p}` })
 */
export function keaDhcp4ConfigText(input: KeaConfigInput): string {
  return `# Managed by play (role dhcp): the school LAN's DHCP, a Kea HA pair in hot-standby; this is the ${input.haRole}.\n${JSON.stringify(keaDhcp4Config(input), null, 2)}\n`;
}
