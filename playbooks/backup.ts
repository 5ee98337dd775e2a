import inventory from '../inventory/smknh.ts';
import { schoolBackupPlaybook } from '../roles/school/index.ts';

/**
 * A backup of both servers now: `npx play backup` (or `-i inventory/lab.ts`). Each server backs up to the other
 * (and off-site when the inventory names a repository), as its nightly timer does (roles/backup/README.md).
 */
export default schoolBackupPlaybook(inventory);
