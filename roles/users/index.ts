import { defineRole, directory, Type, user, type Task } from 'play';
import { Account, reservedAccountName } from '../common/school.ts';

/** The home of a school account: the users role creates it, dovecot's user list points at it. */
export function homeOf(name: string): string {
  return `/home/${name}`;
}

/** The login shell of the school's accounts: mail only, no shell login on the servers. */
export const MAIL_ONLY_SHELL = '/usr/sbin/nologin';

/**
 * The school's accounts as local users: a home with an empty Maildir (cur, new, tmp; 0700, the user's),
 * the password stored as a SHA-512-crypt hash (left alone while it matches the vault's), the shell
 * `/usr/sbin/nologin` (the accounts read and send mail; they never log in to the servers). An account with
 * `state: 'absent'` loses its login; its home (the mail) stays for the school to archive unless
 * `removeAbsentHomes` is set.
 */
export default defineRole({
  name: 'users',
  dir: import.meta.dirname,
  schema: Type.Object({
    accounts: Type.Array(Account),
    removeAbsentHomes: Type.Boolean({ description: 'delete the home (and mail) of an absent account with it' }),
  }),
  defaults: { removeAbsentHomes: false },
  check: (vars) => {
    const issues: { path: string; message: string }[] = [];
    const seen = new Set<string>();
    vars.accounts.forEach((account, index) => {
      if (seen.has(account.name))
        issues.push({ path: `vars.accounts[${index}].name`, message: `${account.name} is listed twice` });
      const reserved = reservedAccountName(account.name);
      if (reserved)
        issues.push({
          path: `vars.accounts[${index}].name`,
          message: `"${account.name}" is ${reserved} on Debian 12: choose another name for this account`,
        });
      seen.add(account.name);
      if (account.state !== 'absent' && account.password === undefined) {
        issues.push({ path: `vars.accounts[${index}].password`, message: `account ${account.name} needs a password` });
      }
    });
    return issues;
  },
  tasks: ({ vars }) =>
    vars.accounts.flatMap((account): Task[] => {
      if (account.state === 'absent')
        return [user({ name: account.name, state: 'absent', removeHome: vars.removeAbsentHomes })];
      const home = homeOf(account.name);
      return [
        user({
          name: account.name,
          comment: account.fullName,
          home,
          shell: MAIL_ONLY_SHELL,
          groups: [],
          password: account.password,
        }),
        directory({ path: home, owner: account.name, group: account.name, mode: '0700' }),
        ...['Maildir', 'Maildir/cur', 'Maildir/new', 'Maildir/tmp'].map((dir) =>
          directory({ path: `${home}/${dir}`, owner: account.name, group: account.name, mode: '0700' }),
        ),
      ];
    }),
});
