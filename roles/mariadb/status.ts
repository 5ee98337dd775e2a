import type { HealthRow } from 'play';

/** A replica further behind its master than this many seconds is a failed check. */
export const REPLICA_MAX_LAG_SECONDS = 60;

/**
 * The shell (for the health check's state script) that prints (`--batch` without `-N`: with `-N`, `\G` prints the
 * values without their names) what this server's replica says of itself, as
 * `Field=value;` pairs on one line (`SHOW SLAVE STATUS`), or the error `mariadb` gave.
 */
export const REPLICA_STATUS_SCRIPT = `mariadb --batch -e 'SHOW SLAVE STATUS\\G' 2>&1 | awk -F': ' '/^ *(Slave_IO_Running|Slave_SQL_Running|Seconds_Behind_Master|Last_IO_Error|Last_SQL_Error|Master_Host|Gtid_IO_Pos): / { f = $1; gsub(/^ +/, "", f); v = substr($0, index($0, ": ") + 2); gsub(/;/, ",", v); printf "%s=%s;", f, v } /^ERROR/ { gsub(/;/, ","); printf "error=%s;", $0 }'`;

/** What this server's replica of its peer says (SHOW SLAVE STATUS), or why it could not be read. */
export interface ReplicaStatus {
  readonly ioRunning: string;
  readonly sqlRunning: string;
  /** Seconds behind the master; undefined when MariaDB says NULL (the replica is not running). */
  readonly secondsBehind?: number;
  readonly masterHost: string;
  readonly lastIoError: string;
  readonly lastSqlError: string;
  /** What `mariadb` printed instead of a status (not running, no access), or '' . */
  readonly error: string;
}

/**
 * Parses {@link REPLICA_STATUS_SCRIPT}'s line; undefined when it is empty (no replica configured).
 *
 * @example
 * parseReplicaStatus('Slave_IO_Running=Yes;Slave_SQL_Running=Yes;Seconds_Behind_Master=0;') // { ioRunning: 'Yes', … secondsBehind: 0 }
 */
export function parseReplicaStatus(value: string): ReplicaStatus | undefined {
  const fields = new Map<string, string>();
  for (const part of value.split(';')) {
    const at = part.indexOf('=');
    if (at > 0) fields.set(part.slice(0, at).trim(), part.slice(at + 1).trim());
  }
  if (fields.size === 0) return undefined;
  const behind = fields.get('Seconds_Behind_Master');
  return {
    ioRunning: fields.get('Slave_IO_Running') ?? '',
    sqlRunning: fields.get('Slave_SQL_Running') ?? '',
    secondsBehind: behind && /^\d+$/.test(behind) ? Number(behind) : undefined,
    masterHost: fields.get('Master_Host') ?? '',
    lastIoError: fields.get('Last_IO_Error') ?? '',
    lastSqlError: fields.get('Last_SQL_Error') ?? '',
    error: fields.get('error') ?? '',
  };
}

/**
 * The server's `webmail data` row: its MariaDB replica of the peer (Roundcube's data) running both threads and
 * caught up within {@link REPLICA_MAX_LAG_SECONDS}; an error names the thread and MariaDB's message. Not part of
 * the health gate: it is state the pair shares (the peer may be down or not deployed yet).
 *
 * @example
 * replicaRow('primary', parseReplicaStatus('Slave_IO_Running=Yes;Slave_SQL_Running=Yes;Seconds_Behind_Master=0;'))
 * // { check: 'webmail data', ok: true, detail: 'replicating: IO Yes, SQL Yes, 0 s behind', … }
 */
export function replicaRow(host: string, status: ReplicaStatus | undefined): HealthRow {
  const check = 'webmail data';
  if (!status) return { check, host, gate: false, ok: false, detail: 'no replica of the peer configured' };
  if (status.error) return { check, host, gate: false, ok: false, detail: `mariadb: ${status.error}` };
  const running = status.ioRunning === 'Yes' && status.sqlRunning === 'Yes';
  const behind = status.secondsBehind === undefined ? 'lag unknown' : `${status.secondsBehind} s behind`;
  const detail = `replicating from ${status.masterHost || 'the peer'}: IO ${status.ioRunning || '?'}, SQL ${status.sqlRunning || '?'}, ${behind}`;
  const errors = [
    status.lastIoError && `IO error: ${status.lastIoError}`,
    status.lastSqlError && `SQL error: ${status.lastSqlError}`,
  ].filter(Boolean);
  const ok = running && status.secondsBehind !== undefined && status.secondsBehind <= REPLICA_MAX_LAG_SECONDS;
  return { check, host, gate: false, ok, detail: errors.length ? `${detail}; ${errors.join('; ')}` : detail };
}

/**
 * The shell (for the state script) that prints Roundcube's users as `name@host=id` words, or nothing when there
 * is no database yet.
 */
export const WEBMAIL_USERS_SCRIPT = `mariadb -N --batch -e "SELECT CONCAT(username, '@', mail_host, '=', user_id) FROM roundcube.users ORDER BY 1" 2>/dev/null | tr '\\n' ' '`;

/** Parses {@link WEBMAIL_USERS_SCRIPT}'s words into user → id. */
export function parseWebmailUsers(value: string): Map<string, string> {
  const users = new Map<string, string>();
  for (const word of value.split(/\s+/).filter(Boolean)) {
    const at = word.lastIndexOf('=');
    if (at > 0) users.set(word.slice(0, at), word.slice(at + 1));
  }
  return users;
}

/**
 * The pair's `webmail users` row: every Roundcube user has the same id on both servers. A first login on both
 * servers during a split brain leaves the two with swapped ids (roles/mariadb/README.md): from then on, what that
 * user adds on one server is not replicated to the other, so the row names them, red, until repaired. A user known
 * to one server only is fine (replication may be on its way). Not part of the health gate.
 *
 * @example
 * webmailUsersRow(new Map([['primary', new Map([['guru4@localhost', '6']])], ['backup', new Map([['guru4@localhost', '7']])]]))
 * // { check: 'webmail users', ok: false, detail: 'ids differ between servers: guru4@localhost (primary 6, backup 7)', … }
 */
export function webmailUsersRow(users: ReadonlyMap<string, ReadonlyMap<string, string>>): HealthRow {
  const servers = [...users];
  const names = [...new Set(servers.flatMap(([, u]) => [...u.keys()]))].sort();
  const differ = names.filter((name) => new Set(servers.map(([, u]) => u.get(name)).filter(Boolean)).size > 1);
  if (differ.length === 0)
    return {
      check: 'webmail users',
      gate: false,
      ok: true,
      detail: `${names.length} users, the same ids on every server`,
    };
  const detail = differ
    .map((name) => `${name} (${servers.map(([server, u]) => `${server} ${u.get(name) ?? '-'}`).join(', ')})`)
    .join('; ');
  return { check: 'webmail users', gate: false, ok: false, detail: `ids differ between servers: ${detail}` };
}
