import { definePlaybook } from 'play';
import inventory from '../../../inventory/lab.ts';
import dovecot from '../../../roles/dovecot/index.ts';

/**
 * The dovecot role on the primary alone, told to listen on an address the server does not have (as a typo in an
 * inventory would): `doveconf` takes the set, and only the restart finds that Dovecot cannot bind it. The site's
 * rollback test expects the set to be rolled back and Dovecot restarted on the previous files.
 */
export default definePlaybook({
  inventory,
  plays: [
    {
      name: 'dovecot on an address the server lacks',
      hosts: 'primary',
      roles: [{ role: dovecot, vars: { listen: '198.18.99.99' } }],
    },
  ],
});
