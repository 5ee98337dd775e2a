import { command, definePlaybook, file, reboot, sh } from 'play';
import inventory from '../../../inventory/lab.ts';

/**
 * Reboots the backup in the middle of a play, as an upgrade does: a file before, the reboot, then a command that
 * writes the boot it ran on; a later play writes another file. `PLAY_E2E_REBOOT_TIMEOUT` sets the reboot's
 * timeout (a short one for the test of a host that does not come back).
 */
export default definePlaybook({
  inventory,
  plays: [
    {
      name: 'reboot',
      hosts: 'backup',
      tasks: [
        file({ path: '/srv/before-reboot', content: 'before\n' }),
        reboot({ timeoutSeconds: Number(process.env.PLAY_E2E_REBOOT_TIMEOUT ?? 120) }),
        command({ name: 'after the reboot', cmd: sh`cat /proc/sys/kernel/random/boot_id > /srv/after-reboot` }),
      ],
    },
    { name: 'the next play', hosts: 'backup', tasks: [file({ path: '/srv/next-play', content: 'next\n' })] },
  ],
});
