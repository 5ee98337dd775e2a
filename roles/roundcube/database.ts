import { command, copy, sh, type Task } from 'play';
import { type Account, presentAccounts } from '../common/school.ts';
import { sqlString } from '../mariadb/replication.ts';

/** Roundcube's database in MariaDB (role mariadb), the same on both servers by replication. */
export const ROUNDCUBE_DATABASE = 'roundcube';

/**
 * The MariaDB account Roundcube logs in with: php-fpm's Unix user, authenticated by MariaDB's unix_socket plugin
 * over the local socket. No password exists, so none can leak from config.inc.php or a backup of /etc.
 */
export const ROUNDCUBE_DB_USER = 'www-data';

/** The DSN in config.inc.php: the local socket, the account above, no password. */
export const ROUNDCUBE_DSN = `mysql://${ROUNDCUBE_DB_USER}@unix(/run/mysqld/mysqld.sock)/${ROUNDCUBE_DATABASE}`;

/** Debian's Roundcube SQL: the initial schema and one file per schema version in `mysql/`. */
export const ROUNDCUBE_SQL_DIR = '/usr/share/roundcube/SQL';

/** The SQLite database Debian's dbconfig-common made for Roundcube (deploys before MariaDB). */
export const ROUNDCUBE_SQLITE = '/var/lib/dbconfig-common/sqlite3/roundcube/roundcube';

/** The script that copies that SQLite database into MariaDB once (files/play-roundcube-migrate.py). */
export const MIGRATE_HELPER = '/usr/local/sbin/play-roundcube-migrate';
const MIGRATE_SOURCE = new URL('./files/play-roundcube-migrate.py', import.meta.url).pathname;

/** The marker row the migration commits with the data (`system.name`). */
export const MIGRATION_MARKER = 'play-sqlite-migration';

/** How long the backup server waits for the schema to arrive from the primary by replication. */
export const SCHEMA_WAIT_SECONDS = 120;

/** A shell test: Roundcube's schema is there (its `system` table, where the schema's version is kept). */
const schemaPresent = sh`[ "$(mariadb -N --batch -e ${`SELECT COUNT(*) FROM information_schema.tables WHERE table_schema='${ROUNDCUBE_DATABASE}' AND table_name='system'`})" = 1 ]`;

/**
 * The schema's version in the database and the newest Debian's package brings (the names of `mysql/*.sql`) are the
 * same: nothing to upgrade.
 */
const schemaCurrent = sh`[ "$(mariadb -N --batch -e ${`SELECT value FROM ${ROUNDCUBE_DATABASE}.system WHERE name='roundcube-version'`})" = "$(ls ${`${ROUNDCUBE_SQL_DIR}/mysql`} | sed -n 's/\\.sql$//p' | sort | tail -n 1)" ]`;

/**
 * The host Roundcube files its users under (`users.mail_host`): the IMAP host of its config without scheme or port,
 * as Roundcube's `rcube_utils::parse_host_uri` makes it.
 *
 * @example
 * roundcubeMailHost('ssl://localhost:993'); // 'localhost'
 */
export function roundcubeMailHost(imapHost: string): string {
  return imapHost.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').replace(/:\d+$/, '');
}

/** What {@link webmailUsersSql} needs: the accounts, the mail domain, Roundcube's IMAP host. */
export interface WebmailUsers {
  accounts: readonly Pick<Account, 'name' | 'fullName' | 'state'>[];
  domain: string;
  imapHost: string;
}

/** The condition a `users` row of an account (alias `u`) meets once it is made: it has an identity in use. */
const withIdentity = 'EXISTS (SELECT 1 FROM identities i WHERE i.user_id = u.user_id AND i.del = 0)';

/**
 * The SQL that makes, on the primary, Roundcube's `users` row and default identity (the account's full name and
 * address) of every present account that has none, as Roundcube's own first login would (`rcube_user::create`).
 * Made once, on one server, and replicated: a first login then finds the row on either server. Without it a first
 * login on both servers during a split brain makes two rows with one name, which the servers swap (roles/mariadb/README.md).
 * Existing rows and identities are left as they are: a user's edits are theirs.
 *
 * @example
 * webmailUsersSql({ accounts: [{ name: 'guru1', fullName: 'Guru Satu' }], domain: 'smknh.sch.id', imapHost: 'ssl://localhost:993' });
 */
export function webmailUsersSql({ accounts, domain, imapHost }: WebmailUsers): string {
  const host = sqlString(roundcubeMailHost(imapHost));
  const lines = [`USE \`${ROUNDCUBE_DATABASE}\`;`, 'START TRANSACTION;'];
  for (const account of presentAccounts(accounts)) {
    const name = sqlString(account.name);
    lines.push(
      `INSERT IGNORE INTO users (username, mail_host, created) VALUES (${name}, ${host}, NOW());`,
      `INSERT INTO identities (user_id, changed, del, standard, name, email) SELECT u.user_id, NOW(), 0, 1, ${sqlString(account.fullName)}, ${sqlString(`${account.name}@${domain}`)} FROM users u WHERE u.username = ${name} AND u.mail_host = ${host} AND NOT ${withIdentity};`,
    );
  }
  lines.push('COMMIT;', '');
  return lines.join('\n');
}

/** A shell test: every present account has its `users` row and an identity in Roundcube's database. */
function webmailUsersPresent({ accounts, imapHost }: WebmailUsers) {
  const names = presentAccounts(accounts).map((a) => sqlString(a.name));
  if (names.length === 0) return sh`true`;
  const query = `SELECT COUNT(*) FROM users u WHERE u.mail_host = ${sqlString(roundcubeMailHost(imapHost))} AND u.username IN (${names.join(', ')}) AND ${withIdentity}`;
  return sh`[ "$(mariadb -N --batch ${ROUNDCUBE_DATABASE} -e ${query})" = ${String(names.length)} ]`;
}

/**
 * The tasks that give Roundcube its database. On each server, its own account (never replicated, `sql_log_bin=0`).
 * On the primary only: the database and Debian's initial schema, the SQLite data of an earlier deploy (once), then
 * Debian's upgrades of the schema (`bin/updatedb.sh`), then each account's user row ({@link webmailUsersSql}),
 * all replicated to the backup. On the backup: a wait until the schema has arrived.
 *
 * @example
 * ...roundcubeDatabaseTasks('primary', { accounts, domain: 'smknh.sch.id', imapHost: 'ssl://localhost:993' })
 */
export function roundcubeDatabaseTasks(haRole: 'primary' | 'backup', users: WebmailUsers): Task[] {
  const account = `'${ROUNDCUBE_DB_USER}'@'localhost'`;
  const accountSql = [
    'SET sql_log_bin=0;',
    `CREATE USER IF NOT EXISTS ${account} IDENTIFIED VIA unix_socket;`,
    `GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, DROP, LOCK TABLES, CREATE TEMPORARY TABLES ON \`${ROUNDCUBE_DATABASE}\`.* TO ${account};`,
    '',
  ].join('\n');
  const tasks: Task[] = [
    command({
      name: "Roundcube's MariaDB account (php-fpm's user, by its socket)",
      cmd: sh`mariadb --batch`,
      stdin: accountSql,
      unless: sh`mariadb -N --batch -e ${`SHOW GRANTS FOR ${account}`} 2>/dev/null | grep -q ${`ON \`${ROUNDCUBE_DATABASE}\`.*`}`,
    }),
  ];
  if (haRole === 'backup')
    return [
      ...tasks,
      command({
        name: "Roundcube's schema has arrived from the primary",
        cmd: sh`i=0; until ${schemaPresent}; do i=$((i+1)); [ $i -lt ${SCHEMA_WAIT_SECONDS} ] || { echo "Roundcube's schema has not arrived from the primary in" ${SCHEMA_WAIT_SECONDS} "s; mariadb -e 'SHOW SLAVE STATUS\\G' says why" >&2; exit 1; }; sleep 1; done`,
        unless: schemaPresent,
      }),
    ];
  return [
    ...tasks,
    command({
      name: "Roundcube's database (made on the primary, replicated)",
      cmd: sh`mariadb --batch -e ${`CREATE DATABASE IF NOT EXISTS \`${ROUNDCUBE_DATABASE}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`}`,
      unless: sh`[ -d ${`/var/lib/mysql/${ROUNDCUBE_DATABASE}`} ]`,
    }),
    command({
      name: "Roundcube's initial schema (on the primary, replicated)",
      cmd: sh`mariadb --batch ${ROUNDCUBE_DATABASE} < ${`${ROUNDCUBE_SQL_DIR}/mysql.initial.sql`}`,
      unless: schemaPresent,
    }),
    copy({
      src: MIGRATE_SOURCE,
      dest: MIGRATE_HELPER,
      mode: '0755',
      owner: 'root',
      group: 'root',
      validate: (p) => sh`python3 -m py_compile ${p}`,
    }),
    command({
      name: 'the SQLite data of an earlier deploy copied into MariaDB, once (on the primary, replicated)',
      cmd: sh`${MIGRATE_HELPER} ${ROUNDCUBE_SQLITE}`,
      unless: sh`[ ! -e ${ROUNDCUBE_SQLITE} ] || [ "$(mariadb -N --batch -e ${`SELECT COUNT(*) FROM ${ROUNDCUBE_DATABASE}.system WHERE name='${MIGRATION_MARKER}'`})" = 1 ]`,
    }),
    command({
      name: "Roundcube's schema upgraded to the package's (on the primary, replicated)",
      cmd: sh`runuser -u www-data -- php /usr/share/roundcube/bin/updatedb.sh --package=roundcube --dir=${ROUNDCUBE_SQL_DIR}`,
      unless: schemaCurrent,
    }),
    command({
      name: "each account's webmail user and identity, before its first login (on the primary, replicated)",
      cmd: sh`mariadb --batch`,
      stdin: webmailUsersSql(users),
      unless: webmailUsersPresent(users),
    }),
  ];
}
