import inventory from '../inventory/smknh.ts';
import { schoolRestorePlaybook } from '../roles/school/index.ts';

/**
 * One account's mail back from the backups: `npx play restore -e account=guru2 [-e folder=Projects]
 * [-e at=2026-12-01T08:00:00Z] [-e server=backup]`; `--check` shows the snapshot and how many messages would come
 * back, per folder (roles/backup/README.md).
 */
export default schoolRestorePlaybook(inventory);
