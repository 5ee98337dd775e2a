import { raw, sh, type HealthCheck, type HealthHost, type HealthRow, type Secret } from 'play';
import { tlsCertificatePath } from '../tls/index.ts';
import { BACKUP_HELPER } from '../backup/index.ts';
import { backupRow, parseBackupStatus, type BackupStatus } from '../backup/status.ts';
import {
  parseReplicaStatus,
  parseWebmailUsers,
  REPLICA_STATUS_SCRIPT,
  replicaRow,
  WEBMAIL_USERS_SCRIPT,
  webmailUsersRow,
  type ReplicaStatus,
} from '../mariadb/status.ts';
import { DISK_PATHS, diskRow, parseDiskUse, type DiskUse } from './disk.ts';
import { parseQuotaUse, QUOTA_USE_SCRIPT, quotaRow, type QuotaUse } from './quota.ts';
import { rateLimiterProbeScript, rateLimiterRow } from './sending-limits.ts';
import { REPLICATOR, REPLICATOR_USERS, SYNC_FAILED } from '../dovecot/replicator-status.ts';
import { dhcpHaState, dhcpHaVerdict, KEA_CONTROL_PATH, type DhcpHaState } from '../dhcp/ha-state.ts';
import { dkimText, dmarcText, spfText, txtFromDig, type MailAuthSite } from './mail-auth.ts';
import { presentAccounts, type Account, type SchoolVars } from './school.ts';
import {
  parseProbeOutput,
  probeInput,
  SERVICE_PROBE_PATH,
  userServiceChecks,
  type ProbeCheck,
  type ProbeResult,
} from './service-probe.ts';

/**
 * Seconds each service probe of `play verify` has for all of its steps: what a user waits for at most (an SMTP
 * banner held longer than this is a stall, whatever the cause).
 */
export const PROBE_TIMEOUT = 2;

/** A message older than this in postfix's queue means deliveries are failing (they are retried every 10 s). */
export const MAIL_QUEUE_MAX_AGE = 120;

/** A certificate closer to its end than this many days is a failed check (time to renew). */
export const CERTIFICATE_MIN_DAYS = 21;

/** What one server says about itself, read in one command. */
export interface ServerState {
  readonly holdsVip: boolean;
  readonly keepalived: string;
  readonly vrrpState: string;
  readonly replicationQueue: Record<string, number>;
  readonly replicationFailedUsers: string[];
  /** Postfix's queue: how many messages and the oldest one's age in seconds (undefined: postqueue failed). */
  readonly mailQueue?: { count: number; oldestSeconds: number };
  readonly serial: string;
  /** Kea's HA relationship as its `status-get` says (read through the dhcp role's `kea-control`). */
  readonly dhcpHa: DhcpHaState;
  readonly certificateEnd: string;
  readonly certificateDays: number;
  readonly certificateFingerprint: string;
  /** The mail authentication records this server's DNS serves (TXT texts; empty when missing). */
  readonly spf: string;
  readonly dmarc: string;
  readonly dkim: string;
  /** What the backup helper says of its last runs (`play-backup status`); undefined when it did not answer. */
  readonly backup?: BackupStatus;
  /** The use of each filesystem a school server fills. */
  readonly disks: DiskUse[];
  /** Each account's mailbox use against its quota. */
  readonly quotas: QuotaUse[];
  /** What policyd-rate-limit answered a request it counts nowhere (or why it did not). */
  readonly rateLimiter: string;
  /** What MariaDB's replica of the peer says (Roundcube's data); undefined when none is configured. */
  readonly webmailData?: ReplicaStatus;
  /** Roundcube's users and their ids on this server (`name@host` → id). */
  readonly webmailUsers: ReadonlyMap<string, string>;
}

/** The vars of a server the health check reads: the school's own (one declaration, {@link SchoolVars}) and more. */
type SchoolHostVars = Pick<SchoolVars, 'vip' | 'lanInterface' | 'lanAddress' | 'domain'> & {
  accounts: Account[];
  transitionsLog?: string;
  peerAddress?: string;
  dkimKey?: Secret;
  dkimSelector?: string;
};

/**
 * Seconds any one command of the state script may take: a service that hangs (postfix frozen, Dovecot's
 * replicator stuck) must make its row fail, never `play verify` wait.
 */
export const STATE_COMMAND_TIMEOUT = 5;

/** The read-only script that prints a server's state as `key=value` lines. */
export function stateScript(
  vars: Pick<SchoolHostVars, 'vip' | 'lanInterface' | 'domain' | 'transitionsLog' | 'dkimSelector'>,
) {
  const log = vars.transitionsLog ?? '/var/log/keepalived-transitions.log';
  const certificate = tlsCertificatePath(vars.domain);
  return sh`
vip=${vars.vip}; iface=${vars.lanInterface}; domain=${vars.domain}; log=${log}; certificate=${certificate}; selector=${vars.dkimSelector ?? 'mail'}
t="timeout -k 1 ${STATE_COMMAND_TIMEOUT}"
ip -4 -o addr show dev "$iface" | grep -q " $vip/" && echo holds_vip=yes || echo holds_vip=no
echo "keepalived=$($t systemctl is-active keepalived)"
echo "vrrp_state=$(tail -n 1 "$log" 2>/dev/null | awk '{print $5}')"
$t ${raw(REPLICATOR)} status 2>/dev/null | awk -F"'" '/requests/ { w = tolower($1); gsub(/ /, "", w); k = $2; gsub(/ /, "_", k); n = split($3, a, " "); print "queue_" w "_" k "=" a[n] }'
echo "failed_users=$($t ${raw(REPLICATOR_USERS)} | awk '${raw(SYNC_FAILED)} { printf "%s ", $1 }')"
if queue=$($t postqueue -j 2>/dev/null); then
  printf '%s\n' "$queue" | awk -v now="$(date +%s)" 'match($0, /"arrival_time": *[0-9]+/) { t = substr($0, RSTART, RLENGTH); sub(/.*: */, "", t); n++; if (now - t > oldest) oldest = now - t } END { print "mail_queue=" n + 0 " " oldest + 0 }'
fi
echo "serial=$(dig +short +time=2 +tries=1 SOA "$domain" @127.0.0.1 | awk '{print $3}')"
echo "txt_spf=$(dig +short +time=2 +tries=1 TXT "$domain" @127.0.0.1 | grep 'v=spf1' | head -n 1)"
echo "txt_dmarc=$(dig +short +time=2 +tries=1 TXT "_dmarc.$domain" @127.0.0.1 | head -n 1)"
echo "txt_dkim=$(dig +short +time=2 +tries=1 TXT "$selector._domainkey.$domain" @127.0.0.1 | head -n 1)"
kea=${KEA_CONTROL_PATH}
if [ -x "$kea" ]; then
  ha=$($t "$kea" ha-status 2>/dev/null)
  printf '%s\n' "$ha"
  [ -n "$ha" ] || echo "dhcp_ha_error=no answer from $kea within ${STATE_COMMAND_TIMEOUT} s"
else
  echo "dhcp_ha_error=$kea is missing (is the dhcp role deployed?)"
fi
end=$(openssl x509 -enddate -noout -in "$certificate" 2>/dev/null | cut -d= -f2)
echo "certificate_end=$end"
if [ -n "$end" ]; then echo "certificate_days=$(( ($(date -d "$end" +%s) - $(date +%s)) / 86400 ))"; fi
echo "certificate_fingerprint=$(openssl x509 -noout -fingerprint -sha256 -in "$certificate" 2>/dev/null | cut -d= -f2)"
echo "backup=$($t ${BACKUP_HELPER} status 2>/dev/null | tr -d '\n')"
echo "disk=$($t df -P -B1 ${DISK_PATHS} 2>/dev/null | awk 'NR > 1 { print $6 " " $5 " " $4 ";" }' | tr -d '\n')"
echo "quota=$($t ${raw(QUOTA_USE_SCRIPT)})"
echo "rate_limiter=$($t ${raw(rateLimiterProbeScript())} 2>&1 | head -n 1)"
echo "webmail_data=$($t ${raw(REPLICA_STATUS_SCRIPT)})"
echo "webmail_users=$($t ${raw(WEBMAIL_USERS_SCRIPT)})"
`;
}

/** `COUNT OLDEST_SECONDS`, as the state script prints postfix's queue. */
function mailQueueOf(value: string): ServerState['mailQueue'] {
  const [count, oldestSeconds] = value.split(' ').map(Number);
  return { count, oldestSeconds };
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
    replicationQueue: Object.fromEntries(
      [...values].filter(([k]) => k.startsWith('queue_')).map(([k, v]) => [k.slice('queue_'.length), Number(v)]),
    ),
    replicationFailedUsers: get('failed_users').split(' ').filter(Boolean),
    mailQueue: values.has('mail_queue') ? mailQueueOf(get('mail_queue')) : undefined,
    serial: get('serial'),
    dhcpHa: dhcpHaState(get),
    certificateEnd: get('certificate_end'),
    certificateDays: values.has('certificate_days') ? Number(get('certificate_days')) : Number.NaN,
    certificateFingerprint: get('certificate_fingerprint'),
    spf: txtFromDig(get('txt_spf')),
    dmarc: txtFromDig(get('txt_dmarc')),
    dkim: txtFromDig(get('txt_dkim')),
    backup: parseBackupStatus(get('backup')),
    disks: parseDiskUse(get('disk')),
    quotas: parseQuotaUse(get('quota')),
    rateLimiter: get('rate_limiter'),
    webmailData: parseReplicaStatus(get('webmail_data')),
    webmailUsers: parseWebmailUsers(get('webmail_users')),
  };
}

/** What the zone must say for the school's mail to be believed (see mail-auth.ts), or undefined for a record not wanted. */
export interface ExpectedMailAuth {
  readonly spf: string;
  readonly dmarc: string;
  readonly dkim?: string;
}

/** The mail authentication records a server of this school must serve. */
export function expectedMailAuth(
  vars: Pick<SchoolHostVars, 'domain' | 'vip' | 'lanAddress' | 'peerAddress' | 'dkimKey' | 'dkimSelector'> & {
    haRole?: string;
  },
): ExpectedMailAuth {
  const [primary, backup] =
    vars.haRole === 'backup' ? [vars.peerAddress, vars.lanAddress] : [vars.lanAddress, vars.peerAddress];
  const site: MailAuthSite = {
    domain: vars.domain,
    senders: [primary, backup, vars.vip].filter((a): a is string => !!a),
    dkimSelector: vars.dkimSelector ?? 'mail',
  };
  return {
    spf: spfText(site),
    dmarc: dmarcText(site),
    dkim: vars.dkimKey ? dkimText(vars.dkimKey.reveal()) : undefined,
  };
}

/** The rows of a server's mail authentication records: each must be what the school's keys and addresses give. */
export function mailAuthRows(host: string, state: ServerState, expected: ExpectedMailAuth): HealthRow[] {
  const row = (check: string, found: string, wanted: string | undefined, name: string): HealthRow | undefined => {
    if (wanted === undefined) return undefined;
    if (found === wanted)
      return {
        check,
        host,
        ok: true,
        detail: check === 'dkim' ? `${name}: the signing key's public half` : `${name}: ${found}`,
      };
    return { check, host, ok: false, detail: found ? `${name} differs: ${found.slice(0, 80)}` : `${name}: no record` };
  };
  return [
    row('spf', state.spf, expected.spf, 'TXT'),
    row('dmarc', state.dmarc, expected.dmarc, 'TXT _dmarc'),
    row('dkim', state.dkim, expected.dkim, 'TXT _domainkey'),
  ].filter((r): r is HealthRow => r !== undefined);
}

/**
 * The rows of one server: keepalived, replication, its mail queue, DHCP HA, its certificate. All but the
 * certificate are state the pair shares, left out of the health gate between serial batches.
 */
export function serverRows(host: string, state: ServerState): HealthRow[] {
  return serverStateRows(host, state).map((r) => (r.check === 'certificate' ? r : { ...r, gate: false }));
}

function serverStateRows(host: string, state: ServerState): HealthRow[] {
  const queued = Object.entries(state.replicationQueue);
  const waiting = queued.filter(([, n]) => n > 0).map(([k, n]) => `${k.replaceAll('_', ' ')} ${n}`);
  const failedQueue = queued.filter(([k, n]) => k.includes('failed') && n > 0);
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
          : [
              waiting.length ? `queued: ${waiting.join(', ')}` : 'queue empty',
              state.replicationFailedUsers.length
                ? `failed: ${state.replicationFailedUsers.join(' ')}`
                : 'no failed user',
            ].join('; '),
    },
    mailQueueRow(host, state.mailQueue),
    backupRow(host, state.backup),
    diskRow(host, state.disks),
    quotaRow(host, state.quotas),
    rateLimiterRow(host, state.rateLimiter),
    replicaRow(host, state.webmailData),
    { check: 'dhcp ha', host, ...dhcpHaVerdict(state.dhcpHa) },
    {
      check: 'certificate',
      host,
      ok: state.certificateDays >= CERTIFICATE_MIN_DAYS,
      detail: state.certificateEnd
        ? `expires ${state.certificateEnd} (${state.certificateDays} days)`
        : 'no certificate',
    },
  ];
}

/** Postfix's queue: fine while nothing in it has waited longer than {@link MAIL_QUEUE_MAX_AGE} seconds. */
function mailQueueRow(host: string, queue: ServerState['mailQueue']): HealthRow {
  const check = 'mail queue';
  if (!queue)
    return {
      check,
      host,
      ok: false,
      detail: `postqueue -j failed or took over ${STATE_COMMAND_TIMEOUT} s: is postfix running?`,
    };
  if (queue.count === 0) return { check, host, ok: true, detail: 'empty' };
  const detail = `${queue.count} message${queue.count === 1 ? '' : 's'}, the oldest ${queue.oldestSeconds} s old`;
  return {
    check,
    host,
    ok: queue.oldestSeconds <= MAIL_QUEUE_MAX_AGE,
    detail: queue.oldestSeconds <= MAIL_QUEUE_MAX_AGE ? detail : `${detail}: deliveries are failing (postqueue -p)`,
  };
}

/** The rows about the pair: exactly one VIP holder, equal zone serials, the same certificate on both (not gated). */
export function pairRows(states: ReadonlyMap<string, ServerState>): HealthRow[] {
  const entries = [...states];
  const holders = entries.filter(([, s]) => s.holdsVip).map(([h]) => h);
  const serials = new Set(entries.map(([, s]) => s.serial));
  const fingerprints = new Set(entries.map(([, s]) => s.certificateFingerprint));
  return [
    {
      check: 'vip holder',
      gate: false,
      ok: holders.length === 1,
      detail: holders.length === 0 ? 'nobody holds the VIP' : holders.join(' and '),
    },
    {
      check: 'zone serial',
      gate: false,
      ok: entries.length > 0 && serials.size === 1 && !serials.has(''),
      detail: entries.map(([h, s]) => `${h} ${s.serial || 'none'}`).join(', '),
    },
    ...(entries.length > 1 ? [webmailUsersRow(new Map(entries.map(([h, s]) => [h, s.webmailUsers])))] : []),
    {
      check: 'same certificate',
      gate: false,
      ok: entries.length > 0 && fingerprints.size === 1 && !fingerprints.has(''),
      detail: fingerprints.size === 1 ? 'on every server' : 'differs between servers',
    },
  ];
}

/**
 * The probes one server makes, each with {@link PROBE_TIMEOUT} seconds: every service a user relies on at its own
 * address and at the VIP (an IMAPS login with the first present account that has a password), and a DHCP
 * discover on the LAN that waits for an offer from each of the `servers`.
 */
export function serverProbeChecks(
  vars: Pick<SchoolHostVars, 'vip' | 'lanInterface' | 'lanAddress' | 'domain' | 'accounts'>,
  servers: number,
): ProbeCheck[] {
  const account = presentAccounts(vars.accounts).find((a) => a.password !== undefined);
  const options = {
    domain: vars.domain,
    login: account ? { user: account.name, password: account.password as Secret } : undefined,
  };
  return [
    ...userServiceChecks(vars.lanAddress, options),
    ...userServiceChecks(vars.vip, options),
    { kind: 'dhcp', label: 'dhcp offer', interface: vars.lanInterface, servers },
  ];
}

const shown = (r: ProbeResult) => `${r.detail} (${Math.round(r.ms)} ms)`;
const named = (r: ProbeResult) => `${r.host}:${r.port} ${shown(r)}`;

/**
 * The rows of what the servers' probes found. Per server: each service at its own address (a failure names the
 * address and port, and the step that failed). For the pair, one `dhcp offer` row: who offered an address.
 * Per service at the VIP, one row for all servers that looked: fine only when every one of them got an answer.
 */
export function probeRows(
  servers: readonly { name: string; lanAddress: string }[],
  vip: string,
  found: ReadonlyMap<string, readonly ProbeResult[]>,
): HealthRow[] {
  const rows: HealthRow[] = [];
  for (const server of servers) {
    for (const r of found.get(server.name) ?? []) {
      if (r.kind !== 'dhcp' && r.host === server.lanAddress)
        rows.push({ check: r.label ?? r.kind, host: server.name, ok: r.ok, detail: r.ok ? shown(r) : named(r) });
    }
  }
  if (found.size > 0) rows.push(dhcpOfferRow(servers, found));
  const atVip = [...found].flatMap(([viewer, results]) =>
    results.filter((r) => r.kind !== 'dhcp' && r.host === vip).map((r) => ({ viewer, r })),
  );
  for (const check of [...new Set(atVip.map(({ r }) => r.label ?? r.kind))]) {
    const views = atVip.filter(({ r }) => (r.label ?? r.kind) === check);
    const ok = views.every(({ r }) => r.ok);
    const detail = ok
      ? `${views[0].r.detail} (${views.map(({ viewer, r }) => `${Math.round(r.ms)} ms from ${viewer}`).join(', ')})`
      : views.map(({ viewer, r }) => `from ${viewer}: ${r.ok ? `ok (${Math.round(r.ms)} ms)` : named(r)}`).join('; ');
    rows.push({ check, host: 'vip', ok, detail });
  }
  return rows;
}

/**
 * The pair's DHCP row: a DISCOVER from every server, and which servers offered an address. In hot-standby only
 * one server answers (the primary, or the standby once it has taken over), so one offer is what a healthy pair
 * gives; which one served is shown, and whether both servers are in their normal state is the `dhcp ha` rows'.
 */
function dhcpOfferRow(
  servers: readonly { name: string; lanAddress: string }[],
  found: ReadonlyMap<string, readonly ProbeResult[]>,
): HealthRow {
  const offers = [...found].flatMap(([viewer, results]) =>
    results.filter((r) => r.kind === 'dhcp').flatMap((r) => (r.offers ?? []).map((o) => ({ viewer, ...o }))),
  );
  const nameOf = (address: string) => servers.find((s) => s.lanAddress === address)?.name ?? address;
  const byServer = [...new Set(offers.map((o) => o.server))].map((server) => {
    const seen = offers.filter((o) => o.server === server);
    return `${seen[0].address} from ${nameOf(server)} (seen from ${[...new Set(seen.map((o) => o.viewer))].join(', ')})`;
  });
  return {
    check: 'dhcp offer',
    // A pair not yet both deployed, or settling after a fault, may answer late: shown, never a gate.
    gate: false,
    ok: offers.length > 0,
    detail:
      offers.length > 0
        ? `offers ${byServer.join('; ')}`
        : `no offer (DHCPDISCOVER from ${[...found.keys()].join(', ')})`,
  };
}

/**
 * `play verify site`: the school's pair of servers as its users depend on it. Each reachable server reports its
 * state (one command) and probes the services at the protocol level (the service probe, with the login's
 * password on stdin): itself, the VIP, and DHCP on the LAN. Returns the pair's rows, then each server's, then
 * the VIP's.
 */
export const schoolHealth: HealthCheck = async (hosts: readonly HealthHost[]) => {
  const states = new Map<string, ServerState>();
  const probes = new Map<string, ProbeResult[]>();
  const failures: HealthRow[] = [];
  const reachable = hosts.filter((h) => h.reachable);
  await Promise.all(
    reachable.flatMap((h) => {
      const vars = h.vars as unknown as SchoolHostVars;
      const state = h.exec(stateScript(vars)).then((result) => {
        if (result.exitCode !== 0)
          failures.push({
            check: 'state',
            host: h.name,
            ok: false,
            detail: `reading the state failed (exit ${result.exitCode}): ${result.stderr.trim()}`,
          });
        else states.set(h.name, parseServerState(result.stdout));
      });
      const probe = h
        .exec(sh`python3 -I ${SERVICE_PROBE_PATH}`, {
          stdin: probeInput({ timeout: PROBE_TIMEOUT, checks: serverProbeChecks(vars, hosts.length) }),
        })
        .then((result) => {
          try {
            if (result.exitCode !== 0 && result.exitCode !== 1)
              throw new Error(result.stderr.trim() || `exit ${result.exitCode}`);
            probes.set(h.name, parseProbeOutput(result.stdout));
          } catch (error) {
            failures.push({
              check: 'service probe',
              host: h.name,
              ok: false,
              detail: `${SERVICE_PROBE_PATH} did not run (is the site deployed?): ${(error as Error).message}`,
            });
          }
        });
      return [state, probe];
    }),
  );
  const inOrder = <T>(found: Map<string, T>) =>
    new Map(
      hosts.flatMap((h): [string, T][] => {
        const value = found.get(h.name);
        return value === undefined ? [] : [[h.name, value]];
      }),
    );
  const servers = hosts.map((h) => ({ name: h.name, lanAddress: String(h.vars.lanAddress) }));
  const serverProbeRows = probeRows(servers, String(hosts[0]?.vars.vip), inOrder(probes));
  return [
    ...pairRows(inOrder(states)),
    ...serverProbeRows.filter((r) => r.host === undefined),
    ...failures,
    ...hosts.flatMap((h) => {
      const state = states.get(h.name);
      return [
        ...(state ? serverRows(h.name, state) : []),
        ...(state ? mailAuthRows(h.name, state, expectedMailAuth(h.vars as unknown as SchoolHostVars)) : []),
        ...serverProbeRows.filter((r) => r.host === h.name),
      ];
    }),
    ...serverProbeRows.filter((r) => r.host === 'vip'),
  ];
};
