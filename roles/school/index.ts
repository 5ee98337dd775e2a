import { defineInitTemplate } from 'play';

/**
 * A ready school site (`play/school`): the inventory of a school's two servers from one description of the
 * school, the playbook that deploys every role on them, and the secrets its vault holds. A school's project is
 * one inventory file and three lines of playbook (`npx play init` writes both).
 */
export { schoolInventory, SMKNH_ACCOUNTS, type SchoolSite } from './inventory.ts';
export { schoolBackupPlaybook, schoolPlaybook, schoolRestorePlaybook, RestoreVars, SITE_ROLES } from './playbook.ts';
export { schoolUpgradePlaybook, BOOKWORM_TO_TRIXIE } from './upgrade-playbook.ts';

/**
 * The school's project template, what `npx play init DIR` uses by default (`--from play/school`): the inventory of
 * its two servers, its playbook and an encrypted vault with every secret of the site (see ./init.ts).
 */
export const initTemplate = defineInitTemplate({
  description: "a school's webmail pair (two Debian servers, a VIP, DNS, DHCP, mail and webmail), with its vault",
  run: async (argv, io) => (await import('./init.ts')).initCommand(argv, io),
});
