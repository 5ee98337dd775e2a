import {
  command,
  defineRole,
  directory,
  file,
  flushHandlers,
  packages,
  raw,
  Secret,
  SecretType,
  service,
  sh,
  template,
  Type,
} from 'play';
import { certificateAndKeyFiles } from '../common/certificate-files.ts';
import { peerFirewallHandlers, peerFirewallTasks } from '../common/peer-firewall.ts';
import { SCHOOL_RELEASES } from '../common/releases.ts';
import { SchoolVars } from '../common/school.ts';
import {
  changeMasterSql,
  MARIADB_PORT,
  MARIADB_REPLICATION_FILES,
  MASTER_INFO,
  nativePasswordHash,
  REPLICATION_USER,
  replicationIdentity,
  replicationUserSql,
} from './replication.ts';

export * from './replication.ts';

/** The handler that restarts MariaDB (a changed my.cnf or certificate). */
export const RESTART_MARIADB = 'restart mariadb';

/** The config file play writes beside Debian's own (mariadb.conf.d is read in order; 60- comes after 50-server). */
export const MARIADB_CONFIG = '/etc/mysql/mariadb.conf.d/60-play-replication.cnf';

const FIREWALL = {
  nftPath: '/etc/mysql/replication-firewall.nft',
  unit: 'mariadb-replication-firewall.service',
  handlers: { reloadSystemd: 'reload systemd', apply: 'apply the MariaDB replication firewall' },
} as const;

/**
 * Debian's MariaDB (10.11 on Debian 12, 11.8 on Debian 13) on both servers, in master-master replication with
 * GTIDs: each server writes its own GTID domain and replicates the other's (`MASTER_USE_GTID=slave_pos`), over TLS
 * with the replication certificate verified, semi-synchronous with a 1 s timeout. Only the peer reaches port 3306
 * (nftables). The replication account is made on each server alone (`sql_log_bin=0`), from the vault's password.
 * Roundcube (role roundcube) keeps its data here.
 */
export default defineRole({
  name: 'mariadb',
  platforms: SCHOOL_RELEASES,
  dir: import.meta.dirname,
  schema: Type.Composite([
    Type.Pick(SchoolVars, ['haRole', 'peerAddress']),
    Type.Object({
      /** PEM, self-signed, naming both servers' LAN addresses: what each server presents and trusts. */
      replicationCertificate: SecretType(),
      replicationKey: SecretType(),
      /** The password of the replication account (the vault's `mariadb_replication_password`). */
      mariadbReplicationPassword: SecretType(),
    }),
  ]),
  defaults: {},
  check(vars) {
    const password = vars.mariadbReplicationPassword.reveal();
    return /^[A-Za-z0-9]{16,}$/.test(password)
      ? []
      : [{ path: 'vars.mariadbReplicationPassword', message: 'must be at least 16 letters and digits' }];
  },
  tasks: ({ vars }) => {
    // Derived secrets, revealed only when a command is built: listing the tasks needs no vault.
    const vault = vars.mariadbReplicationPassword;
    const derived = (make: (password: string) => string) => new Secret(() => make(vault.reveal()), vault.origin);
    return [
      packages({ names: ['mariadb-server'], installRecommends: false }),
      directory({ path: MARIADB_REPLICATION_FILES.directory, mode: '0750', owner: 'root', group: 'mysql' }),
      ...certificateAndKeyFiles({
        certificate: {
          path: MARIADB_REPLICATION_FILES.certificate,
          content: vars.replicationCertificate,
          mode: '0644',
          owner: 'root',
          group: 'root',
        },
        key: {
          path: MARIADB_REPLICATION_FILES.key,
          content: vars.replicationKey,
          mode: '0640',
          owner: 'root',
          group: 'mysql',
        },
        notify: RESTART_MARIADB,
      }),
      ...peerFirewallTasks({
        purpose: 'MariaDB replication',
        table: 'mariadb_replication',
        ports: [MARIADB_PORT],
        peerAddress: vars.peerAddress,
        nftPath: FIREWALL.nftPath,
        unit: FIREWALL.unit,
        before: 'mariadb.service',
        handlers: FIREWALL.handlers,
      }),
      template({
        src: 'replication.cnf.ejs',
        dest: MARIADB_CONFIG,
        mode: '0644',
        owner: 'root',
        group: 'root',
        vars: {
          ...replicationIdentity(vars.haRole),
          peerAddress: vars.peerAddress,
          certificate: MARIADB_REPLICATION_FILES.certificate,
          key: MARIADB_REPLICATION_FILES.key,
        },
        notify: RESTART_MARIADB,
      }),
      service({ name: 'mariadb', state: 'started', enabled: true }),
      // The binary log must be on before anything is written that the peer is to replicate (Roundcube's schema).
      flushHandlers(),
      // The secrets reach the server as root-only files (a file's content is revealed only when it is written, and
      // never shown in a diff); the commands read them there, so no secret is ever on a command line.
      file({
        path: MARIADB_REPLICATION_FILES.accountSql,
        content: derived((p) => replicationUserSql(vars.peerAddress, nativePasswordHash(p))),
        mode: '0600',
        owner: 'root',
        group: 'root',
      }),
      file({
        path: MARIADB_REPLICATION_FILES.replicaSql,
        content: derived((p) => changeMasterSql(vars.peerAddress, p)),
        mode: '0600',
        owner: 'root',
        group: 'root',
      }),
      command({
        name: 'the replication account for the peer (this server only, never replicated)',
        cmd: sh`mariadb --batch < ${MARIADB_REPLICATION_FILES.accountSql}`,
        // The hash is read from the file on the server; the peer's address is an IPv4 address (the schema's).
        unless: sh`h=$(sed -n ${"s/.*IDENTIFIED BY PASSWORD '\\([*0-9A-F]*\\)'.*/\\1/p"} ${MARIADB_REPLICATION_FILES.accountSql}) && [ "$(mariadb -N --batch -e "${raw(`SELECT COUNT(*) FROM mysql.user WHERE user='${REPLICATION_USER}' AND host='${vars.peerAddress}' AND ssl_type='ANY' AND authentication_string='`)}$h'")" = 1 ]`,
      }),
      command({
        name: 'this server replicates from its peer (GTID, TLS)',
        cmd: sh`mariadb --batch < ${MARIADB_REPLICATION_FILES.replicaSql}`,
        // master.info: line 4 the host, 5 the user, 6 the password, as replica.sql sets them.
        unless: sh`[ "$(sed -n 4,5p ${MASTER_INFO} 2>/dev/null | tr '\n' ' ')" = ${`${vars.peerAddress} ${REPLICATION_USER} `} ] && [ "$(sed -n 6p ${MASTER_INFO})" = "$(sed -n ${"s/^  MASTER_PASSWORD='\\(.*\\)',$/\\1/p"} ${MARIADB_REPLICATION_FILES.replicaSql})" ]`,
      }),
    ];
  },
  handlers: () => [
    service({ taskName: RESTART_MARIADB, name: 'mariadb', state: 'restarted' }),
    ...peerFirewallHandlers(FIREWALL),
  ],
});
