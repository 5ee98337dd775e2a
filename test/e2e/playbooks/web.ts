import { definePlaybook } from 'play';
import inventory from '../../../inventory/lab.ts';
import apache from '../../../roles/apache/index.ts';
import mariadb from '../../../roles/mariadb/index.ts';
import roundcube from '../../../roles/roundcube/index.ts';

/** The web part of the mail stack on both lab servers: apache2 with the mail site, MariaDB replicating both ways, and Roundcube. */
export default definePlaybook({
  inventory,
  plays: [{ name: 'webmail on the lab', hosts: 'servers', serial: 1, roles: [apache, mariadb, roundcube] }],
});
