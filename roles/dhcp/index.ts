import { defineRole, flushHandlers, line, packages, service, sh, template, Type, type Static } from 'play';
import { checkSchoolVars, inNetwork, Ipv4, netmaskOf, SchoolVars } from '../common/school.ts';
import { peerFirewallHandlers, peerFirewallTasks } from '../common/peer-firewall.ts';

/**
 * ISC DHCP's failover protocol has no authentication: its ports (647 on the primary, 847 on the backup) are
 * closed to all but the peer server, or any device on the LAN could tell a server its partner is down.
 */
export const FAILOVER_PORTS = [647, 847];
const FAILOVER_FIREWALL = {
  unit: 'dhcp-failover-firewall.service',
  handlers: { reloadSystemd: 'reload systemd', apply: 'apply the DHCP failover firewall' },
} as const;

/** The vars of the dhcp role: the school's shared vars, the pool, and the failover settings. */
export const DhcpVars = Type.Composite([
  SchoolVars,
  Type.Object({
    dhcpRange: Type.Object({ start: Ipv4, end: Ipv4 }, { additionalProperties: false }),
    dhcpFailoverPeer: Type.String({ pattern: '^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$', description: 'the failover relationship\'s name, the same on both servers' }),
    dhcpDefaultLeaseTime: Type.Integer({ minimum: 60 }),
    dhcpMaxLeaseTime: Type.Integer({ minimum: 60 }),
    dhcpMclt: Type.Integer({ minimum: 60 }),
    dhcpMaxResponseDelay: Type.Integer({ minimum: 5, maximum: 600 }),
    dhcpAutoPartnerDown: Type.Integer({ minimum: 0 }),
  }),
]);
export type DhcpVars = Static<typeof DhcpVars>;

const toNumber = (address: string) => address.split('.').reduce((n, part) => n * 256 + Number(part), 0);
const toAddress = (n: number) => [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');

/** The network address and the broadcast address of a CIDR network. */
export function networkBounds(cidr: string): { network: string; broadcast: string } {
  const [address, bits] = cidr.split('/');
  const size = 2 ** (32 - Number(bits));
  const network = Math.floor(toNumber(address) / size) * size;
  return { network: toAddress(network), broadcast: toAddress(network + size - 1) };
}

/**
 * isc-dhcp-server on both servers as a failover pair serving one pool: the primary declares `mclt` and
 * `split 128`, the backup is the secondary; either one alone keeps giving leases (from its half of the free
 * addresses at once, from all of them after `auto-partner-down` and MCLT). DHCPv4 only.
 */
export default defineRole({
  name: 'dhcp',
  dir: import.meta.dirname,
  schema: DhcpVars,
  defaults: {
    dhcpFailoverPeer: 'school-dhcp',
    dhcpDefaultLeaseTime: 3600,
    dhcpMaxLeaseTime: 7200,
    dhcpMclt: 1800,
    dhcpMaxResponseDelay: 30,
    dhcpAutoPartnerDown: 3600,
  },
  check(vars) {
    const issues = checkSchoolVars(vars);
    const { start, end } = vars.dhcpRange;
    for (const [key, address] of [['start', start], ['end', end]] as const) {
      if (!inNetwork(address, vars.lanNetwork)) issues.push({ path: `vars.dhcpRange.${key}`, message: `${address} is outside the LAN ${vars.lanNetwork}` });
    }
    if (toNumber(start) > toNumber(end)) issues.push({ path: 'vars.dhcpRange', message: `start ${start} comes after end ${end}` });
    for (const key of ['vip', 'router', 'lanAddress', 'peerAddress'] as const) {
      const n = toNumber(vars[key]);
      if (n >= toNumber(start) && n <= toNumber(end)) issues.push({ path: `vars.${key}`, message: `${vars[key]} lies in the DHCP pool ${start}-${end}` });
    }
    if (vars.dhcpMaxLeaseTime < vars.dhcpDefaultLeaseTime) issues.push({ path: 'vars.dhcpMaxLeaseTime', message: 'must not be below dhcpDefaultLeaseTime' });
    return issues;
  },
  tasks: ({ vars }) => {
    const primaryAddress = vars.haRole === 'primary' ? vars.lanAddress : vars.peerAddress;
    const backupAddress = vars.haRole === 'primary' ? vars.peerAddress : vars.lanAddress;
    const defaults = '/etc/default/isc-dhcp-server';
    return [
      packages({
        names: ['isc-dhcp-server'],
        preseed: [{ package: 'isc-dhcp-server', question: 'isc-dhcp-server/interfaces', type: 'string', value: vars.lanInterface }],
      }),
      // IPv4 on the LAN interface only: with INTERFACESv6 empty the init script never starts dhcpd -6.
      line({ path: defaults, regexp: /^INTERFACESv4=/, line: `INTERFACESv4="${vars.lanInterface}"`, notify: 'restart isc-dhcp-server' }),
      line({ path: defaults, regexp: /^INTERFACESv6=/, line: 'INTERFACESv6=""', notify: 'restart isc-dhcp-server' }),
      template({
        src: 'dhcpd.conf.ejs',
        dest: '/etc/dhcp/dhcpd.conf',
        mode: '0644',
        vars: {
          nameServers: [primaryAddress, backupAddress],
          ...networkBounds(vars.lanNetwork),
          netmask: netmaskOf(vars.lanNetwork),
        },
        validate: (path) => sh`dhcpd -t -4 -q -cf ${path}`,
        notify: 'restart isc-dhcp-server',
      }),
      ...peerFirewallTasks({
        ...FAILOVER_FIREWALL,
        purpose: 'ISC DHCP failover',
        table: 'dhcp_failover',
        ports: FAILOVER_PORTS,
        peerAddress: vars.peerAddress,
        nftPath: '/etc/dhcp/failover-firewall.nft',
        before: 'isc-dhcp-server.service',
      }),
      // The package's own start (with its sample configuration) fails or does nothing: start it configured.
      flushHandlers(),
      service({ name: 'isc-dhcp-server', state: 'started', enabled: true }),
    ];
  },
  handlers: () => [service({ taskName: 'restart isc-dhcp-server', name: 'isc-dhcp-server', state: 'restarted' }), ...peerFirewallHandlers(FAILOVER_FIREWALL)],
});
