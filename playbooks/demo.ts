import { definePlaybook } from 'play';
import inventory from '../inventory/local.ts';
import demo from '../roles/demo/index.ts';

/** `npx play demo`: the demo role on the controller itself (writes only under /tmp/play-demo). */
export default definePlaybook({
  name: 'demo',
  inventory,
  plays: [{ name: 'demo on the controller', hosts: 'demo', roles: [demo] }],
});
