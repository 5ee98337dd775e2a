import { command, configSet, copy, defineRole, directory, file, group, packages, service, template } from 'play';
import { type Platform, raw, type Secret, SecretType, sh, type ShellCommand, type Task, Type } from 'play';
import { certificateProblems } from 'play/vault';
import { SCHOOL_RELEASES } from '../common/releases.ts';
import { Account, Ipv4, presentAccounts, QUOTA_PATTERN, SchoolVars } from '../common/school.ts';
import { AUTH_SOCKET, LMTP_SOCKET, QUEUE_DIRECTORY, QUOTA_STATUS_SOCKET, postfixPackage } from '../postfix/index.ts';
import { TLS12_CIPHERS, tlsCertificatePath, tlsKeyPath } from '../tls/index.ts';
import { homeOf } from '../users/index.ts';
import { seedMailboxes } from './mailbox-identity.ts';
import { certificateAndKeyFiles } from '../common/certificate-files.ts';
import { peerFirewallTasks } from '../common/peer-firewall.ts';
import { dirname } from 'node:path';
import {
  ANY_SYNC_FAILED,
  MAILSYNC,
  REPLICATE_ALL,
  REPLICATOR,
  REPLICATOR_USERS,
  SYNC_FAILED,
  systemdShell,
} from './replicator-status.ts';

/** Dovecot's configuration folder: the tree its config set stages whole. */
export const DOVECOT_DIR = '/etc/dovecot';

/** IMAP on loopback port 143 greets with `* OK` (Dovecot answers logins). */
export const IMAP_GREETING_PROBE: ShellCommand = sh`timeout 3 bash -c 'exec 3<>/dev/tcp/127.0.0.1/143 && IFS= read -r greeting <&3 && [[ $greeting == "* OK"* ]]'`;

/** Dovecot's list of the school's users (a passwd-file without passwords): the only users it knows. */
export const USER_LIST = '/etc/dovecot/users';

/**
 * The hidden folder lazy_expunge moves expunged mail to (no dot: with the Maildir++ layout a leading dot is the
 * hierarchy separator Dovecot 2.4 refuses), and Dovecot 2.3's global ACL file that hides it (2.4 sets the ACL in
 * dovecot.conf).
 */
export const EXPUNGED_MAILBOX = 'EXPUNGED';
export const EXPUNGED_ACL = '/etc/dovecot/dovecot-acl';

/** What a sender is told for a full mailbox: permanent, so they learn at once (RFC 3463: 5.2.2 mailbox full). */
export const OVER_QUOTA_REPLY = '552 5.2.2 Mailbox is full';

/** The replication secret (`doveadm_password`), in a file only root reads; dovecot.conf includes it. */
export const REPLICATION_SECRET = '/etc/dovecot/doveadm-secret.conf';

/**
 * The replication certificate and its key: one self-signed certificate naming both servers' LAN addresses,
 * presented by each server (as the doveadm server, and as the client its replicator connects with) and the only
 * certificate each trusts for replication. A peer must prove it holds the key; a third device on the LAN cannot.
 */
export const REPLICATION_TLS_DIRECTORY = '/etc/dovecot/replication';
export const REPLICATION_CERTIFICATE = `${REPLICATION_TLS_DIRECTORY}/certificate.pem`;
export const REPLICATION_KEY = `${REPLICATION_TLS_DIRECTORY}/key.pem`;

/** The nftables table that closes the replication port to all but the peer, and the unit that loads it. */
export const REPLICATION_FIREWALL = '/etc/dovecot/replication-firewall.nft';
export const REPLICATION_FIREWALL_UNIT = 'dovecot-replication-firewall.service';

/**
 * The timer that retries failed syncs every {@link REPLICATION_RETRY_SECONDS} s: Dovecot's replicator waits 5
 * minutes after a failure, so a peer that comes back (or is deployed after this server) would stay out of step,
 * and `play verify` unhealthy, that long.
 */
export const REPLICATION_RETRY_UNIT = 'dovecot-replication-retry.service';
export const REPLICATION_RETRY_TIMER = 'dovecot-replication-retry.timer';
export const REPLICATION_RETRY_SECONDS = 30;

/**
 * The systemd drop-in that bounds how long stopping Dovecot (a restart's first half) may take: DOVECOT_STOP_SECONDS,
 * then systemd kills what is left. In the lab a doveadm-server serving the peer's replicator ignored the SIGTERM
 * for as long as systemd let it: a restart then took systemd's default 90 s, with no IMAP on that server all the
 * while. Nothing Dovecot runs needs longer to stop, and a dsync cut short is resumed by the next one.
 */
export const STOP_DROP_IN = '/etc/systemd/system/dovecot.service.d/stop-timeout.conf';
export const DOVECOT_STOP_SECONDS = 10;

/**
 * The kernel's TCP keepalive, so a replication connection whose peer died (a power cut in the middle of a sync)
 * ends within about a minute instead of holding the user's mailbox lock. Dovecot sets SO_KEEPALIVE on its
 * sockets, but Linux first probes an idle one after 2 hours, and a dsync-server waiting on a dead peer gives up
 * only after 10 minutes (Dovecot 2.3's fixed I/O timeout, which the peer's `-T` does not reach). Until then every
 * sync of that user fails on the lock ("Couldn't lock"), and the replication gate keeps the returning primary
 * out. With these values an idle connection is probed after 30 s and declared dead 3 unanswered probes 10 s apart
 * later; a peer that has rebooted answers the first probe with a reset at once.
 */
export const KEEPALIVE_SYSCTL = '/etc/sysctl.d/60-play-replication-keepalive.conf';
export const TCP_KEEPALIVE = { time: 30, intvl: 10, probes: 3 } as const;

/** How long {@link replicationSettled} waits for the failed syncs to succeed. */
export const REPLICATION_SETTLE_SECONDS = 60;

/** The retry unit's shell command: a full sync of every user, only when some user's last sync failed. */
export const RETRY_COMMAND_TEXT = `if ${ANY_SYNC_FAILED}; then ${REPLICATE_ALL}; fi`;
const RETRY_COMMAND = systemdShell(RETRY_COMMAND_TEXT);

/** Passes when the replicator knows the school's users and none of their last syncs failed. */
const NO_FAILED_SYNC = sh`${raw(`${REPLICATOR_USERS} | awk 'NR > 1 { users++ } ${SYNC_FAILED} { failed++ } END { exit !(users > 0 && failed == 0) }'`)}`;

/**
 * A task for the end of a deploy of both servers (the school site's last play): this server's replicator has no
 * failed sync left. A server deployed before its peer could not reach it and holds those syncs as failed until its
 * retry timer comes round (up to REPLICATION_RETRY_SECONDS later): `play verify` right after the deploy would say
 * replication FAIL. Unless none failed, it asks for a full sync now and waits (at most
 * REPLICATION_SETTLE_SECONDS) until none has; failing that, it fails with the replicator's status. A no-op
 * when replication is healthy.
 */
export function replicationSettled(): Task {
  return command({
    name: 'replication with the peer settled (no failed sync)',
    cmd: sh`${raw(REPLICATE_ALL)} >/dev/null
for try in $(seq 1 ${REPLICATION_SETTLE_SECONDS * 2}); do
  ${NO_FAILED_SYNC} && exit 0
  sleep 0.5
done
echo "replication with the peer still has failed syncs after" ${REPLICATION_SETTLE_SECONDS} "s:" >&2
${raw(REPLICATOR)} status '*' >&2
exit 1`,
    unless: NO_FAILED_SYNC,
  });
}

/** The group every mail process gets (`mail_access_groups`) to reach the replication sockets (Dovecot 2.3). */
export const SYNC_GROUP = 'dovecot-sync';

/**
 * What differs between the releases, in one place (the README's table says the same): Dovecot 2.3 on Debian 12
 * replicates with its own replicator; Dovecot 2.4 on Debian 13 has none and its configuration syntax is new, so
 * the role installs play-mailsync and writes the 2.4 template.
 *
 * @example
 * dovecotRelease(DEBIAN_13).template; // 'dovecot-2.4.conf.ejs'
 */
export function dovecotRelease(platform: Platform): {
  readonly version: '2.3' | '2.4';
  readonly template: string;
  readonly replicator: 'dovecot' | 'play-mailsync';
} {
  return platform.major <= 12
    ? { version: '2.3', template: 'dovecot-2.3.conf.ejs', replicator: 'dovecot' }
    : { version: '2.4', template: 'dovecot-2.4.conf.ejs', replicator: 'play-mailsync' };
}

/**
 * The TLS end of the replication port on Dovecot 2.4 (Debian 13): stunnel, under Debian's own stunnel@.service,
 * because 2.4 no longer refuses a client certificate it cannot verify. It accepts only the replication
 * certificate and hands the connection to Dovecot's doveadm server on {@link REPLICATION_BACKEND_SOCKET}.
 */
export const REPLICATION_TLS_CONFIG = '/etc/stunnel/dovecot-replication.conf';
export const REPLICATION_TLS_UNIT = 'stunnel@dovecot-replication.service';
const REPLICATION_TLS_DROP_IN = `/etc/systemd/system/${REPLICATION_TLS_UNIT}.d/play.conf`;
/** Dovecot's doveadm listener behind stunnel (under Dovecot's base_dir): root only, and not 0600, so the secret is still asked. */
export const REPLICATION_BACKEND_SOCKET_NAME = 'replication';
export const REPLICATION_BACKEND_SOCKET = `/run/dovecot/${REPLICATION_BACKEND_SOCKET_NAME}`;

/** play-mailsync's files and units (Debian 13): the daemon is files/play-mailsync.py, installed as {@link MAILSYNC}. */
export const MAILSYNC_CONFIG = '/etc/dovecot/play-mailsync.json';
export const MAILSYNC_UNIT = 'play-mailsync.service';
export const MAILSYNC_RUN_DIRECTORY = '/run/play-mailsync';
export const MAILSYNC_EVENTS_SOCKET = `${MAILSYNC_RUN_DIRECTORY}/events.sock`;
export const MAILSYNC_CONTROL_SOCKET = `${MAILSYNC_RUN_DIRECTORY}/control.sock`;
export const MAILSYNC_STATUS = `${MAILSYNC_RUN_DIRECTORY}/status.json`;
const MAILSYNC_SOCKETS = [
  // Dovecot's stats process (user dovecot) writes the events; only root asks the daemon for its status.
  {
    unit: 'play-mailsync-events.socket',
    name: 'events',
    path: MAILSYNC_EVENTS_SOCKET,
    group: 'dovecot',
    mode: '0660',
    purpose: "Dovecot's event exporter writes every mailbox change to it",
  },
  {
    unit: 'play-mailsync-control.socket',
    name: 'control',
    path: MAILSYNC_CONTROL_SOCKET,
    group: 'root',
    mode: '0600',
    purpose: 'play-mailsync status and replicate ask the daemon through it',
  },
] as const;
const MAILSYNC_SOURCE = new URL('./files/play-mailsync.py', import.meta.url).pathname;

/**
 * Dovecot for the school (2.3 on Debian 12, 2.4 on Debian 13): IMAP on 143 (STARTTLS) and 993 (IMAPS), no login without TLS, TLS 1.2 at
 * least, Maildir in the accounts' homes, LMTP and SASL sockets for postfix, and a user list limited to the
 * school's present accounts (passwords checked through PAM against the hashes the users role stores).
 */
export default defineRole({
  name: 'dovecot',
  dir: import.meta.dirname,
  platforms: SCHOOL_RELEASES,
  schema: Type.Composite([
    Type.Pick(SchoolVars, ['schoolName', 'domain']),
    Type.Object({
      accounts: Type.Array(Account),
      listen: Type.String({ minLength: 1, description: "Dovecot's listen addresses" }),
      maxConnectionsPerUserIp: Type.Integer({ minimum: 1 }),
      mailQuota: Type.String({
        pattern: QUOTA_PATTERN,
        description: "every account's mailbox quota unless the account sets its own (quota), e.g. 2G or 500M",
      }),
      expungedMailDays: Type.Integer({
        minimum: 0,
        maximum: 365,
        description: 'days expunged mail is kept in a hidden folder a restore can take it from (0: off)',
      }),
      replication: Type.Boolean({ description: 'replicate every mailbox with the peer server, both ways' }),
      lanAddress: Type.Optional(Ipv4),
      peerAddress: Type.Optional(Ipv4),
      doveadmPassword: Type.Optional(SecretType()),
      // PEM, self-signed, naming both servers' LAN addresses (IP subjectAltNames): the only one trusted for replication.
      replicationCertificate: Type.Optional(SecretType()),
      replicationKey: Type.Optional(SecretType()),
      replicationPort: Type.Integer({ minimum: 1, maximum: 65535 }),
      replicationSyncTimeout: Type.Integer({
        minimum: 0,
        maximum: 60,
        description: 'seconds a delivery waits for the peer to have the message (0, the default: none; see the README)',
      }),
    }),
  ]),
  defaults: {
    listen: '*, ::',
    maxConnectionsPerUserIp: 20,
    mailQuota: '2G',
    expungedMailDays: 14,
    replication: true,
    replicationPort: 12345,
    replicationSyncTimeout: 0,
  },
  check: (vars, platform) => {
    const issues =
      presentAccounts(vars.accounts).length > 0
        ? []
        : [{ path: 'vars.accounts', message: 'no present account: dovecot would have no user' }];
    if (vars.replicationSyncTimeout > 0 && dovecotRelease(platform).version !== '2.3') {
      issues.push({
        path: 'vars.replicationSyncTimeout',
        message: `Dovecot ${dovecotRelease(platform).version} (Debian ${platform.major}) has no replicator to wait for: leave it 0`,
      });
    }
    if (vars.replication) {
      for (const key of [
        'lanAddress',
        'peerAddress',
        'doveadmPassword',
        'replicationCertificate',
        'replicationKey',
      ] as const) {
        if (vars[key] === undefined)
          issues.push({ path: `vars.${key}`, message: 'is required with replication (or set replication: false)' });
      }
      if (vars.lanAddress !== undefined && vars.lanAddress === vars.peerAddress)
        issues.push({ path: 'vars.peerAddress', message: 'must be the other server, not this one' });
      if (vars.replicationCertificate && vars.replicationKey && vars.lanAddress && vars.peerAddress) {
        const pair = { certificate: vars.replicationCertificate.reveal(), key: vars.replicationKey.reveal() };
        for (const problem of certificateProblems(pair, [vars.lanAddress, vars.peerAddress]))
          issues.push({ path: 'vars.replicationCertificate', message: problem });
      }
    }
    return issues;
  },
  tasks: ({ vars, platform }) => {
    const present = presentAccounts(vars.accounts);
    const release = dovecotRelease(platform);
    const peer = replicationPeer(vars);
    const replication = {
      replicationPort: vars.replicationPort,
      lanAddress: vars.lanAddress,
      firewallPath: REPLICATION_FIREWALL,
      syncGroup: SYNC_GROUP,
      certificatePath: REPLICATION_CERTIFICATE,
      keyPath: REPLICATION_KEY,
    };
    return [
      // In force before any restart below: systemd is reloaded at once unless it already applies the bound
      // (whether the package came before this task, as with the site's packages installed first, or after).
      directory({ path: dirname(STOP_DROP_IN), mode: '0755', owner: 'root', group: 'root' }),
      file({
        path: STOP_DROP_IN,
        content: `# Managed by play (role dovecot): a stop waits at most ${DOVECOT_STOP_SECONDS} s, then systemd kills what is left.\n[Service]\nTimeoutStopSec=${DOVECOT_STOP_SECONDS}s\n`,
        mode: '0644',
        owner: 'root',
        group: 'root',
      }),
      command({
        name: 'systemd applies the stop bound',
        cmd: sh`systemctl daemon-reload`,
        unless: sh`[ "$(systemctl show -p TimeoutStopUSec --value dovecot.service)" = ${`${DOVECOT_STOP_SECONDS}s`} ]`,
      }),
      // Dovecot's LMTP and SASL sockets live in postfix's spool and belong to the postfix user: without postfix
      // installed Dovecot does not start. Installed here with the postfix role's answers, so either role may run first.
      postfixPackage(vars.domain, { taskName: 'package postfix (for the LMTP and SASL sockets)' }),
      packages({ names: ['dovecot-core', 'dovecot-imapd', 'dovecot-lmtpd'] }),
      // Before Dovecot first opens them: every school mailbox starts with the same identity on both servers.
      ...(vars.replication
        ? present.map((a) => seedMailboxes(vars.domain, { name: a.name, maildir: `${homeOf(a.name)}/Maildir` }))
        : []),
      ...(peer
        ? replicationTasks(
            { certificate: peer.certificate, key: peer.key },
            { ...replication, peerAddress: peer.peerAddress },
            release.replicator,
          )
        : []),
      // dovecot.conf, the replication secret it includes and the user list only make sense together: one set,
      // checked as a whole in place (the include names the secret by its absolute path), restarted (a reload when
      // only the user list changed), probed with an IMAP greeting, and rolled back as a whole if Dovecot does not
      // come back on it.
      configSet({
        tree: DOVECOT_DIR,
        files: [
          {
            path: USER_LIST,
            src: 'users.ejs',
            mode: '0644',
            owner: 'root',
            group: 'dovecot',
            vars: {
              accounts: present.map((a) => ({
                name: a.name,
                home: homeOf(a.name),
                // The account's quota, as a userdb field of the release (2.4 names the setting itself); a
                // passwd-file passes on only the extra fields that start with userdb_.
                fields:
                  release.version === '2.3'
                    ? `userdb_quota_rule=*:storage=${a.quota ?? vars.mailQuota}`
                    : `userdb_quota_storage_size=${a.quota ?? vars.mailQuota}`,
              })),
            },
          },
          ...(peer
            ? [
                {
                  path: REPLICATION_SECRET,
                  src: 'doveadm-secret.conf.ejs',
                  mode: '0600',
                  owner: 'root',
                  group: 'root',
                  vars: { doveadmPassword: peer.doveadmPassword },
                },
              ]
            : []),
          ...(vars.expungedMailDays > 0 && release.version === '2.3'
            ? [
                {
                  path: EXPUNGED_ACL,
                  // Every right but lookup: lazy_expunge saves there and autoexpunge empties it; no client lists it.
                  content: `# Managed by play (role dovecot): the expunged mail folder is hidden from its owner.\n${EXPUNGED_MAILBOX} owner rwstipekxa\n`,
                  mode: '0644',
                  owner: 'root',
                  group: 'root',
                },
              ]
            : []),
          {
            path: `${DOVECOT_DIR}/dovecot.conf`,
            src: release.template,
            mode: '0644',
            vars: {
              tlsCertificatePath: tlsCertificatePath(vars.domain),
              tlsKeyPath: tlsKeyPath(vars.domain),
              tls12Ciphers: TLS12_CIPHERS,
              userListPath: USER_LIST,
              lmtpSocket: `${QUEUE_DIRECTORY}/${LMTP_SOCKET}`,
              authSocket: `${QUEUE_DIRECTORY}/${AUTH_SOCKET}`,
              accountNames: present.map((a) => a.name),
              expungedMailDays: vars.expungedMailDays,
              quotaStatusSocket: `${QUEUE_DIRECTORY}/${QUOTA_STATUS_SOCKET}`,
              overQuotaReply: OVER_QUOTA_REPLY,
              expungedMailbox: EXPUNGED_MAILBOX,
              aclPath: EXPUNGED_ACL,
              ...replication,
              secretPath: REPLICATION_SECRET,
              mailsyncSocket: MAILSYNC_EVENTS_SOCKET,
              tlsConfigPath: REPLICATION_TLS_CONFIG,
              backendSocketName: REPLICATION_BACKEND_SOCKET_NAME,
            },
          },
        ],
        checkInPlace: true,
        // doveconf parses the whole configuration with its include; each user line has eight fields or more (the
        // extra fields, the quota, are the rest of the line, colons and all: 2.3's quota_rule=*:storage=2G), no password.
        validate: (dir) =>
          sh`doveconf -n -c ${`${dir}/dovecot.conf`} >/dev/null && awk -F: 'NF < 8 || $1 == "" || $2 != "" { print "bad user line " NR ": " $1 > "/dev/stderr"; bad = 1 } END { exit bad }' ${`${dir}/users`}`,
        // A new dovecot.conf or secret may change listeners and sockets, which only a restart applies.
        activate: (changed) =>
          changed.every((path) => path === 'users')
            ? sh`systemctl reload-or-restart dovecot`
            : sh`systemctl restart dovecot`,
        restore: sh`systemctl restart dovecot`,
        health: IMAP_GREETING_PROBE,
        healthSeconds: 10,
      }),
      service({ name: 'dovecot', state: 'started', enabled: true }),
      // After Dovecot has its configuration: each sync reads the TLS client settings and the secret from it, and
      // stunnel hands the peer's syncs to the socket it names.
      ...(vars.replication && release.replicator === 'play-mailsync'
        ? [
            service({ name: REPLICATION_TLS_UNIT, state: 'started', enabled: true }),
            service({ name: MAILSYNC_UNIT, state: 'started', enabled: true }),
          ]
        : []),
    ];
  },
  handlers: () => [
    // First, so a restart below runs with the unit files just written (handlers run in this order).
    command({ name: 'reload systemd', cmd: sh`systemctl daemon-reload` }),
    // A new dovecot.conf may change listeners and sockets, which only a restart applies.
    service({ taskName: 'restart dovecot', name: 'dovecot', state: 'restarted' }),
    service({ taskName: 'apply the replication firewall', name: REPLICATION_FIREWALL_UNIT, state: 'restarted' }),
    // A new daemon or configuration: the running one ends its syncs and the new one starts with a pass over every user.
    service({ taskName: 'restart play-mailsync', name: MAILSYNC_UNIT, state: 'restarted' }),
    // A new certificate, key or stunnel configuration (a sync under way fails and is retried).
    service({ taskName: 'restart the replication TLS', name: REPLICATION_TLS_UNIT, state: 'restarted' }),
  ],
});

/**
 * What replication needs from the vars, undefined when it is off. With it on, the role's check has refused vars
 * that lack any of these, so a missing one here is a bug.
 */
function replicationPeer(vars: {
  replication: boolean;
  peerAddress?: string;
  doveadmPassword?: Secret;
  replicationCertificate?: Secret;
  replicationKey?: Secret;
}): { peerAddress: string; doveadmPassword: Secret; certificate: Secret; key: Secret } | undefined {
  if (!vars.replication) return undefined;
  const { peerAddress, doveadmPassword, replicationCertificate, replicationKey } = vars;
  if (!peerAddress || !doveadmPassword || !replicationCertificate || !replicationKey)
    throw new Error('dovecot: replication on without its peer, password or certificate (the check refuses that)');
  return { peerAddress, doveadmPassword, certificate: replicationCertificate, key: replicationKey };
}

/**
 * What replication needs before dovecot.conf refers to it: the replication key (root only), the replication
 * certificate, and the firewall that lets only the peer reach the doveadm port (an
 * nftables table of its own, loaded by a oneshot unit before Dovecot starts; `nft -c` checks a new table before
 * it replaces the old one).
 */
function replicationTasks(
  secrets: { certificate: Secret; key: Secret },
  vars: {
    replicationPort: number;
    lanAddress?: string;
    peerAddress: string;
    firewallPath: string;
    syncGroup: string;
    certificatePath: string;
    keyPath: string;
  },
  replicator: 'dovecot' | 'play-mailsync',
) {
  const certificateHandlers =
    replicator === 'dovecot' ? ['restart dovecot'] : ['restart dovecot', 'restart the replication TLS'];
  return [
    file({
      path: KEEPALIVE_SYSCTL,
      content: `# Managed by play (role dovecot): a replication peer that died mid-sync is noticed within about a minute.\n${Object.entries(
        TCP_KEEPALIVE,
      )
        .map(([key, value]) => `net.ipv4.tcp_keepalive_${key} = ${value}\n`)
        .join('')}`,
      mode: '0644',
      owner: 'root',
      group: 'root',
    }),
    command({
      name: 'the kernel applies the replication keepalive',
      cmd: sh`sysctl -q -p ${KEEPALIVE_SYSCTL}`,
      unless: sh`[ "$(sysctl -n ${Object.keys(TCP_KEEPALIVE).map((key) => `net.ipv4.tcp_keepalive_${key}`)} | tr '\\n' ' ')" = ${`${Object.values(TCP_KEEPALIVE).join(' ')} `} ]`,
    }),
    ...(replicator === 'dovecot' ? [group({ name: vars.syncGroup, system: true })] : []),
    directory({ path: REPLICATION_TLS_DIRECTORY, mode: '0755', owner: 'root', group: 'root' }),
    ...certificateAndKeyFiles({
      certificate: {
        path: vars.certificatePath,
        content: secrets.certificate,
        mode: '0644',
        owner: 'root',
        group: 'root',
      },
      key: { path: vars.keyPath, content: secrets.key, mode: '0600', owner: 'root', group: 'root' },
      notify: certificateHandlers,
    }),
    ...peerFirewallTasks({
      purpose: 'Dovecot replication',
      table: 'dovecot_replication',
      ports: [vars.replicationPort],
      peerAddress: vars.peerAddress,
      nftPath: REPLICATION_FIREWALL,
      unit: REPLICATION_FIREWALL_UNIT,
      before: 'dovecot.service',
      handlers: { reloadSystemd: 'reload systemd', apply: 'apply the replication firewall' },
    }),
    ...(replicator === 'dovecot'
      ? retryTimerTasks()
      : [...replicationTlsTasks(vars), ...mailsyncTasks(vars.peerAddress, vars.replicationPort)]),
  ];
}

/**
 * stunnel in front of Dovecot 2.4's doveadm server (see {@link REPLICATION_TLS_CONFIG}): Debian's package and its
 * stunnel@.service, our configuration, and a drop-in that restarts it if it ever exits. It starts with Dovecot's
 * service task, once dovecot.conf names the socket it connects to.
 */
function replicationTlsTasks(vars: {
  replicationPort: number;
  lanAddress?: string;
  certificatePath: string;
  keyPath: string;
}): Task[] {
  return [
    packages({ names: ['stunnel4'] }),
    template({
      src: 'replication-tls.conf.ejs',
      dest: REPLICATION_TLS_CONFIG,
      mode: '0644',
      owner: 'root',
      group: 'root',
      vars: {
        lanAddress: vars.lanAddress,
        replicationPort: vars.replicationPort,
        backendSocket: REPLICATION_BACKEND_SOCKET,
        certificatePath: vars.certificatePath,
        keyPath: vars.keyPath,
      },
      notify: 'restart the replication TLS',
    }),
    directory({ path: dirname(REPLICATION_TLS_DROP_IN), mode: '0755', owner: 'root', group: 'root' }),
    file({
      path: REPLICATION_TLS_DROP_IN,
      content:
        '# Managed by play (role dovecot): the replication port comes back by itself if stunnel ever exits.\n[Service]\nRestart=always\nRestartSec=1\n',
      mode: '0644',
      owner: 'root',
      group: 'root',
      notify: ['reload systemd', 'restart the replication TLS'],
    }),
    command({
      name: 'systemd reads the replication TLS drop-in',
      cmd: sh`systemctl daemon-reload`,
      unless: sh`! systemctl show -p NeedDaemonReload --value ${REPLICATION_TLS_UNIT} | grep -qx yes`,
    }),
  ];
}

/** Dovecot 2.3's replicator retries a failed sync only after 5 minutes: a timer retries them every 30 s. */
function retryTimerTasks(): Task[] {
  return [
    ...[
      ['replication-retry.service.ejs', REPLICATION_RETRY_UNIT],
      ['replication-retry.timer.ejs', REPLICATION_RETRY_TIMER],
    ].map(([src, unit]) =>
      template({
        src,
        dest: `/etc/systemd/system/${unit}`,
        mode: '0644',
        vars: {
          retrySeconds: REPLICATION_RETRY_SECONDS,
          serviceUnit: REPLICATION_RETRY_UNIT,
          timerUnit: REPLICATION_RETRY_TIMER,
          retryCommand: RETRY_COMMAND,
        },
        notify: 'reload systemd',
      }),
    ),
    service({ name: REPLICATION_RETRY_TIMER, state: 'started', enabled: true }),
  ];
}

/**
 * play-mailsync for Dovecot 2.4 (it retries by itself): the daemon, its configuration, and the two sockets systemd
 * holds for it, started before Dovecot's configuration names the events socket. The service itself starts once
 * Dovecot has its configuration (the role's last task).
 */
function mailsyncTasks(peerAddress: string, port: number): Task[] {
  const config = {
    peer: peerAddress,
    port,
    usersFile: USER_LIST,
    eventsSocket: MAILSYNC_EVENTS_SOCKET,
    controlSocket: MAILSYNC_CONTROL_SOCKET,
    statusFile: MAILSYNC_STATUS,
    doveadm: '/usr/bin/doveadm',
  };
  return [
    copy({
      src: MAILSYNC_SOURCE,
      dest: MAILSYNC,
      owner: 'root',
      group: 'root',
      mode: '0755',
      validate: (path) => sh`python3 -c 'import ast, sys; ast.parse(open(sys.argv[1]).read())' ${path}`,
      notify: 'restart play-mailsync',
    }),
    file({
      path: MAILSYNC_CONFIG,
      content: `${JSON.stringify(config, null, 2)}\n`,
      owner: 'root',
      group: 'root',
      mode: '0644',
      validate: (p) => sh`python3 -c 'import json, sys; json.load(open(sys.argv[1]))' ${p}`,
      notify: 'restart play-mailsync',
    }),
    ...MAILSYNC_SOCKETS.map((socket) =>
      template({
        src: 'play-mailsync.socket.ejs',
        dest: `/etc/systemd/system/${socket.unit}`,
        mode: '0644',
        vars: { ...socket, serviceUnit: MAILSYNC_UNIT },
        notify: ['reload systemd', 'restart play-mailsync'],
      }),
    ),
    template({
      src: 'play-mailsync.service.ejs',
      dest: `/etc/systemd/system/${MAILSYNC_UNIT}`,
      mode: '0644',
      vars: {
        eventsSocketUnit: MAILSYNC_SOCKETS[0].unit,
        controlSocketUnit: MAILSYNC_SOCKETS[1].unit,
        mailsyncPath: MAILSYNC,
        configPath: MAILSYNC_CONFIG,
      },
      notify: ['reload systemd', 'restart play-mailsync'],
    }),
    // systemd reads the units just written before the sockets start (a unit it has loaded before is not read again
    // by itself); the handlers run only at the play's end.
    command({
      name: 'systemd reads the play-mailsync units',
      cmd: sh`systemctl daemon-reload`,
      unless: sh`! systemctl show -p NeedDaemonReload --value ${[MAILSYNC_UNIT, ...MAILSYNC_SOCKETS.map((s) => s.unit)]} | grep -qx yes`,
    }),
    ...MAILSYNC_SOCKETS.map((socket) => service({ name: socket.unit, state: 'started', enabled: true })),
  ];
}
