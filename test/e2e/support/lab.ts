import { expect } from 'vitest';
import { LAB_HOSTS } from '../../lab/config.ts';
import { labDown, labUp } from '../../lab/lab.ts';
import { restoreSiteSnapshot, saveSiteSnapshot } from '../../lab/site-snapshot.ts';
import { onlyHolder, untilVip } from './failover.ts';
import { scrub } from './mail-client.ts';
import { playJson } from './play.ts';

/**
 * What a test file starts from: two bare servers; both pre-staged with every package the school site installs
 * (`play site --tags packages`: installed, nothing configured); or both running the school site as `play site`
 * deploys it.
 */
export type LabStart = 'bare' | 'packages' | 'site';

/** The school site on the lab's inventory, as `play` takes it. */
const LAB_SITE = ['playbooks/site.ts', '-i', 'inventory/lab.ts'];

/** Pre-stages the lab's servers: every package the school site needs, in one go, and nothing configured. */
export const PRESTAGE_SITE = [...LAB_SITE, '--tags', 'packages', '--no-gate'];

/**
 * A fresh lab for one test file: whatever an earlier file did to the hosts is gone (about 10 s).
 * Call it from `beforeAll`; the global teardown removes the lab at the end of the run. While writing a test,
 * `PLAY_REUSE_LAB=1` keeps the running lab as it is (with `PLAY_KEEP_LAB=1`, and `-t` to pick tests).
 *
 * `from: 'site'` starts from both servers running the school site (playbooks/site.ts on inventory/lab.ts), booted
 * from the snapshot site.test saves after its first deploy (test/lab/site-snapshot.ts), or, when there is none
 * made from these sources, deployed on bare servers and saved for the next file. `from: 'packages'` starts from
 * both servers pre-staged, booted from the snapshot site.test saves after pre-staging them, or pre-staged here and
 * saved: the files that test what the roles configure, not how Debian installs their packages (another-school, the
 * roles' own), start there. The files that prove a first install (site on Debian 12, engine, vip) start bare.
 */
export async function freshLab(options: { from?: LabStart } = {}): Promise<void> {
  if (process.env.PLAY_REUSE_LAB) return;
  await labDown();
  if (options.from === 'site' && restoreSiteSnapshot()) return bootDeployedSite();
  if (options.from === 'packages' && restoreSiteSnapshot('packages')) return labUp();
  await labUp();
  if (options.from === 'packages') {
    const prestaged = await playJson(PRESTAGE_SITE);
    expect(prestaged.code, scrub(prestaged.stdout + prestaged.stderr)).toBe(0);
    return snapshotPrestagedServers();
  }
  if (options.from !== 'site') return;
  const site = await playJson(LAB_SITE);
  expect(site.code, scrub(site.stdout + site.stderr)).toBe(0);
  await snapshotDeployedSite();
}

/**
 * Powers both servers off cleanly (as a UPS does before the batteries run out), saves them as the snapshot of the
 * deployed site that later files start from, and boots them again from it. Returns once the primary holds the VIP.
 */
export async function snapshotDeployedSite(): Promise<void> {
  await saveSiteSnapshot();
  await labDown();
  if (!restoreSiteSnapshot()) throw new Error('the snapshot of the deployed site just saved is missing');
  await bootDeployedSite();
}

/**
 * Powers both pre-staged servers off cleanly, saves them as the snapshot later files start from
 * (`from: 'packages'`), and boots them again from it.
 */
export async function snapshotPrestagedServers(): Promise<void> {
  await saveSiteSnapshot('packages');
  await labDown();
  if (!restoreSiteSnapshot('packages')) throw new Error('the snapshot of the pre-staged servers just saved is missing');
  await labUp();
}

/**
 * Boots the restored hosts and waits until the primary holds the VIP (booted together, the backup may hold it first;
 * the primary takes it once its mailboxes are caught up and its preempt delay is over).
 */
async function bootDeployedSite(): Promise<void> {
  await labUp();
  await untilVip('the primary to hold the VIP', onlyHolder(LAB_HOSTS[0].name), 120_000, performance.now(), 250);
}
