import { dirname } from 'node:path';
import { configSet, copy, defineRole, directory, packages, service, sh } from 'play';
import { type ShellCommand, type Static, Type } from 'play';
import { checkSchoolVars, SchoolVars } from '../common/school.ts';
import { REPLICATE_ALL, REPLICATOR_USERS, SYNC_FAILED } from '../dovecot/replicator-status.ts';
import { SERVICE_PROBE_PATH, SERVICE_PROBE_SOURCE, type ProbeCheck } from '../common/service-probe.ts';

/** Where keepalived's configuration and its scripts live (root-owned, as `enable_script_security` requires). */
export const KEEPALIVED_DIR = '/etc/keepalived';

/** The track script: exits 0 only when every tracked service answers on this server, at the protocol level. */
export const CHECK_SCRIPT = `${KEEPALIVED_DIR}/check-services.sh`;

/** The folder of the service probe (root's, like every script keepalived runs). */
const SERVICE_PROBE_DIR = dirname(SERVICE_PROBE_PATH);

/** keepalived's configuration. */
export const KEEPALIVED_CONF = `${KEEPALIVED_DIR}/keepalived.conf`;

/** The notify script: logs every state change of the VRRP instance. */
export const NOTIFY_SCRIPT = `${KEEPALIVED_DIR}/notify.sh`;

/** Where the notify script keeps the instance's current state and since when (`BACKUP 1764280000`). */
export const STATE_FILE = '/run/keepalived-school/state';

/**
 * keepalived runs with its VRRP process (the child of its main process that sends and hears adverts; Debian runs it
 * with --dont-fork, so there is no pid file of its own), and its notify script has recorded the instance's state:
 * it read the configuration and started the instance.
 */
export const KEEPALIVED_RUNNING_PROBE: ShellCommand = sh`main=$(systemctl show -p MainPID --value keepalived) && [ "$main" -gt 0 ] 2>/dev/null && pgrep -P "$main" -x keepalived >/dev/null && grep -Eq '^(MASTER|BACKUP|FAULT) ' ${STATE_FILE}`;

/** The primary's replication gate (with `holdForReplication`): passes once its mailboxes are caught up. */
export const REPLICATION_GATE_SCRIPT = `${KEEPALIVED_DIR}/replication-caught-up.sh`;

/**
 * A service the track script checks on 127.0.0.1, the way its users see it (roles/common/files/service-probe.py):
 * `smtp` a 220 banner and EHLO, `imap` the greeting and CAPABILITY, `https` status 200 (and `expect` in the page),
 * `banner` the first line (starting with `expect`, e.g. `SSH-2.0-`). A TCP connect proves nothing: a postfix
 * whose smtpd hangs before its banner still accepts connections.
 */
export const TrackedService = Type.Object(
  {
    name: Type.String({ pattern: '^[a-z0-9][a-z0-9_.-]{0,31}$', description: 'a name for the log, e.g. smtp' }),
    port: Type.Integer({ minimum: 1, maximum: 65535 }),
    protocol: Type.Union([Type.Literal('smtp'), Type.Literal('imap'), Type.Literal('https'), Type.Literal('banner')]),
    tls: Type.Optional(Type.Boolean({ description: 'TLS from the first byte (smtps, imaps); https always uses it' })),
    expect: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        description: 'https: text the page must hold; banner: how the first line starts',
      }),
    ),
  },
  { additionalProperties: false },
);
export type TrackedService = Static<typeof TrackedService>;

/** The mail stack's services: Postfix (SMTP), Dovecot (IMAPS) and Apache with the webmail (HTTPS). */
export const MAIL_STACK_SERVICES: TrackedService[] = [
  { name: 'smtp', port: 25, protocol: 'smtp' },
  { name: 'imaps', port: 993, protocol: 'imap', tls: true },
  { name: 'https', port: 443, protocol: 'https' },
];

/**
 * Seconds each tracked service has to answer, all its steps together: the 2 s a user is given by `play verify`
 * (PROBE_TIMEOUT). At 1 s, a lab server starved of CPU by its neighbours answered TLS handshakes on 993 and 443 in
 * 1.02-1.22 s twice in a row: the primary went to FAULT while serving, and the VIP's two moves (away, then back after
 * the preempt delay) cut every session at the VIP twice. A frozen service still fails on this deadline.
 */
export const TRACK_PROBE_TIMEOUT = 2;
/**
 * Seconds keepalived lets one run of the track script take before it counts the run as failed (`timeout`). The
 * probe gives its verdict within TRACK_PROBE_TIMEOUT + 1 s whatever the services do (a frozen one fails on its own
 * deadline), so this only counts a run that the server itself starved (Python not scheduled on a saturated CPU):
 * counted at keepalived's default of interval + 2 s, such a stall put both servers in FAULT at once in the lab,
 * and nobody held the VIP.
 */
export const TRACK_SCRIPT_TIMEOUT = TRACK_PROBE_TIMEOUT + 1 + 5;
/**
 * The SCHED_RR priority of keepalived's VRRP process (`vrrp_rt_priority`): adverts leave on time on a loaded
 * server, so a busy master is never mistaken for a dead one. Its track and notify scripts keep normal scheduling.
 */
export const VRRP_REALTIME_PRIORITY = 50;

/** The probe's checks for the tracked services, on 127.0.0.1 (HTTPS asks for the mail host by name). */
export function trackChecks(services: readonly TrackedService[], mailHost: string): ProbeCheck[] {
  return services.map((s): ProbeCheck => {
    const common = { label: `${s.name} ${s.port}`, host: '127.0.0.1', port: s.port };
    if (s.protocol === 'https')
      return { kind: 'https', ...common, servername: mailHost, path: '/', ...(s.expect ? { expect: s.expect } : {}) };
    if (s.protocol === 'banner') return { kind: 'banner', ...common, ...(s.expect ? { expect: s.expect } : {}) };
    return { kind: s.protocol, ...common, ...(s.tls ? { tls: true } : {}) };
  });
}

/**
 * keepalived (2.2.7, Debian 12) holding the school's VIP on the LAN interface: one VRRPv3 instance with
 * sub-second adverts between unicast peers (`check_unicast_src`: adverts from anyone but the peer are dropped),
 * the primary preferred (higher priority, preemption after `preemptDelay`), a track script that puts the
 * instance in FAULT (and so moves the VIP) when a tracked service stops answering, and a notify script that logs
 * every transition. No VRRP authentication: VRRPv3 has none (see the role's README).
 */
export default defineRole({
  name: 'keepalived',
  dir: import.meta.dirname,
  schema: Type.Composite([
    SchoolVars,
    Type.Object({
      virtualRouterId: Type.Integer({ minimum: 1, maximum: 255, description: 'the VRRP VRID, unique on the LAN' }),
      primaryPriority: Type.Integer({ minimum: 1, maximum: 254 }),
      backupPriority: Type.Integer({ minimum: 1, maximum: 254 }),
      advertInterval: Type.Number({
        minimum: 0.01,
        maximum: 40.95,
        description: 'seconds between adverts (VRRPv3: centiseconds allowed)',
      }),
      preempt: Type.Boolean({
        description: 'a returning primary takes the VIP back (after preemptDelay); false renders nopreempt',
      }),
      preemptDelay: Type.Integer({
        minimum: 0,
        maximum: 1000,
        description: 'seconds a returning primary waits before taking the VIP back',
      }),
      trackServices: Type.Array(TrackedService, {
        description: 'services that must answer on 127.0.0.1, at the protocol level, for this server to hold the VIP',
      }),
      trackInterval: Type.Integer({ minimum: 1, maximum: 60 }),
      trackFall: Type.Integer({ minimum: 1, maximum: 20 }),
      trackRise: Type.Integer({ minimum: 1, maximum: 20 }),
      transitionsLog: Type.String({
        pattern: '^/[A-Za-z0-9_./-]+$',
        description: 'the file every state change is appended to',
      }),
      holdForReplication: Type.Boolean({
        description:
          "a returning primary takes the VIP back only once its mailboxes are synced (needs the dovecot role's replication)",
      }),
    }),
  ]),
  defaults: {
    virtualRouterId: 51,
    primaryPriority: 150,
    backupPriority: 100,
    advertInterval: 0.3,
    preempt: true,
    preemptDelay: 15,
    trackServices: MAIL_STACK_SERVICES,
    trackInterval: 1,
    // Three failed checks in a row before FAULT: a stopped service moves the VIP within about 3 s, a frozen one
    // (each check waits out the 2 s deadline) within about 7 s; one slow answer never does.
    trackFall: 3,
    trackRise: 2,
    transitionsLog: '/var/log/keepalived-transitions.log',
    holdForReplication: false,
  },
  check: (vars) => {
    const issues = checkSchoolVars(vars);
    if (vars.primaryPriority <= vars.backupPriority) {
      issues.push({
        path: 'vars.primaryPriority',
        message: `must be above backupPriority (${vars.backupPriority}) so that the primary is preferred`,
      });
    }
    if (Math.abs(Math.round(vars.advertInterval * 100) - vars.advertInterval * 100) > 1e-6) {
      issues.push({ path: 'vars.advertInterval', message: 'VRRPv3 counts in centiseconds: give at most two decimals' });
    }
    const names = vars.trackServices.map((s) => s.name);
    names.forEach((name, index) => {
      if (names.indexOf(name) !== index)
        issues.push({ path: `vars.trackServices.${index}.name`, message: `${name} is listed twice` });
    });
    return issues;
  },
  tasks: ({ vars }) => {
    const priority = vars.haRole === 'primary' ? vars.primaryPriority : vars.backupPriority;
    const prefix = vars.lanNetwork.split('/')[1];
    // Only the primary is gated: its failing gate puts it just below the backup.
    const replicationGate = vars.holdForReplication && vars.haRole === 'primary';
    const gateWeight = vars.primaryPriority - vars.backupPriority + 10;
    const scripts = {
      stateFile: STATE_FILE,
      holdForReplication: vars.holdForReplication,
      resyncSeconds: 10,
      replicatorUsers: REPLICATOR_USERS,
      syncFailed: SYNC_FAILED,
      replicateAll: REPLICATE_ALL,
    };
    return [
      // Without recommends: ipvsadm is for IPVS, which play does not use; glib's MIME data neither.
      packages({ names: ['keepalived', 'python3'], installRecommends: false }),
      directory({ path: KEEPALIVED_DIR, owner: 'root', group: 'root', mode: '0755' }),
      directory({ path: SERVICE_PROBE_DIR, owner: 'root', group: 'root', mode: '0755' }),
      copy({
        src: SERVICE_PROBE_SOURCE,
        dest: SERVICE_PROBE_PATH,
        owner: 'root',
        group: 'root',
        mode: '0755',
        validate: (path) => sh`python3 -c 'import ast, sys; ast.parse(open(sys.argv[1]).read())' ${path}`,
      }),
      // The configuration and the scripts it runs are one set: checked in place (keepalived.conf names the scripts by
      // their absolute paths, and `keepalived -t` refuses one that is missing or not root's), each script's syntax
      // too; then keepalived reloads (SIGHUP: it rereads its configuration and keeps the VIP where it is) and the set
      // is rolled back if keepalived does not come back with its VRRP instance.
      configSet({
        tree: KEEPALIVED_DIR,
        files: [
          {
            path: CHECK_SCRIPT,
            src: 'check-services.sh.ejs',
            owner: 'root',
            group: 'root',
            mode: '0755',
            vars: {
              probePath: SERVICE_PROBE_PATH,
              timeout: TRACK_PROBE_TIMEOUT,
              request: JSON.stringify({
                timeout: TRACK_PROBE_TIMEOUT,
                syslog: 'keepalived-check',
                checks: trackChecks(vars.trackServices, `mail.${vars.domain}`),
              }),
            },
          },
          { path: NOTIFY_SCRIPT, src: 'notify.sh.ejs', owner: 'root', group: 'root', mode: '0755', vars: scripts },
          ...(vars.holdForReplication
            ? [
                {
                  path: REPLICATION_GATE_SCRIPT,
                  src: 'replication-caught-up.sh.ejs',
                  owner: 'root',
                  group: 'root',
                  mode: '0755',
                  vars: scripts,
                },
              ]
            : []),
          {
            path: KEEPALIVED_CONF,
            src: 'keepalived.conf.ejs',
            owner: 'root',
            group: 'root',
            mode: '0640',
            vars: {
              priority,
              prefix,
              realtimePriority: VRRP_REALTIME_PRIORITY,
              trackTimeout: TRACK_SCRIPT_TIMEOUT,
              checkScript: CHECK_SCRIPT,
              notifyScript: NOTIFY_SCRIPT,
              replicationGate,
              gateScript: REPLICATION_GATE_SCRIPT,
              gateWeight,
            },
          },
        ],
        checkInPlace: true,
        // keepalived's own checker: syntax, VRID, scripts present and secure, and (exit 5) the mistakes it would
        // otherwise only log and "ignore", such as authentication with VRRPv3.
        validate: (dir) =>
          sh`bash -n ${`${dir}/check-services.sh`} && sh -n ${`${dir}/notify.sh`} && { [ ! -e ${`${dir}/replication-caught-up.sh`} ] || bash -n ${`${dir}/replication-caught-up.sh`}; } && keepalived --config-test -f ${`${dir}/keepalived.conf`}`,
        activate: sh`systemctl reload-or-restart keepalived`,
        restore: sh`systemctl reload-or-restart keepalived`,
        health: KEEPALIVED_RUNNING_PROBE,
        healthSeconds: 10,
      }),
      service({ name: 'keepalived', state: 'started', enabled: true }),
    ];
  },
});
