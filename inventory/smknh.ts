import { defineInventory } from 'play';
import { openVault } from 'play/vault';
import { SMKNH_ACCOUNTS, schoolInventory } from '../roles/school/index.ts';

/**
 * SMK Nurul Huda as in the paper: primary 192.168.30.1, backup 192.168.30.2, VIP 192.168.30.254 on ens32.
 * Its secrets live in a vault outside the repository (PLAY_VAULT, default /etc/play/smknh.json, mode 0600).
 * On the developers' machine it is only loaded with --list-hosts / --list-tasks, which need no vault.
 */
const vault = openVault(process.env.PLAY_VAULT ?? '/etc/play/smknh.json');

export default defineInventory({
  ...schoolInventory(
    {
      schoolName: 'SMK Nurul Huda',
      domain: 'smknh.sch.id',
      lanInterface: 'ens32',
      lanNetwork: '192.168.30.0/24',
      primaryAddress: '192.168.30.1',
      backupAddress: '192.168.30.2',
      vip: '192.168.30.254',
      // The paper's clients used the primary as their gateway; the VIP keeps working when it dies.
      router: '192.168.30.254',
      dhcpRange: { start: '192.168.30.100', end: '192.168.30.200' },
      accounts: SMKNH_ACCOUNTS,
    },
    vault,
  ),
  ssh: { user: 'root' },
});
