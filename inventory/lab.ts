import { defineInventory } from 'play';
import { LAB_HOSTS, LAB_KEY, LAB_KNOWN_HOSTS } from '../test/lab/config.ts';

const [primary, backup] = LAB_HOSTS;

/**
 * The lab (`npm run lab:up`): two booted Debian 12 hosts on 198.18.30.0/24 (198.18.N.0/24 with PLAY_LAB=N),
 * reached as root with the lab's key; their host keys are in the lab's own known_hosts.
 */
export default defineInventory({
  hosts: {
    primary: { address: primary.address },
    backup: { address: backup.address },
  },
  groups: {
    servers: { hosts: ['primary', 'backup'] },
  },
  ssh: { user: 'root', identityFile: LAB_KEY, knownHostsFile: LAB_KNOWN_HOSTS },
});
