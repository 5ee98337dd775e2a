import { createHash } from 'node:crypto';
import { command, joinCommands, sh, type ShellCommand, type Task } from 'play';

/** The mailboxes every school account has (Dovecot's special-use folders, besides INBOX). */
export const SCHOOL_MAILBOXES = ['INBOX', 'Drafts', 'Sent', 'Junk', 'Trash'] as const;

/**
 * The identity of one mailbox, the same on both servers: a GUID and a UIDVALIDITY derived from the domain, the
 * account and the mailbox name.
 *
 * Why: each server would otherwise give a new mailbox a random GUID the first time Dovecot opens it, and
 * Dovecot 2.3.19's dsync does not settle two empty mailboxes of the same name, the same UIDVALIDITY (both made
 * in the same second) and different GUIDs: every sync swaps the two GUIDs and ends in "Remote lost mailbox
 * GUID", so replication never succeeds (seen in the lab). Mailboxes that start identical never conflict.
 *
 * @example
 * mailboxIdentity('smknh.sch.id', 'kepsek', 'INBOX') // { guid: '3f…', uidValidity: 1234567891 }
 */
export function mailboxIdentity(
  domain: string,
  account: string,
  mailbox: string,
): { guid: string; uidValidity: number } {
  const hash = createHash('sha256').update(`${domain}\0${account}\0${mailbox}`).digest('hex');
  // A positive 31-bit number, never 0 (IMAP's UIDVALIDITY is a non-zero 32-bit value).
  return { guid: hash.slice(0, 32), uidValidity: Number.parseInt(hash.slice(32, 40), 16) & 0x7fffffff || 1 };
}

/** The Maildir++ folder of a mailbox, relative to the Maildir: `.` for INBOX, `.Sent` for Sent. */
export function maildirFolder(mailbox: string): string {
  return mailbox === 'INBOX' ? '.' : `.${mailbox}`;
}

/**
 * The script that creates any of an account's school mailboxes that does not exist yet, with the identity of
 * {@link mailboxIdentity} (its Maildir folder, `maildirfolder` marker and a `dovecot-uidlist` holding only the
 * GUID and UIDVALIDITY), and the check that all exist. A mailbox that exists is never touched.
 */
export function seedScript(
  domain: string,
  account: { name: string; maildir: string },
): { cmd: ShellCommand; done: ShellCommand } {
  const missing = SCHOOL_MAILBOXES.map(
    (mailbox) => sh`test -e ${`${account.maildir}/${maildirFolder(mailbox)}/dovecot-uidlist`}`,
  );
  const seeds = SCHOOL_MAILBOXES.map((mailbox) => {
    const { guid, uidValidity } = mailboxIdentity(domain, account.name, mailbox);
    return sh`seed ${maildirFolder(mailbox)} ${guid} ${uidValidity}`;
  });
  const script = joinCommands(
    [
      sh`set -e; cd ${account.maildir}; owner=${account.name}`,
      sh`seed() { [ -e "$1/dovecot-uidlist" ] && return 0; install -d -m 0700 -o "$owner" -g "$owner" "$1" "$1/cur" "$1/new" "$1/tmp"; if [ "$1" != . ]; then install -m 0600 -o "$owner" -g "$owner" /dev/null "$1/maildirfolder"; fi; printf '3 V%s N1 G%s\\n' "$3" "$2" > "$1/dovecot-uidlist.new"; chown "$owner:" "$1/dovecot-uidlist.new"; chmod 0600 "$1/dovecot-uidlist.new"; mv "$1/dovecot-uidlist.new" "$1/dovecot-uidlist"; }`,
      ...seeds,
    ],
    '\n',
  );
  return { cmd: script, done: joinCommands(missing, ' && ') };
}

/** One task per account: {@link seedScript}, run only while one of the account's mailboxes is missing. */
export function seedMailboxes(domain: string, account: { name: string; maildir: string }): Task {
  const { cmd, done } = seedScript(domain, account);
  return command({ name: `mailboxes of ${account.name} (the same identity on both servers)`, cmd, unless: done });
}
