import { definePlaybook } from 'play';
import inventory from '../../../inventory/lab.ts';
import dovecot from '../../../roles/dovecot/index.ts';
import postfix from '../../../roles/postfix/index.ts';
import tls from '../../../roles/tls/index.ts';
import users from '../../../roles/users/index.ts';
import type { Account } from '../../../roles/common/school.ts';

const accounts = inventory.groups?.servers?.vars?.accounts as Account[];

/** Account names with a dot, a hyphen and an underscore: every role and script must take them. */
export const NAMED_ACCOUNTS = ['guru.mtk', 'tata-usaha', 'bk_01'];

/**
 * Test knobs (environment variables of the `play` process):
 * - `PLAY_E2E_EXTRA_ACCOUNT=present|absent`: adds the account `alumni1` (with guru4's password from the lab
 *   vault) in that state, to prove an account is created and later removed.
 * - `PLAY_E2E_NAMED_ACCOUNTS=present|absent`: adds {@link NAMED_ACCOUNTS} (guru4's password) in that state.
 * - `PLAY_E2E_RELAY_HOST`: the postfix role's `relayHost` (empty: mail to other domains bounces).
 */
const extra = process.env.PLAY_E2E_EXTRA_ACCOUNT;
const named = process.env.PLAY_E2E_NAMED_ACCOUNTS;
const borrowed = accounts.find((a) => a.name === 'guru4')?.password;
const added = [
  ...(extra === 'present' || extra === 'absent'
    ? [{ name: 'alumni1', fullName: 'Alumni (test)', password: borrowed, state: extra }]
    : []),
  ...(named === 'present' || named === 'absent'
    ? NAMED_ACCOUNTS.map((name) => ({ name, fullName: `Akun ${name}`, password: borrowed, state: named }))
    : []),
];
const vars = added.length > 0 ? { accounts: [...accounts, ...added] } : undefined;

/** The mail core on both lab servers, for the mail e2e tests: the certificate, the accounts, Dovecot, Postfix. */
export default definePlaybook({
  inventory,
  plays: [
    {
      name: 'mail core on the lab',
      hosts: 'servers',
      ...(vars ? { vars } : {}),
      roles: [tls, users, dovecot, { role: postfix, vars: { relayHost: process.env.PLAY_E2E_RELAY_HOST ?? '' } }],
    },
  ],
});
