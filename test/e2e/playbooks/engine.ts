import { definePlaybook } from 'play';
import inventory from '../../../inventory/lab.ts';
import engine from '../roles/engine/index.ts';

/** The engine's test role on both lab servers. */
export default definePlaybook({ inventory, plays: [{ name: 'engine on the lab', hosts: 'servers', roles: [engine] }] });
