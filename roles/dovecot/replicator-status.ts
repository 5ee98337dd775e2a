/**
 * Reading Dovecot's replicator from the shell, in one place for every script that does: the retry timer, the
 * deploy's settle task, keepalived's replication gate and `play verify`.
 *
 * `doveadm replicator status '*'` prints a header line, then one row per user:
 * `username priority fast-sync full-sync success-sync failed`, where the last column is `y` when the user's
 * last sync failed and `-` when it did not.
 */

/** The replicator's status: its header line, then every user's row (nothing when Dovecot is down). */
export const REPLICATOR_USERS = `doveadm replicator status '*' 2>/dev/null`;

/** The awk condition that holds on the row (in {@link REPLICATOR_USERS}) of a user whose last sync failed. */
export const SYNC_FAILED = 'NR > 1 && $NF != "-"';

/** Exits 0 when some user's last sync failed (a shell condition). */
export const ANY_SYNC_FAILED = `${REPLICATOR_USERS} | awk '${SYNC_FAILED} { failed = 1 } END { exit !failed }'`;

/**
 * A command as a systemd unit's `ExecStart=` runs it: through `/bin/sh -c`, double-quoted with systemd's
 * escapes (`\\` and `"` backslashed, `$` and `%` doubled, as systemd.service(5) and systemd.unit(5) specify).
 */
export function systemdShell(command: string): string {
  const escaped = command.replace(/["\\]/g, '\\$&').replaceAll('$', '$$$$').replaceAll('%', '%%');
  return `/bin/sh -c "${escaped}"`;
}
