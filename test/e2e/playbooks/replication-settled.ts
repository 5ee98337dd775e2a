import { definePlaybook } from 'play';
import inventory from '../../../inventory/lab.ts';
import { replicationSettled } from '../../../roles/dovecot/index.ts';

/**
 * The school site's last play alone (roles/school/playbook.ts), on the primary: its failed syncs with the backup
 * retried and waited for. The site test runs it with the primary's retry timer stopped, so that only this task can
 * settle them.
 */
export default definePlaybook({
  inventory,
  plays: [{ name: 'replication settled', hosts: 'primary', tasks: [replicationSettled()] }],
});
