import { defineInventory } from 'play';

/** The controller itself, reached without SSH: for the demo playbook. */
export default defineInventory({
  hosts: {
    controller: { address: 'localhost', connection: 'local', vars: { site: 'SMK Nurul Huda (demo)' } },
  },
  groups: { demo: { hosts: ['controller'] } },
});
