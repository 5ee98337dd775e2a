/**
 * Reading mailbox replication from the shell, in one place for every script that does: the retry timer, the
 * deploy's settle task, keepalived's replication gate and notify script, and `play verify`.
 *
 * Two replicators, one interface. On Debian 12 it is Dovecot 2.3's own (`doveadm replicator`). Dovecot 2.4
 * (Debian 13) has none; there the dovecot role installs play-mailsync ({@link MAILSYNC}), which answers the same
 * subcommands with the same output. `status '*'` prints a header line, then one row per user:
 * `username priority fast-sync full-sync success-sync failed`, where the sync columns are ages (`H:MM:SS`, `-` for
 * never) and the last column is `y` when the user's last sync failed and `-` when it did not. Which one a server
 * has is read on the server when the command runs, so a script means the same on either release (and on a pair
 * half-way through an upgrade).
 */

/** Where the dovecot role installs play-mailsync (Debian 13): Dovecot 2.4's replication, files/play-mailsync.py. */
export const MAILSYNC = '/usr/local/sbin/play-mailsync';

/** The server's replicator command, as shell text: play-mailsync where it is installed, else `doveadm replicator`. */
export const REPLICATOR = `$([ -x ${MAILSYNC} ] && echo ${MAILSYNC} || echo doveadm replicator)`;

/** The replicator's status: its header line, then every user's row (nothing when Dovecot or play-mailsync is down). */
export const REPLICATOR_USERS = `${REPLICATOR} status '*' 2>/dev/null`;

/** Asks for a full sync of every user now (shell text). */
export const REPLICATE_ALL = `${REPLICATOR} replicate -f '*'`;

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
