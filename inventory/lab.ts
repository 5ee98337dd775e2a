import { defineInventory, openVault } from 'play';
import { CONTROLLER_ADDRESS, LAB_HOSTS, LAB_KEY, LAB_KNOWN_HOSTS, LAB_VAULT, LAB_VIP } from '../test/lab/config.ts';
import { SMKNH_ACCOUNTS, schoolInventory } from '../roles/school/index.ts';

const [primary, backup] = LAB_HOSTS;
const subnet = primary.address.replace(/\.\d+$/, '');

/**
 * The school on the lab (`npm run lab:up`): two booted Debian 12 hosts on 198.18.30.0/24 (198.18.N.0/24 with
 * PLAY_LAB=N), reached as root with the lab's key; the lab made its vault with random secrets.
 */
export default defineInventory({
  ...schoolInventory(
    {
      schoolName: 'SMK Nurul Huda',
      domain: 'smknh.sch.id',
      lanInterface: 'eth0',
      lanNetwork: `${subnet}.0/24`,
      primaryAddress: primary.address,
      backupAddress: backup.address,
      vip: LAB_VIP,
      router: CONTROLLER_ADDRESS,
      dhcpRange: { start: `${subnet}.100`, end: `${subnet}.200` },
      accounts: SMKNH_ACCOUNTS,
    },
    openVault(LAB_VAULT),
  ),
  ssh: { user: 'root', identityFile: LAB_KEY, knownHostsFile: LAB_KNOWN_HOSTS },
});
