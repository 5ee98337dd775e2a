import { definePlaybook, Type, type Inventory, type Playbook } from 'play';
import apache from '../apache/index.ts';
import backup from '../backup/index.ts';
import { backupNow, restoreMail } from '../backup/restore.ts';
import { AccountName } from '../common/school.ts';
import { schoolHealth } from '../common/health.ts';
import dhcp from '../dhcp/index.ts';
import dns from '../dns/index.ts';
import dovecot, { replicationSettled } from '../dovecot/index.ts';
import fail2ban from '../fail2ban/index.ts';
import keepalived from '../keepalived/index.ts';
import mariadb from '../mariadb/index.ts';
import postfix from '../postfix/index.ts';
import roundcube from '../roundcube/index.ts';
import sshd from '../sshd/index.ts';
import tls from '../tls/index.ts';
import users from '../users/index.ts';

/**
 * Every role of the school site, in the order they run on a server (`npx play site`, and `npx play upgrade` on a
 * server that has moved to the next release).
 */
export const SITE_ROLES = [
  { role: sshd, tags: ['sshd', 'security'] },
  { role: tls, tags: ['tls'] },
  { role: users, tags: ['users', 'mail'] },
  { role: dovecot, tags: ['dovecot', 'mail'] },
  { role: postfix, tags: ['postfix', 'mail'] },
  { role: dns, tags: ['dns'] },
  { role: dhcp, tags: ['dhcp'] },
  // The tls role installs the shared certificate; apache only uses it.
  { role: apache, vars: { manageCertificate: false }, tags: ['apache', 'web'] },
  // Roundcube's data, replicated both ways: the primary makes the schema, the backup gets it by replication.
  { role: mariadb, tags: ['mariadb', 'roundcube', 'web'] },
  { role: roundcube, tags: ['roundcube', 'web'] },
  { role: fail2ban, tags: ['fail2ban', 'security'] },
  { role: backup, tags: ['backup'] },
  { role: keepalived, vars: { holdForReplication: true }, tags: ['keepalived'] },
] as const;

/**
 * A school's highly available webmail on its two servers, as one playbook: first both servers install every
 * role's packages at once, then every role runs one server at a time, the primary first. On a first deploy the backup's secondary zone, DHCP HA partner and mail replica then find
 * a running primary to start from (a secondary that tried a primary not yet serving could wait minutes for its
 * first zone transfer). Its `verify` is the pair's health check (`npx play verify site`).
 *
 * @example
 * // playbooks/site.ts of a school's project
 * import { schoolPlaybook } from 'play/school';
 * import inventory from '../inventory/smahb.ts';
 * export default schoolPlaybook(inventory);
 */
export function schoolPlaybook(inventory: Inventory): Playbook {
  return definePlaybook({
    name: 'school webmail',
    inventory,
    plays: [
      {
        name: 'mail servers',
        hosts: ['primary', 'backup'],
        serial: 1,
        // Packages have no order between the servers: both install every role's packages at once, in one apt-get
        // each, before the primary's batch. Each role's packages come before anything else of the role, except
        // dovecot's stop bound, which makes systemd apply it at once whatever came first.
        installPackagesFirst: true,
        roles: SITE_ROLES,
      },
      {
        // The primary went first and could not reach the backup's replication yet: its replicator holds those
        // syncs as failed until its retry timer comes round. Settled here, so `play verify` right after says healthy.
        name: 'replication settled',
        hosts: ['primary', 'backup'],
        tags: ['dovecot', 'mail'],
        tasks: [replicationSettled()],
      },
    ],
    verify: schoolHealth,
  });
}

/**
 * A backup of both servers now (`npx play backup`): each server's nightly run of the backup role, at once, waited
 * for; it fails naming the server and the helper's error.
 *
 * @example
 * export default schoolBackupPlaybook(inventory); // playbooks/backup.ts
 */
export function schoolBackupPlaybook(inventory: Inventory): Playbook {
  return definePlaybook({
    name: 'school backup',
    inventory,
    plays: [{ name: 'back up both servers', hosts: ['primary', 'backup'], tags: ['backup'], tasks: [backupNow()] }],
    verify: schoolHealth,
  });
}

/**
 * What `npx play restore` takes: `-e account=NAME`, and optionally `-e folder=NAME`, `-e at=ISO-TIME` and
 * `-e repository=peer|offsite`.
 */
export const RestoreVars = Type.Object({
  account: AccountName,
  from: Type.Optional(
    Type.Union([Type.Literal('backup'), Type.Literal('expunged')], {
      description:
        'backup (the default): from the backups; expunged: what the account expunged in the last days (lazy_expunge), into the folder Restored',
    }),
  ),
  folder: Type.Optional(
    Type.String({ minLength: 1, pattern: '^[^./][^\\n]*$', description: 'a mailbox, e.g. Projects or Projects/2026' }),
  ),
  at: Type.Optional(
    Type.String({
      pattern: '^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d(:\\d\\d)?(\\.\\d+)?(Z|[+-]\\d\\d:\\d\\d)?$',
      description: 'an ISO time, e.g. 2026-12-01T08:00:00Z: the newest snapshot at or before it',
    }),
  ),
  server: Type.Optional(
    Type.Union([Type.Literal('primary'), Type.Literal('backup')], {
      description: 'the server that restores from its own backups (default primary; backup when the primary is down)',
    }),
  ),
  repository: Type.Optional(
    Type.Union([Type.Literal('peer'), Type.Literal('offsite')], {
      description:
        "only this repository; by default the first holding a snapshot: the other server's, then the off-site one",
    }),
  ),
});

/**
 * One account's mail put back from the backups (`npx play restore -e account=guru2 [-e folder=X] [-e at=TIME]`), or
 * what it expunged in the last days (`-e from=expunged`, no backup involved):
 * on the primary, from its own backups (kept on the backup server), into the live mailbox while it stays in use;
 * replication brings it to the backup server. With the primary down, `-e server=backup` restores there instead.
 *
 * @example
 * export default schoolRestorePlaybook(inventory); // playbooks/restore.ts
 */
export function schoolRestorePlaybook(inventory: Inventory): Playbook {
  return definePlaybook({
    name: 'school restore',
    inventory,
    extraVars: RestoreVars,
    plays: [
      {
        name: 'restore mail',
        hosts: ['primary', 'backup'],
        // One server restores (the primary unless -e server=backup); the other gets the mail by replication.
        tasks: ({ host, vars }) => {
          if (host !== (vars.server ?? 'primary')) return [];
          return [
            restoreMail({
              account: vars.account as string,
              ...(vars.from ? { from: vars.from as 'backup' | 'expunged' } : {}),
              ...(vars.folder ? { folder: vars.folder as string } : {}),
              ...(vars.at ? { at: vars.at as string } : {}),
              ...(vars.repository ? { repository: vars.repository as 'peer' | 'offsite' } : {}),
            }),
          ];
        },
      },
    ],
    verify: schoolHealth,
  });
}
