import { command, definePlaybook, sh } from 'play';
import inventory from '../../../inventory/lab.ts';
import engine from '../roles/engine/index.ts';

/**
 * The engine's test role (the same play as playbooks/engine.ts), then a later step that fails while
 * /etc/play-fail-now exists on a host and waits while /etc/play-hold does: the deploy-safety tests make a change
 * that notifies a reload, then let the run fail or hold it there (to kill it, or to hold its lock).
 * `PLAY_E2E_MOTD` sets the motd, so two runs write different files.
 */
export default definePlaybook({
  inventory,
  plays: [
    {
      name: 'engine on the lab',
      hosts: 'servers',
      roles: [{ role: engine, vars: { motd: process.env.PLAY_E2E_MOTD ?? 'Managed by play' } }],
      tasks: [
        command({
          name: 'a later step',
          cmd: sh`if [ -f /etc/play-fail-now ]; then echo 'a later step failed' >&2; exit 7; fi; while [ -f /etc/play-hold ]; do sleep 0.1; done`,
        }),
      ],
    },
  ],
});
