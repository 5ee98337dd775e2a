import { definePlaybook } from 'play';
import inventory from '../../../inventory/lab.ts';
import keepalived from '../../../roles/keepalived/index.ts';

/**
 * The keepalived role alone on both lab servers. The mail stack is not installed here, so the track script
 * checks sshd (port 22) instead of smtp/imaps/https. `PLAY_E2E_VIP` overrides the VIP (the e2e test gives
 * one outside the LAN, which must be refused before any host is touched).
 */
export default definePlaybook({
  inventory,
  plays: [
    {
      name: 'keepalived on the lab',
      hosts: 'servers',
      vars: {
        trackServices: [{ name: 'sshd', port: 22, protocol: 'banner', expect: 'SSH-2.0-' }],
        ...(process.env.PLAY_E2E_VIP ? { vip: process.env.PLAY_E2E_VIP } : {}),
      },
      roles: [keepalived],
    },
  ],
});
