import { dirname } from 'node:path';
import {
  command,
  copy,
  defineRole,
  directory,
  file,
  flushHandlers,
  packages,
  SecretType,
  service,
  sh,
  Type,
  type Static,
} from 'play';
import { checkSchoolVars, inNetwork, Ipv4, SchoolVars } from '../common/school.ts';
import { certificateAndKeyFiles } from '../common/certificate-files.ts';
import { peerFirewallHandlers, peerFirewallTasks } from '../common/peer-firewall.ts';
import { KEA_PATHS, keaDhcp4ConfigText } from './kea-config.ts';
import { KEA_CONTROL_PATH, KEA_CONTROL_SOURCE } from './ha-state.ts';

/**
 * The HA hook's own HTTPS listener (lease updates, heartbeats, lease syncs) is closed to all but the peer server:
 * anyone else on the LAN gets a TCP reset before TLS even starts.
 */
const HA_FIREWALL = {
  unit: 'dhcp-ha-firewall.service',
  handlers: { reloadSystemd: 'reload systemd', apply: 'apply the DHCP HA firewall' },
} as const;

/** What ISC DHCP's failover pair of an earlier deploy left: its unit, its firewall unit, table and file. */
export const ISC_DHCP_LEFTOVERS = {
  service: 'isc-dhcp-server.service',
  firewallUnit: 'dhcp-failover-firewall.service',
  firewallUnitPath: '/etc/systemd/system/dhcp-failover-firewall.service',
  firewallFile: '/etc/dhcp/failover-firewall.nft',
  firewallTable: 'dhcp_failover',
} as const;

/** The vars of the dhcp role: the school's shared vars, the pool, the lease times and the HA settings. */
export const DhcpVars = Type.Composite([
  SchoolVars,
  Type.Object({
    dhcpRange: Type.Object({ start: Ipv4, end: Ipv4 }, { additionalProperties: false }),
    dhcpDefaultLeaseTime: Type.Integer({ minimum: 60 }),
    dhcpMaxLeaseTime: Type.Integer({ minimum: 60 }),
    dhcpHaPort: Type.Integer({
      minimum: 1024,
      maximum: 65535,
      description: "TCP port of the HA hook's HTTPS listener on each server",
    }),
    dhcpHeartbeatDelay: Type.Integer({
      minimum: 1,
      maximum: 60,
      description: 'seconds between heartbeats to the peer',
    }),
    dhcpMaxResponseDelay: Type.Integer({
      minimum: 2,
      maximum: 600,
      description: 'seconds without an answer before the peer counts as gone',
    }),
    dhcpMaxUnackedClients: Type.Integer({
      minimum: 0,
      maximum: 100,
      description: 'unanswered clients the standby waits for before it takes over (0: none)',
    }),
    // The vault's replication certificate (self-signed, naming both LAN addresses) and its key: the HA hook's TLS.
    replicationCertificate: SecretType(),
    replicationKey: SecretType(),
  }),
]);
export type DhcpVars = Static<typeof DhcpVars>;

const toNumber = (address: string) => address.split('.').reduce((n, part) => n * 256 + Number(part), 0);
const toAddress = (n: number) => [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');

/**
 * The network address and the broadcast address of a CIDR network.
 *
 * @example
 * networkBounds('198.18.30.0/24') // { network: '198.18.30.0', broadcast: '198.18.30.255' }
 */
export function networkBounds(cidr: string): { network: string; broadcast: string } {
  const [address, bits] = cidr.split('/');
  const size = 2 ** (32 - Number(bits));
  const network = Math.floor(toNumber(address) / size) * size;
  return { network: toAddress(network), broadcast: toAddress(network + size - 1) };
}

/**
 * kea-dhcp4-server on both servers as a hot-standby pair serving one pool (Kea's HA hook; ISC DHCP, end-of-life
 * since 2022, is stopped where an earlier deploy left it): the primary answers every client and sends each lease
 * to the standby before it answers; the standby takes over (partner-down) when the primary stops answering its
 * heartbeats. DHCPv4 only. See README.md for the choices and what differs between Kea 2.2 and 2.6.
 *
 * @example
 * definePlaybook({ inventory, plays: [{ hosts: 'servers', roles: [dhcp] }] })
 */
export default defineRole({
  name: 'dhcp',
  dir: import.meta.dirname,
  schema: DhcpVars,
  defaults: {
    dhcpDefaultLeaseTime: 3600,
    dhcpMaxLeaseTime: 7200,
    dhcpHaPort: 8001,
    dhcpHeartbeatDelay: 2,
    dhcpMaxResponseDelay: 6,
    dhcpMaxUnackedClients: 0,
  },
  check(vars) {
    const issues = checkSchoolVars(vars);
    const { start, end } = vars.dhcpRange;
    for (const [key, address] of [
      ['start', start],
      ['end', end],
    ] as const) {
      if (!inNetwork(address, vars.lanNetwork))
        issues.push({ path: `vars.dhcpRange.${key}`, message: `${address} is outside the LAN ${vars.lanNetwork}` });
    }
    if (toNumber(start) > toNumber(end))
      issues.push({ path: 'vars.dhcpRange', message: `start ${start} comes after end ${end}` });
    for (const key of ['vip', 'router', 'lanAddress', 'peerAddress'] as const) {
      const n = toNumber(vars[key]);
      if (n >= toNumber(start) && n <= toNumber(end))
        issues.push({ path: `vars.${key}`, message: `${vars[key]} lies in the DHCP pool ${start}-${end}` });
    }
    if (vars.dhcpMaxLeaseTime < vars.dhcpDefaultLeaseTime)
      issues.push({ path: 'vars.dhcpMaxLeaseTime', message: 'must not be below dhcpDefaultLeaseTime' });
    if (vars.dhcpMaxResponseDelay <= vars.dhcpHeartbeatDelay)
      issues.push({ path: 'vars.dhcpMaxResponseDelay', message: 'must be longer than dhcpHeartbeatDelay' });
    return issues;
  },
  tasks: ({ vars }) => {
    const restart = 'restart kea-dhcp4-server';
    return [
      packages({ names: ['kea-dhcp4-server', 'python3', 'openssl'] }),
      // ISC DHCP from an earlier deploy must never answer beside Kea: stopped and disabled before Kea is
      // configured (its lease file stays, for the record).
      command({
        name: 'ISC DHCP from an earlier deploy is stopped and disabled',
        // Two commands: for its generated (LSB) unit, `disable --now` only disables (systemd hands it to
        // systemd-sysv-install) and dhcpd keeps running.
        cmd: sh`systemctl stop ${ISC_DHCP_LEFTOVERS.service} && systemctl disable ${ISC_DHCP_LEFTOVERS.service}`,
        unless: sh`! systemctl is-active --quiet ${ISC_DHCP_LEFTOVERS.service} && ! systemctl is-enabled --quiet ${ISC_DHCP_LEFTOVERS.service} 2>/dev/null`,
      }),
      command({
        name: 'the ISC DHCP failover firewall of an earlier deploy is removed',
        cmd: sh`systemctl stop ${ISC_DHCP_LEFTOVERS.firewallUnit} 2>/dev/null || true
systemctl disable ${ISC_DHCP_LEFTOVERS.firewallUnit} 2>/dev/null || true
rm -f ${ISC_DHCP_LEFTOVERS.firewallUnitPath} ${ISC_DHCP_LEFTOVERS.firewallFile}
systemctl daemon-reload
if nft list table inet ${ISC_DHCP_LEFTOVERS.firewallTable} >/dev/null 2>&1; then nft delete table inet ${ISC_DHCP_LEFTOVERS.firewallTable}; fi`,
        unless: sh`! test -e ${ISC_DHCP_LEFTOVERS.firewallUnitPath} && ! test -e ${ISC_DHCP_LEFTOVERS.firewallFile} && ! { command -v nft >/dev/null && nft list table inet ${ISC_DHCP_LEFTOVERS.firewallTable} >/dev/null 2>&1; }`,
      }),
      // Kea runs as _kea: it reads the key through its group, nobody else can.
      directory({ path: KEA_PATHS.tlsDirectory, mode: '0750', owner: 'root', group: '_kea' }),
      ...certificateAndKeyFiles({
        certificate: {
          path: KEA_PATHS.certificate,
          content: vars.replicationCertificate,
          mode: '0644',
          owner: 'root',
          group: 'root',
        },
        key: { path: KEA_PATHS.key, content: vars.replicationKey, mode: '0640', owner: 'root', group: '_kea' },
        notify: restart,
      }),
      file({
        path: KEA_PATHS.config,
        content: keaDhcp4ConfigText(vars),
        mode: '0640',
        owner: 'root',
        group: '_kea',
        validate: (p) => sh`kea-dhcp4 -t ${p}`,
        notify: restart,
      }),
      directory({ path: dirname(KEA_CONTROL_PATH), owner: 'root', group: 'root', mode: '0755' }),
      copy({
        src: KEA_CONTROL_SOURCE,
        dest: KEA_CONTROL_PATH,
        owner: 'root',
        group: 'root',
        mode: '0755',
        validate: (path) => sh`python3 -c 'import ast, sys; ast.parse(open(sys.argv[1]).read())' ${path}`,
      }),
      ...peerFirewallTasks({
        ...HA_FIREWALL,
        purpose: 'Kea DHCP high availability',
        table: 'dhcp_ha',
        ports: [vars.dhcpHaPort],
        peerAddress: vars.peerAddress,
        nftPath: '/etc/kea/ha-firewall.nft',
        before: 'kea-dhcp4-server.service',
      }),
      // The package started Kea with its sample configuration (no interface): restart it configured first.
      flushHandlers(),
      service({ name: 'kea-dhcp4-server', state: 'started', enabled: true }),
    ];
  },
  // The firewall first: Kea's HA port is never open to the LAN, not even for the moment between the two.
  handlers: () => [
    ...peerFirewallHandlers(HA_FIREWALL),
    service({ taskName: 'restart kea-dhcp4-server', name: 'kea-dhcp4-server', state: 'restarted' }),
  ],
});
