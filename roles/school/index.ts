/**
 * A ready school site (`play/school`): the inventory of a school's two servers from one description of the
 * school, the playbook that deploys every role on them, and the secrets its vault holds. A school's project is
 * one inventory file and three lines of playbook (`npx play init` writes both).
 */
export { schoolInventory, SMKNH_ACCOUNTS, type SchoolSite } from './inventory.ts';
export { schoolPlaybook } from './playbook.ts';
