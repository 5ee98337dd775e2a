import { definePlaybook } from 'play';
import inventory from '../inventory/smknh.ts';
import { schoolHealth } from '../roles/common/health.ts';
import apache from '../roles/apache/index.ts';
import dhcp from '../roles/dhcp/index.ts';
import dns from '../roles/dns/index.ts';
import dovecot from '../roles/dovecot/index.ts';
import fail2ban from '../roles/fail2ban/index.ts';
import keepalived from '../roles/keepalived/index.ts';
import postfix from '../roles/postfix/index.ts';
import roundcube from '../roles/roundcube/index.ts';
import sshd from '../roles/sshd/index.ts';
import tls from '../roles/tls/index.ts';
import users from '../roles/users/index.ts';

/**
 * The school's highly available webmail on its two servers: `npx play site` (the school's inventory) or
 * `npx play site -i inventory/lab.ts` (the lab). One server at a time, the primary first: on a first deploy the
 * backup's secondary zone, DHCP failover peer and mail replica then find a running primary to start from (a
 * secondary that tried a primary not yet serving could wait minutes for its first zone transfer). `npx play
 * verify site` checks the deployed pair (roles/common/health.ts).
 */
export default definePlaybook({
  name: 'school webmail',
  inventory,
  plays: [
    {
      name: 'mail servers',
      hosts: ['primary', 'backup'],
      serial: 1,
      roles: [
        { role: sshd, tags: ['sshd', 'security'] },
        { role: tls, tags: ['tls'] },
        { role: users, tags: ['users', 'mail'] },
        { role: dovecot, tags: ['dovecot', 'mail'] },
        { role: postfix, tags: ['postfix', 'mail'] },
        { role: dns, tags: ['dns'] },
        { role: dhcp, tags: ['dhcp'] },
        // The tls role installs the shared certificate; apache only uses it.
        { role: apache, vars: { manageCertificate: false }, tags: ['apache', 'web'] },
        { role: roundcube, tags: ['roundcube', 'web'] },
        { role: fail2ban, tags: ['fail2ban', 'security'] },
        { role: keepalived, vars: { holdForReplication: true }, tags: ['keepalived'] },
      ],
    },
  ],
  verify: schoolHealth,
});
