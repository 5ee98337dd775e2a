import { definePlaybook } from 'play';
import inventory from '../../../inventory/lab.ts';
import dhcp from '../../../roles/dhcp/index.ts';
import dns from '../../../roles/dns/index.ts';

/**
 * The school's network services on both lab servers: DNS (primary and secondary) and DHCP (a failover pair).
 * `PLAY_E2E_DNS_RECORD="NAME TYPE VALUE"` adds one record to the school zone, to change the zone on purpose.
 */
const extra = process.env.PLAY_E2E_DNS_RECORD?.trim().split(/\s+/);
const dnsRecords = extra ? [{ name: extra[0], type: extra[1], value: extra.slice(2).join(' ') }] : [];

export default definePlaybook({
  inventory,
  plays: [
    { name: 'network services on the lab', hosts: 'servers', roles: [{ role: dns, vars: { dnsRecords } }, dhcp] },
  ],
});
