import inventory from '../inventory/smknh.ts';
import { schoolUpgradePlaybook } from '../roles/school/index.ts';

/**
 * The pair's upgrade from Debian 12 to Debian 13, one server at a time while the school keeps mailing:
 * `npx play upgrade` (or `-i inventory/lab.ts`), `--check` for the steps each server still needs
 * (roles/school/upgrade/README.md).
 */
export default schoolUpgradePlaybook(inventory);
