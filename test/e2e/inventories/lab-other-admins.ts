import { defineInventory } from 'play';
import lab from '../../../inventory/lab.ts';

/**
 * The lab's school with administrators that leave out root, the user play connects as: the sshd role must refuse
 * this on the server rather than lock play out.
 */
const { source: _source, ...spec } = lab;
const servers = spec.groups!.servers;
export default defineInventory({
  ...spec,
  groups: { ...spec.groups, servers: { ...servers, vars: { ...servers.vars, sshAdmins: ['schooladmin'] } } },
});
