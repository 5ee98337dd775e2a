import { definePlaybook, type Inventory, type Playbook } from 'play';
import apache from '../apache/index.ts';
import { schoolHealth } from '../common/health.ts';
import dhcp from '../dhcp/index.ts';
import dns from '../dns/index.ts';
import dovecot, { replicationSettled } from '../dovecot/index.ts';
import fail2ban from '../fail2ban/index.ts';
import keepalived from '../keepalived/index.ts';
import postfix from '../postfix/index.ts';
import roundcube from '../roundcube/index.ts';
import sshd from '../sshd/index.ts';
import tls from '../tls/index.ts';
import users from '../users/index.ts';

/**
 * A school's highly available webmail on its two servers, as one playbook: first both servers install every
 * role's packages at once, then every role runs one server at a time, the primary first. On a first deploy the backup's secondary zone, DHCP HA partner and mail replica then find
 * a running primary to start from (a secondary that tried a primary not yet serving could wait minutes for its
 * first zone transfer). Its `verify` is the pair's health check (`npx play verify site`).
 *
 * @example
 * // playbooks/site.ts of a school's project
 * import { schoolPlaybook } from 'play/school';
 * import inventory from '../inventory/smahb.ts';
 * export default schoolPlaybook(inventory);
 */
export function schoolPlaybook(inventory: Inventory): Playbook {
  return definePlaybook({
    name: 'school webmail',
    inventory,
    plays: [
      {
        name: 'mail servers',
        hosts: ['primary', 'backup'],
        serial: 1,
        // Packages have no order between the servers: both install every role's packages at once, in one apt-get
        // each, before the primary's batch. Each role's packages come before anything else of the role, except
        // dovecot's stop bound, which makes systemd apply it at once whatever came first.
        installPackagesFirst: true,
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
      {
        // The primary went first and could not reach the backup's replication yet: its replicator holds those
        // syncs as failed until its retry timer comes round. Settled here, so `play verify` right after says healthy.
        name: 'replication settled',
        hosts: ['primary', 'backup'],
        tags: ['dovecot', 'mail'],
        tasks: [replicationSettled()],
      },
    ],
    verify: schoolHealth,
  });
}
