import { defineInventory } from 'play';
import { openVault } from 'play/vault';
import { LAB_KEY, LAB_KNOWN_HOSTS, LAB_SITE, LAB_VAULT, LAB_VAULT_PASSWORD_FILE } from '../test/lab/config.ts';
import { schoolInventory } from '../roles/school/index.ts';

/**
 * The school on the lab (`npm run lab:up`): two booted Debian 12 hosts on 198.18.30.0/24 (198.18.N.0/24 with
 * PLAY_LAB=N), reached as root with the lab's key; the lab made its encrypted vault and keeps its passphrase in a
 * file beside it, which is this project's own passphrase setting (as `passwordFile` in a school's inventory).
 */
export default defineInventory({
  ...schoolInventory(LAB_SITE, openVault(LAB_VAULT, { passwordFile: LAB_VAULT_PASSWORD_FILE })),
  ssh: { user: 'root', identityFile: LAB_KEY, knownHostsFile: LAB_KNOWN_HOSTS },
});
