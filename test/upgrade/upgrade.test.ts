import { beforeAll, describe, expect, it } from 'vitest';
import { sh } from '../../src/connection/sh.ts';
import { stdoutOf } from '../e2e/support/hosts.ts';
import { freshLab } from '../e2e/support/lab.ts';
import { scrub } from '../e2e/support/mail-client.ts';
import { play, playJson } from '../e2e/support/play.ts';

const UPGRADE = ['playbooks/upgrade.ts', '-i', 'inventory/lab.ts'];
const SITE = ['playbooks/site.ts', '-i', 'inventory/lab.ts'];

describe('npx play upgrade: a Debian 12 pair to Debian 13', () => {
  beforeAll(async () => {
    if (process.env.PLAY_LAB_DEBIAN !== '12')
      throw new Error('the upgrade test starts from Debian 12: PLAY_LAB_DEBIAN=12');
    await freshLab({ from: 'site' });
  });

  it('upgrades both servers, one at a time', async () => {
    let shown = 0;
    const run = await play(UPGRADE, {
      onStdout: (text) => {
        process.stdout.write(text.slice(shown));
        shown = text.length;
      },
    });
    expect(run.code, scrub(run.stdout + run.stderr)).toBe(0);
    for (const host of ['primary', 'backup'])
      expect(await stdoutOf(host, sh`grep ^VERSION_ID= /etc/os-release`), host).toBe('VERSION_ID="13"\n');
    const again = await playJson(SITE);
    expect(again.code, scrub(again.stdout)).toBe(0);
    for (const host of ['primary', 'backup']) expect(again.report.hosts[host].changed, host).toBe(0);
    const verify = await play(['verify', ...SITE]);
    expect(verify.code, verify.stdout).toBe(0);
  });
});
