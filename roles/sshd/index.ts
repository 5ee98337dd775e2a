import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineRole, packages, service, sh, template, Type } from 'play';
import { Account, AccountName } from '../common/school.ts';

/** The drop-in the role writes: sorted first in /etc/ssh/sshd_config.d, so its values win. */
export const SSHD_HARDENING = '/etc/ssh/sshd_config.d/00-play.conf';

/**
 * The check a new drop-in passes before it replaces the live one (files/check-sshd-config.sh): the whole
 * configuration as it would be must load, and must still let in the user play is connected as. A list of
 * administrators without that user would lock play out of the server: the file is then refused, the live one kept.
 */
const CHECK_SSHD_CONFIG = readFileSync(join(import.meta.dirname, 'files', 'check-sshd-config.sh'), 'utf8');

/**
 * sshd for a school server on a hostile LAN: only the inventory's administrators (`sshAdmins`) may log in, by
 * key only; root never with a password; the school's mail accounts not at all; no forwarding of any kind, so
 * no login reaches loopback services through sshd. A drop-in that would lock out the user play connects as is
 * refused on the server before it replaces anything.
 */
export default defineRole({
  name: 'sshd',
  dir: import.meta.dirname,
  schema: Type.Object({
    schoolName: Type.String({ minLength: 1 }),
    sshAdmins: Type.Array(AccountName, {
      minItems: 1,
      uniqueItems: true,
      description: 'the users allowed to log in over ssh, by key',
    }),
    accounts: Type.Optional(Type.Array(Account)),
  }),
  defaults: { sshAdmins: ['root'] },
  check: (vars) =>
    (vars.accounts ?? [])
      .filter((a) => vars.sshAdmins.includes(a.name))
      .map((a) => ({
        path: 'vars.sshAdmins',
        message: `${a.name} is a school mail account: teachers and the head are users, not administrators (they may not log in over ssh)`,
      })),
  tasks: ({ vars }) => [
    packages({ names: ['openssh-server'] }),
    template({
      src: 'hardening.conf.ejs',
      dest: SSHD_HARDENING,
      mode: '0644',
      owner: 'root',
      group: 'root',
      vars: { schoolName: vars.schoolName, sshAdmins: vars.sshAdmins },
      validate: (p) => sh`sh -c ${CHECK_SSHD_CONFIG} check-sshd-config ${p} ${SSHD_HARDENING}`,
      notify: 'reload ssh',
    }),
    service({ name: 'ssh', state: 'started', enabled: true }),
  ],
  // A reload keeps every open session (play's own too).
  handlers: () => [service({ taskName: 'reload ssh', name: 'ssh', state: 'reloaded' })],
});
