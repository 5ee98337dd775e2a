import { command, copy, sh, type Task } from 'play';

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
 * The tasks that give Roundcube its database. On each server, its own account (never replicated, `sql_log_bin=0`).
 * On the primary only: the database and Debian's initial schema, the SQLite data of an earlier deploy (once), then
 * Debian's upgrades of the schema (`bin/updatedb.sh`), all replicated to the backup. On the backup: a wait until the schema has arrived.
 *
 * @example
 * ...roundcubeDatabaseTasks('primary')
 */
export function roundcubeDatabaseTasks(haRole: 'primary' | 'backup'): Task[] {
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
  ];
}
