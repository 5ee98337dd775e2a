import { fileURLToPath } from 'node:url';
import { defineInventory } from 'play';

const state = (file: string) => fileURLToPath(new URL(`../test/lab/.state/${file}`, import.meta.url));

/**
 * The lab (`npm run lab:up`): two booted Debian 12 hosts on 198.18.30.0/24, reached as root with the lab's key;
 * their host keys are in the lab's own known_hosts.
 */
export default defineInventory({
  hosts: {
    primary: { address: '198.18.30.1' },
    backup: { address: '198.18.30.2' },
  },
  groups: {
    servers: { hosts: ['primary', 'backup'] },
  },
  ssh: { user: 'root', identityFile: state('id_ed25519'), knownHostsFile: state('known_hosts') },
});
