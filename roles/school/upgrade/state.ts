import { sh } from 'play';

/**
 * Where a server's move to the next Debian release keeps its own journal: the folder exists from the moment the
 * move started (its VIP handed over) until the site's roles ran on the new release, so the next `npx play upgrade`
 * knows an upgrade is under way there, and resumes it instead of asking for a healthy pair first.
 */
export const UPGRADE_DIR = '/var/lib/play/release-upgrade';

/** Written when apt has finished the move to `codename`: the boot id it finished in (a reboot is owed until a new boot). */
export const aptDoneMarker = (codename: string) => `${UPGRADE_DIR}/${codename}.apt-done`;

/** apt's full output of the move, kept on the server for the administrator. */
export const UPGRADE_LOG = '/var/log/play/release-upgrade.log';

/** The systemd unit the apt steps run in, so that they go on when the controller or its connection dies. */
export const UPGRADE_UNIT = 'play-release-upgrade.service';

/** Succeeds on a server whose move to the next release is under way (a read-only check). */
export const UPGRADE_UNDER_WAY = sh`test -d ${UPGRADE_DIR}`;
