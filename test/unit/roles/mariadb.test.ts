import { describe, expect, it } from 'vitest';
import {
  changeMasterSql,
  nativePasswordHash,
  replicationIdentity,
  replicationUserSql,
  sqlString,
} from '../../../roles/mariadb/replication.ts';
import { parseReplicaStatus, parseWebmailUsers, replicaRow, webmailUsersRow } from '../../../roles/mariadb/status.ts';

describe('mariadb replication', () => {
  it('gives the two servers distinct server ids, GTID domains and auto_increment offsets', () => {
    expect(replicationIdentity('primary')).toEqual({ serverId: 1, gtidDomainId: 1, autoIncrementOffset: 1 });
    expect(replicationIdentity('backup')).toEqual({ serverId: 2, gtidDomainId: 2, autoIncrementOffset: 2 });
  });

  it("hashes a password as MariaDB's mysql_native_password does (PASSWORD('secret'))", () => {
    expect(nativePasswordHash('secret')).toBe('*14E65567ABDB5135D0CFD9A70B3032C179A49EE7');
  });

  it('quotes SQL strings: quotes, backslashes, NUL and newlines cannot end the literal', () => {
    expect(sqlString("it's")).toBe("'it\\'s'");
    expect(sqlString('a\\b')).toBe("'a\\\\b'");
    expect(sqlString('a\nb\0')).toBe("'a\\nb\\0'");
  });

  it('makes the replication account without the binlog, only from the peer, TLS required, REPLICATION SLAVE only', () => {
    const sql = replicationUserSql('198.18.30.2', '*ABC');
    expect(sql.split('\n')[0]).toBe('SET sql_log_bin=0;');
    expect(sql).toContain(
      "CREATE OR REPLACE USER 'replication'@'198.18.30.2' IDENTIFIED BY PASSWORD '*ABC' REQUIRE SSL;",
    );
    expect(sql).toContain("GRANT REPLICATION SLAVE ON *.* TO 'replication'@'198.18.30.2';");
  });

  it('points the replica at the peer with GTID slave_pos and a verified TLS certificate', () => {
    const sql = changeMasterSql('198.18.30.1', 'pw');
    expect(sql).toMatch(/^STOP SLAVE;\nCHANGE MASTER TO\n/);
    for (const part of [
      "MASTER_HOST='198.18.30.1'",
      "MASTER_USER='replication'",
      "MASTER_PASSWORD='pw'",
      'MASTER_SSL=1',
      "MASTER_SSL_CA='/etc/mysql/replication/cert.pem'",
      'MASTER_SSL_VERIFY_SERVER_CERT=1',
      'MASTER_USE_GTID=slave_pos;',
    ])
      expect(sql).toContain(part);
    expect(sql.trimEnd().endsWith('START SLAVE;')).toBe(true);
  });
});

describe('the webmail data row of play verify', () => {
  const running =
    'Master_Host=198.18.30.2;Slave_IO_Running=Yes;Slave_SQL_Running=Yes;Seconds_Behind_Master=0;Last_IO_Error=;Last_SQL_Error=;';

  it('is green when both threads run and the replica is caught up', () => {
    expect(replicaRow('primary', parseReplicaStatus(running))).toEqual({
      check: 'webmail data',
      host: 'primary',
      gate: false,
      ok: true,
      detail: 'replicating from 198.18.30.2: IO Yes, SQL Yes, 0 s behind',
    });
  });

  it("is red with MariaDB's error when a thread stopped, and when nothing is configured or mariadb fails", () => {
    const stopped = replicaRow(
      'backup',
      parseReplicaStatus(
        "Master_Host=198.18.30.1;Slave_IO_Running=Yes;Slave_SQL_Running=No;Seconds_Behind_Master=NULL;Last_SQL_Error=Duplicate entry '5' for key 'PRIMARY';",
      ),
    );
    expect(stopped.ok).toBe(false);
    expect(stopped.detail).toBe(
      "replicating from 198.18.30.1: IO Yes, SQL No, lag unknown; SQL error: Duplicate entry '5' for key 'PRIMARY'",
    );
    expect(replicaRow('backup', parseReplicaStatus(''))).toMatchObject({
      ok: false,
      detail: 'no replica of the peer configured',
    });
    expect(replicaRow('backup', parseReplicaStatus('error=ERROR 2002 (HY000): no socket;'))).toMatchObject({
      ok: false,
      detail: 'mariadb: ERROR 2002 (HY000): no socket',
    });
  });

  it('is red when the replica is further behind than a minute', () => {
    const row = replicaRow('primary', parseReplicaStatus(running.replace('Master=0', 'Master=61')));
    expect(row).toMatchObject({ ok: false, detail: 'replicating from 198.18.30.2: IO Yes, SQL Yes, 61 s behind' });
  });
});

describe('the webmail users row of play verify', () => {
  it('is green when every user has the same id on both servers (one known to one server only is fine)', () => {
    const row = webmailUsersRow(
      new Map([
        ['primary', parseWebmailUsers('guru1@localhost=3 guru2@localhost=5 ')],
        ['backup', parseWebmailUsers('guru1@localhost=3 ')],
      ]),
    );
    expect(row).toEqual({
      check: 'webmail users',
      gate: false,
      ok: true,
      detail: '2 users, the same ids on every server',
    });
  });

  it('names the users whose ids differ (a first login on both servers during a split brain)', () => {
    const row = webmailUsersRow(
      new Map([
        ['primary', parseWebmailUsers('guru1@localhost=3 guru4@localhost=6 ')],
        ['backup', parseWebmailUsers('guru1@localhost=3 guru4@localhost=7 ')],
      ]),
    );
    expect(row).toMatchObject({
      ok: false,
      detail: 'ids differ between servers: guru4@localhost (primary 6, backup 7)',
    });
  });
});
