import { createHash } from 'node:crypto';

/** The MariaDB account each server's replica logs in to its peer with (REPLICATION SLAVE only, TLS required). */
export const REPLICATION_USER = 'replication';

/** The TCP port MariaDB listens on, which only the peer server may reach. */
export const MARIADB_PORT = 3306;

/**
 * The files of replication on each server: the certificate and its key (readable by mysql), and the SQL of the
 * replication account and of the replica (root only; the commands read them on the server).
 */
export const MARIADB_REPLICATION_FILES = {
  directory: '/etc/mysql/replication',
  certificate: '/etc/mysql/replication/cert.pem',
  key: '/etc/mysql/replication/key.pem',
  /** The SQL that makes the peer's replication account (its password's hash), 0600 root. */
  accountSql: '/etc/mysql/replication/account.sql',
  /** The SQL that points the replica at the peer (its password, as master.info holds it too), 0600 root. */
  replicaSql: '/etc/mysql/replication/replica.sql',
} as const;

/** MariaDB's socket, through which root (and Roundcube as www-data) log in by their Unix user (unix_socket). */
export const MARIADB_SOCKET = '/run/mysqld/mysqld.sock';

/** Where the replica keeps its connection to the master, password included (line 6). */
export const MASTER_INFO = '/var/lib/mysql/master.info';

/**
 * What makes one server of the pair distinct in a master-master pair: its server_id and GTID domain (each server
 * writes its own domain, so the two streams never collide), and the auto_increment offset (1 on the primary, 2 on
 * the backup, with an increment of 2: ids made on the two servers at once never collide).
 *
 * @example
 * replicationIdentity('backup'); // { serverId: 2, gtidDomainId: 2, autoIncrementOffset: 2 }
 */
export function replicationIdentity(haRole: 'primary' | 'backup'): {
  serverId: number;
  gtidDomainId: number;
  autoIncrementOffset: number;
} {
  const n = haRole === 'primary' ? 1 : 2;
  return { serverId: n, gtidDomainId: n, autoIncrementOffset: n };
}

/**
 * MariaDB's mysql_native_password hash of a password: `*` and the upper-case hex of SHA1(SHA1(password)). The
 * replication account is made with this hash (`IDENTIFIED BY PASSWORD`), so the password itself never reaches the
 * server that checks it, and a check can compare hashes.
 *
 * @example
 * nativePasswordHash('secret'); // '*14E65567ABDB5135D0CFD9A70B3032C179A49EE7'
 */
export function nativePasswordHash(password: string): string {
  const once = createHash('sha1').update(password, 'utf8').digest();
  return `*${createHash('sha1').update(once).digest('hex').toUpperCase()}`;
}

/** A SQL string literal holding `value` exactly (MariaDB's default sql_mode: backslash escapes). */
export function sqlString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\0/g, '\\0').replace(/\n/g, '\\n')}'`;
}

/**
 * The SQL that makes (or corrects) the account the peer's replica logs in with: only from the peer's address,
 * only over TLS, only REPLICATION SLAVE. Run with `sql_log_bin=0`: each server makes its own, and replicating it
 * would make the other server's account for the wrong address.
 *
 * @example
 * replicationUserSql('198.18.30.2', nativePasswordHash(password)); // 'SET sql_log_bin=0;\nCREATE OR REPLACE USER …'
 */
export function replicationUserSql(peerAddress: string, passwordHash: string): string {
  const account = `${sqlString(REPLICATION_USER)}@${sqlString(peerAddress)}`;
  return [
    'SET sql_log_bin=0;',
    `CREATE OR REPLACE USER ${account} IDENTIFIED BY PASSWORD ${sqlString(passwordHash)} REQUIRE SSL;`,
    `GRANT REPLICATION SLAVE ON *.* TO ${account};`,
    '',
  ].join('\n');
}

/**
 * The SQL that points this server's replica at its peer and starts it: GTID from the replica's own position
 * (`slave_pos`), TLS with the peer's certificate verified against the replication certificate, a retry every
 * 5 s (a peer that is down or rebooting is tried again soon, not after MariaDB's default of 60 s).
 *
 * @example
 * changeMasterSql('198.18.30.1', vars.mariadbReplicationPassword.reveal()); // 'STOP SLAVE;\nCHANGE MASTER TO MASTER_HOST=…;\nSTART SLAVE;\n'
 */
export function changeMasterSql(peerAddress: string, password: string): string {
  return [
    'STOP SLAVE;',
    'CHANGE MASTER TO',
    `  MASTER_HOST=${sqlString(peerAddress)},`,
    `  MASTER_PORT=${MARIADB_PORT},`,
    `  MASTER_USER=${sqlString(REPLICATION_USER)},`,
    `  MASTER_PASSWORD=${sqlString(password)},`,
    '  MASTER_CONNECT_RETRY=5,',
    '  MASTER_SSL=1,',
    `  MASTER_SSL_CA=${sqlString(MARIADB_REPLICATION_FILES.certificate)},`,
    '  MASTER_SSL_VERIFY_SERVER_CERT=1,',
    '  MASTER_USE_GTID=slave_pos;',
    'START SLAVE;',
    '',
  ].join('\n');
}
