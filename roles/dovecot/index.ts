import { defineRole, packages, service, sh, template, Type } from 'play';
import { Account } from '../common/school.ts';
import { AUTH_SOCKET, LMTP_SOCKET, QUEUE_DIRECTORY, postfixPackage } from '../postfix/index.ts';
import { tlsCertificatePath, tlsKeyPath } from '../tls/index.ts';
import { homeOf } from '../users/index.ts';

/** Dovecot's list of the school's users (a passwd-file without passwords): the only users it knows. */
export const USER_LIST = '/etc/dovecot/users';

/**
 * Dovecot 2.3 for the school: IMAP on 143 (STARTTLS) and 993 (IMAPS), no login without TLS, TLS 1.2 at
 * least, Maildir in the accounts' homes, LMTP and SASL sockets for postfix, and a user list limited to the
 * school's present accounts (passwords checked through PAM against the hashes the users role stores).
 */
export default defineRole({
  name: 'dovecot',
  schema: Type.Object({
    schoolName: Type.String({ minLength: 1 }),
    domain: Type.String({ minLength: 1 }),
    accounts: Type.Array(Account),
    listen: Type.String({ minLength: 1, description: "Dovecot's listen addresses" }),
    maxConnectionsPerUserIp: Type.Integer({ minimum: 1 }),
  }),
  defaults: { listen: '*, ::', maxConnectionsPerUserIp: 20 },
  check: (vars) => (vars.accounts.some((a) => a.state !== 'absent') ? [] : [{ path: 'vars.accounts', message: 'no present account: dovecot would have no user' }]),
  tasks: ({ vars }) => {
    const present = vars.accounts.filter((a) => a.state !== 'absent');
    return [
      // Dovecot's LMTP and SASL sockets live in postfix's spool and belong to the postfix user: without postfix
      // installed Dovecot does not start. Installed here with the postfix role's answers, so either role may run first.
      postfixPackage(vars.domain, { taskName: 'package postfix (for the LMTP and SASL sockets)' }),
      packages({ names: ['dovecot-core', 'dovecot-imapd', 'dovecot-lmtpd'] }),
      template({
        src: 'users.ejs',
        dest: USER_LIST,
        mode: '0644',
        owner: 'root',
        group: 'dovecot',
        vars: { accounts: present.map((a) => ({ name: a.name, home: homeOf(a.name) })) },
        // Each line: name::uid:gid::home:: (eight fields, no password).
        validate: (p) => sh`awk -F: 'NF != 8 || $1 == "" || $2 != "" { exit 1 }' ${p}`,
        notify: 'reload dovecot',
      }),
      template({
        src: 'dovecot.conf.ejs',
        dest: '/etc/dovecot/dovecot.conf',
        mode: '0644',
        vars: {
          tlsCertificatePath: tlsCertificatePath(vars.domain),
          tlsKeyPath: tlsKeyPath(vars.domain),
          userListPath: USER_LIST,
          lmtpSocket: `${QUEUE_DIRECTORY}/${LMTP_SOCKET}`,
          authSocket: `${QUEUE_DIRECTORY}/${AUTH_SOCKET}`,
          accountNames: present.map((a) => a.name),
        },
        // The file includes nothing, so doveconf checks the whole configuration from the temp file alone.
        validate: (p) => sh`doveconf -n -c ${p} >/dev/null`,
        notify: 'restart dovecot',
      }),
      service({ name: 'dovecot', state: 'started', enabled: true }),
    ];
  },
  handlers: () => [
    // A new dovecot.conf may change listeners and sockets, which only a restart applies.
    service({ taskName: 'restart dovecot', name: 'dovecot', state: 'restarted' }),
    service({ taskName: 'reload dovecot', name: 'dovecot', state: 'reloaded' }),
  ],
});
