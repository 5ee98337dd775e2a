import { readFileSync } from 'node:fs';
import { definePlaybook } from 'play';
import inventory from '../../../inventory/lab.ts';
import { postfixConfigSet } from '../../../roles/postfix/index.ts';

/**
 * The postfix role's config set on the primary alone, with master.cf read from the file `PLAY_E2E_MASTER_CF` names:
 * the site's rollback test gives it the deployed master.cf plus a listener on a port another program holds. That
 * passes `postfix check`; only the reload finds the port taken.
 */
export default definePlaybook({
  inventory,
  plays: [
    {
      name: 'postfix with a listener on a taken port',
      hosts: 'primary',
      tasks: [postfixConfigSet([{ path: '/etc/postfix/master.cf', content: readFileSync(process.env.PLAY_E2E_MASTER_CF!, 'utf8'), mode: '0644' }])],
    },
  ],
});
