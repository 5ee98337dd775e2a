import { SCHOOL_RELEASES } from '../common/releases.ts';
import { postfixUnit } from '../postfix/config-set.ts';
import { command, copy, defineRole, directory, file, line, packages, service, sh, template } from 'play';
import { SecretType, Type } from 'play';
import { sshPublicKeyLine } from 'play/vault';
import { Ipv4 } from '../common/school.ts';

/** Where the helper that shares bans with the other server lives (files/play-peer-ban.py). */
export const PEER_BAN_HELPER = '/usr/local/sbin/play-peer-ban';
/** The helper's settings, its ssh key for the peer, and the peer's host key (recorded at first contact). */
export const PEER_BAN_CONFIG = '/etc/fail2ban/play-peer-ban.json';
export const PEER_BAN_KEY = '/etc/fail2ban/play-peer.key';
export const PEER_BAN_KNOWN_HOSTS = '/etc/fail2ban/play-peer.known_hosts';
/** The nftables table holding the bans the other server sent, and the unit that loads it. */
export const PEER_BAN_TABLE = 'play_peer_bans';
export const PEER_BAN_NFT = '/etc/fail2ban/play-peer-bans.nft';
export const PEER_BAN_UNIT = 'play-peer-bans.service';
/** Roundcube's error log (Debian's), where it writes failed logins: the roundcube-auth jail reads it. */
export const ROUNDCUBE_ERRORS_LOG = '/var/log/roundcube/errors.log';

const HELPER_SOURCE = new URL('./files/play-peer-ban.py', import.meta.url).pathname;

/**
 * fail2ban on a school server, with the bans shared by the two servers: jails for sshd, postfix SASL, Dovecot
 * and Roundcube read the journal (Roundcube its log file); a ban closes every port to the address here at
 * once (nftables) and is sent to the other server over ssh with a key that may do nothing but that
 * (`play-peer-ban receive`, `from=` the peer). A server that starts (after a reboot) pulls the peer's current
 * bans. Neither server nor the VIP can be banned, by a jail or by the peer.
 */
export default defineRole({
  platforms: SCHOOL_RELEASES,
  name: 'fail2ban',
  dir: import.meta.dirname,
  schema: Type.Object({
    schoolName: Type.String({ minLength: 1 }),
    lanAddress: Ipv4,
    peerAddress: Ipv4,
    vip: Ipv4,
    /** The key each server uses to send bans to the other (PEM, ECDSA P-256; the same on both). */
    peerBanKey: SecretType(),
    banSeconds: Type.Integer({ minimum: 60, maximum: 7 * 86400 }),
    findSeconds: Type.Integer({ minimum: 60, maximum: 86400 }),
    maxRetry: Type.Integer({ minimum: 1, maximum: 100 }),
  }),
  defaults: { banSeconds: 3600, findSeconds: 600, maxRetry: 5 },
  check: (vars) => {
    const key = vars.peerBanKey.reveal();
    try {
      sshPublicKeyLine(key, 'play-peer-ban');
      return [];
    } catch {
      return [
        {
          path: 'vars.peerBanKey',
          message:
            'must be an ECDSA P-256 private key in PEM (e.g. openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256)',
        },
      ];
    }
  },
  tasks: ({ vars, platform }) => {
    const neverBan = [vars.lanAddress, vars.peerAddress, vars.vip];
    return [
      // Without fail2ban's recommends: the systemd backend reads the journal (python3-systemd), bans go through
      // nftables; whois (mail actions), pyinotify (a file backend) and setuptools' chain are never used.
      packages({ names: ['fail2ban', 'python3-systemd', 'nftables', 'openssh-client'], installRecommends: false }),
      copy({
        src: HELPER_SOURCE,
        dest: PEER_BAN_HELPER,
        owner: 'root',
        group: 'root',
        mode: '0755',
        validate: (path) => sh`python3 -c 'import ast, sys; ast.parse(open(sys.argv[1]).read())' ${path}`,
      }),
      file({
        path: PEER_BAN_KEY,
        content: vars.peerBanKey,
        owner: 'root',
        group: 'root',
        mode: '0600',
        validate: (p) => sh`ssh-keygen -y -f ${p} >/dev/null`,
      }),
      template({
        src: 'play-peer-ban.json.ejs',
        dest: PEER_BAN_CONFIG,
        owner: 'root',
        group: 'root',
        mode: '0644',
        vars: {
          config: {
            peer: vars.peerAddress,
            key: PEER_BAN_KEY,
            knownHosts: PEER_BAN_KNOWN_HOSTS,
            never: neverBan,
            banSeconds: vars.banSeconds,
          },
        },
        validate: (p) => sh`python3 -c 'import json, sys; json.load(open(sys.argv[1]))' ${p}`,
      }),
      // The peer may run the helper's receiving end and nothing else: no shell, no forwarding, from its address only.
      directory({ path: '/root/.ssh', owner: 'root', group: 'root', mode: '0700' }),
      line({
        path: '/root/.ssh/authorized_keys',
        line: () =>
          `restrict,from="${vars.peerAddress}",command="${PEER_BAN_HELPER} receive" ${sshPublicKeyLine(vars.peerBanKey.reveal(), 'play-peer-ban')}`,
        regexp: / play-peer-ban$/,
        create: true,
        owner: 'root',
        group: 'root',
        mode: '0600',
      }),
      template({
        src: 'peer-bans.nft.ejs',
        dest: PEER_BAN_NFT,
        mode: '0644',
        vars: { table: PEER_BAN_TABLE },
        validate: (p) => sh`nft -c -f ${p}`,
        notify: 'load the peer bans table',
      }),
      template({
        src: 'peer-bans.service.ejs',
        dest: `/etc/systemd/system/${PEER_BAN_UNIT}`,
        mode: '0644',
        vars: { table: PEER_BAN_TABLE, nftPath: PEER_BAN_NFT },
        notify: ['reload systemd', 'load the peer bans table'],
      }),
      service({ name: PEER_BAN_UNIT, state: 'started', enabled: true }),
      // The roundcube-auth jail reads Roundcube's log: fail2ban will not start while it is missing.
      command({
        cmd: sh`install -o www-data -g adm -m 0640 /dev/null ${ROUNDCUBE_ERRORS_LOG}`,
        creates: ROUNDCUBE_ERRORS_LOG,
      }),
      template({
        src: 'play-peer-ban.conf.ejs',
        dest: '/etc/fail2ban/action.d/play-peer-ban.conf',
        mode: '0644',
        vars: { helperPath: PEER_BAN_HELPER, peerAddress: vars.peerAddress },
        notify: 'restart fail2ban',
      }),
      // Dovecot 2.4's failed logins (Debian 13), which Debian's filter misses; 2.3's still match.
      copy({
        src: 'dovecot.local',
        dest: '/etc/fail2ban/filter.d/dovecot.local',
        owner: 'root',
        group: 'root',
        mode: '0644',
        notify: 'restart fail2ban',
      }),
      template({
        src: 'jail.local.ejs',
        dest: '/etc/fail2ban/jail.local',
        mode: '0644',
        vars: {
          schoolName: vars.schoolName,
          banSeconds: vars.banSeconds,
          findSeconds: vars.findSeconds,
          maxRetry: vars.maxRetry,
          neverBan,
          roundcubeLog: ROUNDCUBE_ERRORS_LOG,
          postfixUnit: postfixUnit(platform),
        },
        // fail2ban checks a configuration folder as a whole: the live one with this file in place.
        validate: (p) =>
          sh`(d=$(mktemp -d) && cp -a /etc/fail2ban/. "$d"/ && cp ${p} "$d/jail.local" && fail2ban-client -c "$d" --test >/dev/null; r=$?; rm -rf "$d"; exit $r)`,
        notify: 'restart fail2ban',
      }),
      service({ name: 'fail2ban', state: 'started', enabled: true }),
    ];
  },
  handlers: () => [
    command({ name: 'reload systemd', cmd: sh`systemctl daemon-reload` }),
    service({ taskName: 'load the peer bans table', name: PEER_BAN_UNIT, state: 'restarted' }),
    // Not a reload: right after a first start, fail2ban's socket is not up yet and `fail2ban-client reload`
    // fails. A restart keeps the bans: fail2ban restores them from its database.
    service({ taskName: 'restart fail2ban', name: 'fail2ban', state: 'restarted' }),
  ],
});
