import { readFileSync } from 'node:fs';
import { definePlaybook } from 'play';
import inventory from '../../../inventory/lab.ts';
import { postfixConfigSet } from '../../../roles/postfix/index.ts';
import { LAB_PLATFORM } from '../../lab/config.ts';

/**
 * The postfix role's config set on the primary alone, with master.cf read from the file `PLAY_E2E_MASTER_CF` names:
 * the site's tests give it the deployed master.cf plus a listener on a port another program holds (refused by the
 * set's check), or with port 25 bound to the LAN address alone (it passes the check and the reload; the probe on
 * loopback fails, and the set is rolled back).
 */
export default definePlaybook({
  inventory,
  plays: [
    {
      name: 'postfix with a master.cf of the test',
      hosts: 'primary',
      tasks: [
        postfixConfigSet(
          [
            {
              path: '/etc/postfix/master.cf',
              content: readFileSync(process.env.PLAY_E2E_MASTER_CF!, 'utf8'),
              mode: '0644',
            },
          ],
          LAB_PLATFORM,
        ),
      ],
    },
  ],
});
