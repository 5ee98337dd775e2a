import { sh, type HealthCheck, type HealthHost, type HealthRow } from 'play';
import { DELIVER_BEFORE_ACCEPT_UNIT, HAS_MESSAGE_SOCKET_UNIT } from '../postfix/index.ts';
import { tlsCertificatePath } from '../tls/index.ts';

/** The services a LAN client uses at the VIP, by name and TCP port. */
export const VIP_SERVICES = [
  { name: 'dns', port: 53 },
  { name: 'smtp', port: 25 },
  { name: 'submission', port: 587 },
  { name: 'smtps', port: 465 },
  { name: 'imap', port: 143 },
  { name: 'imaps', port: 993 },
  { name: 'http', port: 80 },
  { name: 'https', port: 443 },
] as const;

/** A certificate closer to its end than this many days is a failed check (time to renew). */
export const CERTIFICATE_MIN_DAYS = 21;

/** What one server says about itself, read in one command. */
export interface ServerState {
  readonly holdsVip: boolean;
  readonly keepalived: string;
  readonly vrrpState: string;
  readonly replicationQueue: Record<string, number>;
  readonly replicationFailedUsers: string[];
  /**
   * `systemctl is-active` and `is-enabled` of the deliver-before-accept milter (postfix role), and
   * `is-active` of the socket of its mailbox-has-message helper.
   */
  readonly deliverBeforeAccept: { active: string; enabled: string; helper: string };
  readonly serial: string;
  readonly dhcpState: string;
  readonly dhcpPartnerState: string;
  readonly vipAnswers: Record<string, boolean>;
  readonly certificateEnd: string;
  readonly certificateDays: number;
  readonly certificateFingerprint: string;
}

interface SchoolHostVars {
  vip: string;
  lanInterface: string;
  domain: string;
  transitionsLog?: string;
}

/** The read-only script that prints a server's state as `key=value` lines. */
export function stateScript(vars: SchoolHostVars) {
  const log = vars.transitionsLog ?? '/var/log/keepalived-transitions.log';
  const certificate = tlsCertificatePath(vars.domain);
  const ports = VIP_SERVICES.map((s) => s.port);
  return sh`
vip=${vars.vip}; iface=${vars.lanInterface}; domain=${vars.domain}; log=${log}; certificate=${certificate}
ip -4 -o addr show dev "$iface" | grep -q " $vip/" && echo holds_vip=yes || echo holds_vip=no
echo "keepalived=$(systemctl is-active keepalived)"
echo "vrrp_state=$(tail -n 1 "$log" 2>/dev/null | awk '{print $5}')"
doveadm replicator status 2>/dev/null | awk -F"'" '/requests/ { w = tolower($1); gsub(/ /, "", w); k = $2; gsub(/ /, "_", k); n = split($3, a, " "); print "queue_" w "_" k "=" a[n] }'
echo "failed_users=$(doveadm replicator status '*' 2>/dev/null | awk 'NR > 1 && $NF == "y" { printf "%s ", $1 }')"
echo "deliver_before_accept=$(systemctl is-active ${DELIVER_BEFORE_ACCEPT_UNIT})"
echo "deliver_before_accept_enabled=$(systemctl is-enabled ${DELIVER_BEFORE_ACCEPT_UNIT} 2>/dev/null)"
echo "has_message=$(systemctl is-active ${HAS_MESSAGE_SOCKET_UNIT})"
echo "serial=$(dig +short +time=2 +tries=1 SOA "$domain" @127.0.0.1 | awk '{print $3}')"
echo "dhcp_state=$(grep -oE 'my state [a-z-]+' /var/lib/dhcp/dhcpd.leases 2>/dev/null | tail -n 1 | cut -d' ' -f3)"
echo "dhcp_partner_state=$(grep -oE 'partner state [a-z-]+' /var/lib/dhcp/dhcpd.leases 2>/dev/null | tail -n 1 | cut -d' ' -f3)"
for port in ${ports}; do
  if timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$vip" "$port" 2>/dev/null; then echo "vip_$port=yes"; else echo "vip_$port=no"; fi
done
end=$(openssl x509 -enddate -noout -in "$certificate" 2>/dev/null | cut -d= -f2)
echo "certificate_end=$end"
if [ -n "$end" ]; then echo "certificate_days=$(( ($(date -d "$end" +%s) - $(date +%s)) / 86400 ))"; fi
echo "certificate_fingerprint=$(openssl x509 -noout -fingerprint -sha256 -in "$certificate" 2>/dev/null | cut -d= -f2)"
`;
}


/** Parses {@link stateScript}'s output. */
export function parseServerState(stdout: string): ServerState {
  const values = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const at = line.indexOf('=');
    if (at > 0) values.set(line.slice(0, at), line.slice(at + 1).trim());
  }
  const get = (key: string) => values.get(key) ?? '';
  return {
    holdsVip: get('holds_vip') === 'yes',
    keepalived: get('keepalived'),
    vrrpState: get('vrrp_state'),
    replicationQueue: Object.fromEntries([...values].filter(([k]) => k.startsWith('queue_')).map(([k, v]) => [k.slice('queue_'.length), Number(v)])),
    replicationFailedUsers: get('failed_users').split(' ').filter(Boolean),
    deliverBeforeAccept: { active: get('deliver_before_accept'), enabled: get('deliver_before_accept_enabled'), helper: get('has_message') },
    serial: get('serial'),
    dhcpState: get('dhcp_state'),
    dhcpPartnerState: get('dhcp_partner_state'),
    vipAnswers: Object.fromEntries(VIP_SERVICES.map((s) => [s.name, get(`vip_${s.port}`) === 'yes'])),
    certificateEnd: get('certificate_end'),
    certificateDays: values.has('certificate_days') ? Number(get('certificate_days')) : Number.NaN,
    certificateFingerprint: get('certificate_fingerprint'),
  };
}

/** The rows of one server: keepalived, replication, DHCP failover, the VIP's services seen from it, its certificate. */
export function serverRows(host: string, state: ServerState): HealthRow[] {
  const queued = Object.entries(state.replicationQueue);
  const waiting = queued.filter(([, n]) => n > 0).map(([k, n]) => `${k.replaceAll('_', ' ')} ${n}`);
  const failedQueue = queued.filter(([k, n]) => k.includes('failed') && n > 0);
  const silent = Object.entries(state.vipAnswers).filter(([, ok]) => !ok).map(([name]) => name);
  return [
    {
      check: 'keepalived',
      host,
      ok: state.keepalived === 'active' && (state.vrrpState === 'MASTER' || state.vrrpState === 'BACKUP'),
      detail: `${state.vrrpState || 'no state yet'} (${state.keepalived})${state.holdsVip ? ', holds the VIP' : ''}`,
    },
    {
      check: 'replication',
      host,
      ok: queued.length > 0 && failedQueue.length === 0 && state.replicationFailedUsers.length === 0,
      detail:
        queued.length === 0
          ? 'no replicator answers'
          : [waiting.length ? `queued: ${waiting.join(', ')}` : 'queue empty', state.replicationFailedUsers.length ? `failed: ${state.replicationFailedUsers.join(' ')}` : 'no failed user'].join('; '),
    },
    deliverBeforeAcceptRow(host, state.deliverBeforeAccept),
    {
      check: 'dhcp failover',
      host,
      ok: state.dhcpState === 'normal',
      detail: state.dhcpState ? `${state.dhcpState} (partner ${state.dhcpPartnerState || 'unknown'})` : 'no failover state',
    },
    {
      check: 'services at the VIP',
      host,
      ok: silent.length === 0,
      detail: silent.length === 0 ? `all ${VIP_SERVICES.length} answer (${VIP_SERVICES.map((s) => s.port).join(' ')})` : `no answer: ${silent.join(', ')}`,
    },
    {
      check: 'certificate',
      host,
      ok: state.certificateDays >= CERTIFICATE_MIN_DAYS,
      detail: state.certificateEnd ? `expires ${state.certificateEnd} (${state.certificateDays} days)` : 'no certificate',
    },
  ];
}

/**
 * Whether mail for the school's accounts is stored on both servers before postfix says 250: the milter runs. A
 * server where it is not installed (deliverBeforeAccept: false) is fine, one where it is enabled but down is not
 * (postfix then queues first, and a message can sit on one server alone for a moment).
 */
function deliverBeforeAcceptRow(host: string, milter: ServerState['deliverBeforeAccept']): HealthRow {
  const check = 'mail stored before 250';
  if (milter.active === 'active' && milter.helper !== 'active') {
    return { check, host, ok: false, detail: `deliver-before-accept running, mailbox-has-message ${milter.helper || 'not running'}: mail sent again is stored twice` };
  }
  if (milter.active === 'active') return { check, host, ok: true, detail: 'deliver-before-accept running' };
  if (milter.enabled === 'enabled') return { check, host, ok: false, detail: `deliver-before-accept ${milter.active || 'not running'}: postfix queues first` };
  return { check, host, ok: true, detail: 'not used: postfix queues first' };
}

/** The rows about the pair: exactly one VIP holder, equal zone serials, the same certificate on both. */
export function pairRows(states: ReadonlyMap<string, ServerState>): HealthRow[] {
  const entries = [...states];
  const holders = entries.filter(([, s]) => s.holdsVip).map(([h]) => h);
  const serials = new Set(entries.map(([, s]) => s.serial));
  const fingerprints = new Set(entries.map(([, s]) => s.certificateFingerprint));
  return [
    { check: 'vip holder', ok: holders.length === 1, detail: holders.length === 0 ? 'nobody holds the VIP' : holders.join(' and ') },
    {
      check: 'zone serial',
      ok: entries.length > 0 && serials.size === 1 && !serials.has(''),
      detail: entries.map(([h, s]) => `${h} ${s.serial || 'none'}`).join(', '),
    },
    { check: 'same certificate', ok: entries.length > 0 && fingerprints.size === 1 && !fingerprints.has(''), detail: fingerprints.size === 1 ? 'on every server' : 'differs between servers' },
  ];
}

/**
 * `play verify site`: the school's pair of servers as its users depend on it. Reads each reachable server's
 * state in one command and returns the pair's rows, then each server's.
 */
export const schoolHealth: HealthCheck = async (hosts: readonly HealthHost[]) => {
  const states = new Map<string, ServerState>();
  const failures: HealthRow[] = [];
  await Promise.all(
    hosts
      .filter((h) => h.reachable)
      .map(async (h) => {
        const result = await h.exec(stateScript(h.vars as unknown as SchoolHostVars));
        if (result.exitCode !== 0) failures.push({ check: 'state', host: h.name, ok: false, detail: `reading the state failed (exit ${result.exitCode}): ${result.stderr.trim()}` });
        else states.set(h.name, parseServerState(result.stdout));
      }),
  );
  const ordered = new Map(hosts.filter((h) => states.has(h.name)).map((h) => [h.name, states.get(h.name)!]));
  return [...pairRows(ordered), ...failures, ...[...ordered].flatMap(([host, state]) => serverRows(host, state))];
};
