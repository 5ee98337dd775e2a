import inventory from '../inventory/smknh.ts';
import { schoolPlaybook } from '../roles/school/index.ts';

/**
 * The school's highly available webmail on its two servers: `npx play site` (the school's inventory) or
 * `npx play site -i inventory/lab.ts` (the lab). Every role, one server at a time, the primary first
 * (roles/school/playbook.ts); `npx play verify site` checks the deployed pair (roles/common/health.ts).
 */
export default schoolPlaybook(inventory);
