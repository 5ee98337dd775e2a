/**
 * `npm start`: brings the lab up, deploys the school's site into it with live progress, then says where the
 * webmail answers, how to open it from this machine, and the accounts' logins.
 *
 *   tsx test/lab/start.ts
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { LAB_VAULT, LAB_VAULT_PASSWORD_FILE, LAB_VIP } from './config.ts';
import { labUp } from './lab.ts';

const repo = join(import.meta.dirname, '../..');
const domain = 'smknh.sch.id';

await labUp();
const deploy = spawnSync(process.execPath, [join(repo, 'dist/src/cli/play.js'), 'site', '-i', 'inventory/lab.ts'], {
  cwd: repo,
  stdio: 'inherit',
});
if (deploy.status !== 0) {
  process.stderr.write(
    `\nThe deploy failed (exit ${deploy.status}); the lab is still up for a look (npm run lab:down removes it).\n`,
  );
  process.exit(deploy.status ?? 1);
}
const accounts = ['kepsek', 'guru1', 'guru2', 'guru3', 'guru4'];
process.stdout.write(`
The school's webmail answers at https://mail.${domain}/ on the virtual IP ${LAB_VIP}.

From this machine (the lab's names are not in its DNS, and the certificate is the lab's own, self-signed):
  curl -k --resolve mail.${domain}:443:${LAB_VIP} https://mail.${domain}/
  chromium --ignore-certificate-errors --host-resolver-rules="MAP mail.${domain} ${LAB_VIP}" https://mail.${domain}/

Accounts (login = name, mail = name@${domain}): ${accounts.join(', ')}
Their passwords are random, in the lab's encrypted vault, never printed by play; all of them:
  PLAY_VAULT_PASSWORD_FILE=${LAB_VAULT_PASSWORD_FILE} npx play vault view --reveal ${LAB_VAULT}

Is the pair healthy (VIP holder, replication, zone serials, DHCP HA, services, certificate)?
  npx play verify site -i inventory/lab.ts

npm run lab:down removes the lab.
`);
