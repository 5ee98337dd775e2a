import { definePlaybook, type Inventory, type Play, type Playbook } from 'play';
import { backupNow } from '../backup/restore.ts';
import { schoolHealth } from '../common/health.ts';
import { replicationSettled } from '../dovecot/index.ts';
import { upgradePreflight, type ReleaseMove } from './upgrade/preflight.ts';
import {
  aptToNextRelease,
  moveFinished,
  rebootIntoNextRelease,
  replicationWithoutPeerNotify,
  sourcesOfNextRelease,
  vipBackHere,
  vipHandedOver,
} from './upgrade/move.ts';
import { UPGRADE_UNDER_WAY } from './upgrade/state.ts';
import { SITE_ROLES } from './playbook.ts';

/** The move `npx play upgrade` makes: Debian 12 (bookworm) to Debian 13 (trixie). */
export const BOOKWORM_TO_TRIXIE: ReleaseMove = {
  from: { major: 12, codename: 'bookworm' },
  to: { major: 13, codename: 'trixie' },
  freeMegabytes: 2000,
};

const vipOf = (vars: Readonly<Record<string, unknown>>) => String(vars.vip);

/** One server's turn: it hands the VIP over, apt moves it, it reboots, the site's roles run on the new release. */
function serverTurn(host: 'primary' | 'backup', move: ReleaseMove): Play[] {
  const to = `Debian ${move.to.major}`;
  return [
    {
      name: `${host}: to ${to}`,
      hosts: [host],
      anyErrorsFatal: true,
      // Out of service on purpose until the next play has run the site's roles on the new release.
      healthGate: false,
      tasks: ({ vars }) => [
        vipHandedOver(vipOf(vars)),
        sourcesOfNextRelease(move),
        aptToNextRelease(move),
        rebootIntoNextRelease(move),
      ],
    },
    {
      // The health gate (the playbook's verify, this server's rows) must pass after it before the next turn.
      name: `${host}: the site on ${to}`,
      hosts: [host],
      anyErrorsFatal: true,
      installPackagesFirst: true,
      roles: SITE_ROLES,
      tasks: [replicationSettled()],
    },
    { name: `${host}: moved to ${to}`, hosts: [host], anyErrorsFatal: true, tasks: [moveFinished()] },
  ];
}

/**
 * The upgrade of a school's pair to the next Debian release, one server at a time while the school keeps mailing
 * (`npx play upgrade`, `--check` for the plan): a preflight of both servers (a healthy pair, free space, no held
 * or foreign packages, the next release reachable) that changes nothing, a backup of both, then the backup server's
 * turn and the primary's (the VIP to the peer, apt, a reboot, the site's roles on the new release, the health gate),
 * and the VIP back on the primary. Every step is idempotent and each server keeps its progress in
 * /var/lib/play/release-upgrade: a run that died resumes where each server stands.
 *
 * @example
 * export default schoolUpgradePlaybook(inventory); // playbooks/upgrade.ts
 */
export function schoolUpgradePlaybook(inventory: Inventory, move: ReleaseMove = BOOKWORM_TO_TRIXIE): Playbook {
  const vipBack: Play = {
    name: 'the VIP back on the primary',
    hosts: ['primary'],
    // With preempt off, the VIP stays where it is, as the school chose.
    tasks: ({ vars }) => (vars.preempt === false ? [] : [vipBackHere(vipOf(vars))]),
  };
  return definePlaybook({
    name: 'school upgrade',
    inventory,
    plays: [
      {
        name: 'preflight',
        hosts: ['primary', 'backup'],
        anyErrorsFatal: true,
        // A pair with a move under way (a run died) is resumed, not asked to be healthy first.
        checkHealthFirst: { unless: UPGRADE_UNDER_WAY },
        tasks: [upgradePreflight(move)],
      },
      {
        name: 'back up both servers',
        hosts: ['primary', 'backup'],
        anyErrorsFatal: true,
        // Once for the whole upgrade: a resumed run, whose servers may be half-way, does not back up again.
        tasks: [backupNow({ marker: `/var/lib/play/backed-up-before-${move.to.codename}` })],
      },
      {
        // For the length of the backup server's turn, the primary's Dovecot 2.3 replicates to a Dovecot 2.4 peer.
        name: 'replication across releases',
        hosts: ['primary', 'backup'],
        anyErrorsFatal: true,
        tasks: [replicationWithoutPeerNotify()],
      },
      ...serverTurn('backup', move),
      ...serverTurn('primary', move),
      vipBack,
    ],
    verify: schoolHealth,
  });
}
