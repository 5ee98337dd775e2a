import { dirname } from 'node:path';
import { command, defineRole, directory, file, flushHandlers, packages, service, sh, template } from 'play';
import { type PackagesParams, SecretType, Type } from 'play';
import { Account, AccountName, Ipv4, presentAccounts, SchoolVars, SendingLimit } from '../common/school.ts';
import { TLS12_CIPHERS, tlsCertificatePath, tlsKeyPath } from '../tls/index.ts';
import { SCHOOL_RELEASES } from '../common/releases.ts';
import { postfixActivate, postfixConfigSet, postfixUnit } from './config-set.ts';

export { postfixConfigSet, POSTFIX_DIR, postfixUnit } from './config-set.ts';

/** Postfix's LMTP socket into Dovecot, relative to postfix's queue directory (its chroot). */
export const LMTP_SOCKET = 'private/dovecot-lmtp';

/** Postfix's SASL socket into Dovecot's auth service, relative to postfix's queue directory. */
export const AUTH_SOCKET = 'private/auth';

/** Postfix's queue directory, where Dovecot puts the two sockets above. */
export const QUEUE_DIRECTORY = '/var/spool/postfix';
/**
 * Dovecot's quota-status policy service (relative to the queue directory, inside the chroot): smtpd asks it at RCPT
 * whether the recipient's mailbox has room, and it answers a refusal when not (roles/dovecot).
 */
export const QUOTA_STATUS_SOCKET = 'private/quota-status';

/**
 * policyd-rate-limit's socket (relative to the queue directory, inside the chroot): smtpd on 587 and 465 asks it
 * whether the login may send to these recipients, and it counts them (`sendingLimits`).
 */
export const RATE_LIMIT_SOCKET = 'ratelimit/policy';
/** The same socket's path on the server (what the daemon binds and `play verify` asks). */
export const RATE_LIMIT_SOCKET_PATH = `${QUEUE_DIRECTORY}/${RATE_LIMIT_SOCKET}`;

/** policyd-rate-limit's configuration, and the drop-in that makes systemd restart it and clear its pid file. */
export const RATE_LIMIT_CONFIG = '/etc/policyd-rate-limit.yaml';
export const RATE_LIMIT_DROP_IN = '/etc/systemd/system/policyd-rate-limit.service.d/play.conf';

/** What a login past its sending limit is told (450 4.7.1, a temporary refusal: its client may try later). */
export const RATE_LIMIT_TEXT = 'this account has sent to too many recipients for now; try again later';

/**
 * The postfix package with the school's debconf answers (an Internet site, the domain as mailname). The
 * dovecot role installs it too, so either role may run first.
 */
export function postfixPackage(domain: string, options: Pick<PackagesParams, 'taskName'> = {}) {
  return packages({
    ...options,
    names: ['postfix'],
    preseed: [
      { package: 'postfix', question: 'postfix/main_mailer_type', type: 'select', value: 'Internet Site' },
      { package: 'postfix', question: 'postfix/mailname', type: 'string', value: domain },
    ],
  });
}

/** The local recipients besides /etc/aliases: the school's present accounts (a texthash table, no postmap). */
export const RECIPIENTS = '/etc/postfix/school-recipients';

/** Which login may use which sender address (a texthash table, no postmap). */
export const SENDER_LOGINS = '/etc/postfix/sender-logins';

/** Sender domains refused from clients that did not log in (port 25): the school's own. */
export const SCHOOL_SENDERS = '/etc/postfix/school-senders';

/** Where opendkim listens for postfix (a milter), and where its signing key lives. */
export const DKIM_MILTER = 'inet:127.0.0.1:8891';
export const DKIM_KEY_DIRECTORY = '/etc/dkimkeys';

/** Clients postscreen lets through untested (a cidr table, no postmap). */
export const POSTSCREEN_ACCESS = '/etc/postfix/postscreen-access.cidr';

/** Header checks for mail from outside (port 25): no From with the school's domain. */
export const INBOUND_HEADER_CHECKS = '/etc/postfix/inbound-header-checks';

/** A texthash table of names: every line not a comment has a key and a value. */
const tableCheck = (path: string) => sh`awk '!/^#/ && NF != 2 { exit 1 }' ${path}`;

/**
 * Postfix (3.7 on Debian 12, 3.10 on Debian 13) as the school's Internet mail server: listens on all interfaces, accepts mail for the school's
 * domain and hands it to Dovecot over LMTP; relays only for SASL-authenticated users (through Dovecot) on
 * submission (587, STARTTLS required) and smtps (465); AUTH never without TLS and never on port 25; the
 * sender must be the login's own address; VRFY off; TLS 1.2 at least. Mail to other domains bounces with
 * a clear text unless `relayHost` is set.
 */
export default defineRole({
  name: 'postfix',
  dir: import.meta.dirname,
  platforms: SCHOOL_RELEASES,
  schema: Type.Composite([
    Type.Pick(SchoolVars, ['schoolName', 'domain']),
    Type.Object({
      accounts: Type.Array(Account),
      mailHost: Type.Optional(
        Type.String({ pattern: '^[a-z0-9.-]+$', description: "the server's name in SMTP (default mail.<domain>)" }),
      ),
      relayHost: Type.String({
        pattern: '^[^\\s]*$',
        description:
          "postfix's relayhost for mail to other domains, e.g. [smtp.isp.example]:587; empty: such mail bounces",
      }),
      messageSizeLimit: Type.Integer({
        minimum: 1_048_576,
        description: 'largest message in bytes (attachments grow by a third in base64)',
      }),
      queueMinFree: Type.Integer({
        minimum: 0,
        description:
          'free bytes the queue disk must keep: below it smtpd answers new mail with 452 4.3.1 (postfix also keeps 1.5 × messageSizeLimit)',
      }),
      postmaster: Type.Optional(
        Type.String({
          pattern: AccountName.pattern,
          description:
            'the account that reads postmaster@, hostmaster@, abuse@ and root (default: the first present account)',
        }),
      ),
      /** The servers and the VIP: postscreen lets them through untested (health probes, the peer). */
      lanAddress: Type.Optional(Ipv4),
      peerAddress: Type.Optional(Ipv4),
      vip: Type.Optional(Ipv4),
      /** The school's DKIM signing key (PEM, RSA 2048): with it, opendkim signs outgoing mail; the dns role publishes its public half. */
      dkimKey: Type.Optional(SecretType()),
      dkimSelector: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$' }),
      postscreenConnectionLimit: Type.Integer({ minimum: 1, description: 'connections at once per client on port 25' }),
      clientMessageRateLimit: Type.Integer({
        minimum: 0,
        description: 'messages a client may send per minute on port 25 (0: no limit)',
      }),
      clientConnectionRateLimit: Type.Integer({
        minimum: 0,
        description: 'connections a client may open per minute on port 25 (0: no limit)',
      }),
      sendingLimits: Type.Array(SendingLimit, {
        description:
          "each login's sending limits on 587, 465 and the webmail, in recipients per window (an account's own sendingLimits replace them)",
      }),
      rateLimitExceptions: Type.Array(Type.String({ pattern: '^[0-9a-fA-F.:]+(/[0-9]{1,3})?$' }), {
        description:
          "addresses or CIDR networks port 25's rate limits leave alone (a monitoring host); the servers and the VIP always",
      }),
    }),
  ]),
  defaults: {
    relayHost: '',
    // 25 MiB: what the big providers accept (a larger message bounces there anyway), an 18 MiB attachment after
    // base64; and the most one message costs both servers' disks (replication copies it).
    messageSizeLimit: 26_214_400,
    queueMinFree: 536_870_912,
    postscreenConnectionLimit: 20,
    clientMessageRateLimit: 30,
    clientConnectionRateLimit: 60,
    rateLimitExceptions: [],
    // A circular to every parent of a year fits in an hour; a stolen password sends a thousand at most in a day.
    sendingLimits: [
      { recipients: 300, seconds: 3_600 },
      { recipients: 1_000, seconds: 86_400 },
    ],
    dkimSelector: 'mail',
  },
  check: (vars) => {
    const present = presentAccounts(vars.accounts).map((a) => a.name);
    if (present.length === 0)
      return [{ path: 'vars.accounts', message: 'no present account: nobody would read postmaster@' }];
    if (vars.postmaster !== undefined && !present.includes(vars.postmaster)) {
      return [
        { path: 'vars.postmaster', message: `"${vars.postmaster}" is not a present account (${present.join(', ')})` },
      ];
    }
    return [];
  },
  tasks: ({ vars, platform }) => {
    const names = presentAccounts(vars.accounts).map((a) => a.name);
    const mailHost = vars.mailHost ?? `mail.${vars.domain}`;
    const dkimMilter = vars.dkimKey ? DKIM_MILTER : '';
    const dkimKeyPath = `${DKIM_KEY_DIRECTORY}/${vars.domain}.${vars.dkimSelector}.key`;
    const servers = [vars.lanAddress, vars.peerAddress, vars.vip].filter((a) => a !== undefined);
    // policyd-rate-limit 1.0 (Debian 12) counts each RCPT; 1.2 (Debian 13) deprecates that and counts a message's
    // recipients once at DATA (count_mode 1). Either way a limit is in recipients.
    const countsAtData = platform.major >= 13;
    return [
      postfixPackage(vars.domain),
      ...(vars.dkimKey
        ? [
            // Without opendkim-tools (the key comes from the vault, not opendkim-genkey).
            packages({ names: ['opendkim'], installRecommends: false }),
            directory({ path: DKIM_KEY_DIRECTORY, mode: '0700', owner: 'opendkim', group: 'opendkim' }),
            file({
              path: dkimKeyPath,
              content: vars.dkimKey,
              mode: '0600',
              owner: 'opendkim',
              group: 'opendkim',
              validate: (p) => sh`openssl pkey -noout -in ${p}`,
              notify: 'restart opendkim',
            }),
            template({
              src: 'opendkim.conf.ejs',
              dest: '/etc/opendkim.conf',
              mode: '0644',
              vars: {
                domain: vars.domain,
                selector: vars.dkimSelector,
                keyPath: dkimKeyPath,
                socket: 'inet:8891@127.0.0.1',
              },
              validate: (p) => sh`opendkim -n -x ${p}`,
              notify: 'restart opendkim',
            }),
            service({ name: 'opendkim', state: 'started', enabled: true }),
          ]
        : []),
      template({
        src: 'aliases.ejs',
        dest: '/etc/aliases',
        mode: '0644',
        vars: { postmaster: vars.postmaster ?? names[0] },
        validate: (p) => sh`awk '!/^#/ && NF && $1 !~ /^[a-z-]+:$/ { exit 1 }' ${p}`,
        notify: 'rebuild the aliases',
      }),
      template({
        src: 'recipients.ejs',
        dest: RECIPIENTS,
        mode: '0644',
        vars: { names },
        validate: tableCheck,
        notify: 'reload postfix',
      }),
      template({
        src: 'sender-logins.ejs',
        dest: SENDER_LOGINS,
        mode: '0644',
        vars: { names },
        validate: tableCheck,
        notify: 'reload postfix',
      }),
      template({
        src: 'school-senders.ejs',
        dest: SCHOOL_SENDERS,
        mode: '0644',
        validate: (p) => sh`awk '!/^#/ && (NF < 2 || $2 !~ /^[45][0-9][0-9]$/) { exit 1 }' ${p}`,
        notify: 'reload postfix',
      }),
      template({
        src: 'postscreen-access.cidr.ejs',
        dest: POSTSCREEN_ACCESS,
        mode: '0644',
        vars: { trusted: servers },
        validate: (p) => sh`postmap -q 127.0.0.1 cidr:${p} >/dev/null`,
        notify: 'reload postfix',
      }),
      template({
        src: 'inbound-header-checks.ejs',
        dest: INBOUND_HEADER_CHECKS,
        mode: '0644',
        vars: { domain: vars.domain, domainPattern: vars.domain.replaceAll('.', '\\.') },
        // The rule must parse and must catch the school's own head: postmap -q runs it on a sample header.
        validate: (p) => sh`postmap -q ${`From: <kepsek@${vars.domain}>`} regexp:${p} | grep -q '^REJECT'`,
        notify: 'reload postfix',
      }),
      ...sendingLimitTasks(vars, presentAccounts(vars.accounts), countsAtData),
      // main.cf and master.cf only make sense together: one set, checked as a whole, reloaded and probed, and
      // rolled back as a whole if postfix does not survive the reload (./config-set.ts).
      postfixConfigSet(
        [
          {
            path: '/etc/postfix/master.cf',
            src: 'master.cf.ejs',
            mode: '0644',
            vars: {
              dkimMilter,
              postscreenAccessPath: POSTSCREEN_ACCESS,
              inboundHeaderChecksPath: INBOUND_HEADER_CHECKS,
              clientMessageRateLimit: vars.clientMessageRateLimit,
              clientConnectionRateLimit: vars.clientConnectionRateLimit,
              rateLimitExceptions: [...servers, ...vars.rateLimitExceptions],
              loginRateCheckStage: countsAtData ? 'data' : 'recipient',
            },
          },
          {
            path: '/etc/postfix/main.cf',
            src: 'main.cf.ejs',
            mode: '0644',
            vars: {
              mailHost,
              tlsCertificatePath: tlsCertificatePath(vars.domain),
              tlsKeyPath: tlsKeyPath(vars.domain),
              lmtpSocket: LMTP_SOCKET,
              authSocket: AUTH_SOCKET,
              recipientsPath: RECIPIENTS,
              senderLoginsPath: SENDER_LOGINS,
              schoolSendersPath: SCHOOL_SENDERS,
              outsideBounceText: `mail to other domains is disabled at ${vars.schoolName}`,
              dkimMilter,
              tls12Ciphers: TLS12_CIPHERS,
              postscreenAccessPath: POSTSCREEN_ACCESS,
              postscreenConnectionLimit: vars.postscreenConnectionLimit,
              quotaStatusSocket: QUOTA_STATUS_SOCKET,
              rateLimitSocket: RATE_LIMIT_SOCKET,
            },
          },
        ],
        platform,
      ),
      service({ name: 'postfix', state: 'started', enabled: true }),
    ];
  },
  handlers: ({ platform }) => [
    // The instance's own unit (postfixUnit: postfix@- on Debian 12, whose postfix.service is a oneshot umbrella whose
    // reload only runs /bin/true and then propagates; postfix on Debian 13). (The umbrella's reload once failed in the
    // lab with 219/CGROUP, most likely because the lab's two hosts shared one cgroup tree then, fixed in
    // test/lab/cgroup.ts, not because of anything in postfix.)
    // The same activation as the config set's: the tables just written must cool first (see postfixFilesCool), and a
    // master that dies under the reload fails the handler instead of passing unnoticed.
    command({ name: 'reload postfix', cmd: postfixActivate(postfixUnit(platform)) }),
    command({ name: 'rebuild the aliases', cmd: sh`newaliases` }),
    service({ taskName: 'restart opendkim', name: 'opendkim', state: 'restarted' }),
    command({ name: 'reload systemd for the rate limiter', cmd: sh`systemctl daemon-reload` }),
    service({ taskName: 'restart policyd-rate-limit', name: 'policyd-rate-limit', state: 'restarted' }),
  ],
});

/**
 * policyd-rate-limit (Debian's package) with the school's limits, running before postfix is pointed at it: the
 * handlers are flushed here, so the daemon never counts with the package's example limits once smtpd asks it.
 * Debian's unit neither restarts it nor clears a pid file a killed daemon left (which stops the next start): the
 * drop-in does both.
 */
function sendingLimitTasks(
  vars: { sendingLimits: SendingLimit[] },
  accounts: readonly Pick<Account, 'name' | 'sendingLimits'>[],
  countsAtData: boolean,
) {
  const pairs = (limits: readonly SendingLimit[]) => limits.map((l) => [l.recipients, l.seconds]);
  return [
    packages({ names: ['policyd-rate-limit'], installRecommends: false }),
    template({
      src: 'policyd-rate-limit.yaml.ejs',
      dest: RATE_LIMIT_CONFIG,
      mode: '0640',
      owner: 'root',
      group: 'policyd-rate-limit',
      vars: {
        socketPath: RATE_LIMIT_SOCKET_PATH,
        limits: pairs(vars.sendingLimits),
        limitsByLogin: Object.fromEntries(
          accounts.flatMap((a) => (a.sendingLimits ? [[a.name, pairs(a.sendingLimits)]] : [])),
        ),
        deferText: RATE_LIMIT_TEXT,
        countMode: countsAtData ? 1 : undefined,
      },
      validate: (p) => sh`policyd-rate-limit --file ${p} --get-config limits >/dev/null`,
      notify: 'restart policyd-rate-limit',
    }),
    directory({ path: dirname(RATE_LIMIT_DROP_IN), mode: '0755', owner: 'root', group: 'root' }),
    file({
      path: RATE_LIMIT_DROP_IN,
      content:
        '# Managed by play (role postfix): restarted when it dies; its pid file in a directory systemd removes.\n' +
        '[Service]\nRestart=always\nRestartSec=1s\nRuntimeDirectory=policyd-rate-limit\n',
      mode: '0644',
      owner: 'root',
      group: 'root',
      notify: ['reload systemd for the rate limiter', 'restart policyd-rate-limit'],
    }),
    service({ name: 'policyd-rate-limit', state: 'started', enabled: true }),
    flushHandlers(),
  ];
}
