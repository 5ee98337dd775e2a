import { command, reboot, sh, type Task } from 'play';
import { aptDoneMarker, UPGRADE_DIR, UPGRADE_LOG, UPGRADE_UNIT } from './state.ts';
import type { ReleaseMove } from './preflight.ts';

/** A shell test that an SMTP server answers at this address with its 220 banner within 2 s. */
const bannerAt = (address: string) =>
  sh`timeout 3 bash -c ${`exec 3<>/dev/tcp/${address}/25 && read -r -t 2 line <&3 && [ "\${line#220}" != "$line" ]`} 2>/dev/null`;

/** A shell test that this server holds the address (the VIP) on one of its interfaces. */
const holdsHere = (address: string) => sh`ip -o -4 addr show | grep -q ${` ${address}/`}`;

/**
 * The server leaves the pair's VRRP for its move, which starts here (its journal folder is made once the peer serves) (keepalived stopped and disabled, so it neither holds nor takes the
 * VIP until the site's roles enable it again on the new release), then waits until the peer holds the VIP and its
 * SMTP banner answers there. A peer that does not serve within 60 s gets this server's keepalived back, and the task
 * fails: a server never leaves the pair without the VIP.
 *
 * @example
 * tasks: [vipHandedOver('198.18.30.254')]
 */
export function vipHandedOver(vip: string): Task {
  const holds = holdsHere(vip);
  return command({
    name: 'the VIP with the peer',
    cmd: sh`systemctl disable --now keepalived.service 2>/dev/null || true
i=0
while [ $i -lt 120 ]; do
  if ! ${holds} && ${bannerAt(vip)}; then mkdir -p ${UPGRADE_DIR}; exit 0; fi
  sleep 0.5; i=$((i + 1))
done
systemctl enable --now keepalived.service
echo ${`the peer did not take the VIP ${vip} (no SMTP banner there within 60 s): this server's keepalived runs again, nothing else was changed`} >&2
exit 1`,
    unless: sh`test -d ${UPGRADE_DIR} && ! systemctl is-enabled --quiet keepalived.service && ! systemctl is-active --quiet keepalived.service && ! ${holds} && ${bannerAt(vip)}`,
    helperFile: import.meta.url,
  });
}

/**
 * apt's sources name the next release (every source of the old one: the release, its `-updates` and `-security`),
 * as Debian's release notes say; other sources are left as they are. One suite at a time (`:a … ta`): in a deb822
 * `Suites: bookworm bookworm-updates` the two names share the space between them.
 */
export function sourcesOfNextRelease(move: ReleaseMove): Task {
  const files = sh`/etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources`;
  const from = move.from.codename;
  return command({
    name: `apt sources of Debian ${move.to.major}`,
    cmd: sh`for f in ${files}; do [ -f "$f" ] && sed -i -E ${`:a;s/([[:space:]])${from}([[:space:]-]|$)/\\1${move.to.codename}\\2/;ta`} "$f"; done; true`,
    unless: sh`! grep -Eqs ${`^[^#]*[[:space:]]${from}([[:space:]-]|$)`} ${files}`,
    helperFile: import.meta.url,
  });
}

/**
 * Debian's documented steps, non-interactively: `apt-get update`, `upgrade --without-new-pkgs`, then
 * `full-upgrade`, keeping every config file that differs from the package's (play manages them; the site's roles
 * write the new release's) and taking the package's new version of any other. They run in a systemd unit of their
 * own (`play-release-upgrade.service`), so that they go on if the controller or its connection dies; the next run
 * waits for that unit instead of starting another. A dpkg that was interrupted is finished first. The whole output
 * is in /var/log/play/release-upgrade.log; a failure names the step and shows the end of it. Done: the boot it was
 * done in is recorded, and a reboot is owed until the server boots again.
 */
export function aptToNextRelease(move: ReleaseMove): Task {
  const marker = aptDoneMarker(move.to.codename);
  const running = `${UPGRADE_DIR}/running`;
  const script = `${UPGRADE_DIR}/steps.sh`;
  const steps = sh`set -u
log=${UPGRADE_LOG}
mkdir -p /var/log/play ${UPGRADE_DIR}
echo $$ > ${running}
export DEBIAN_FRONTEND=noninteractive APT_LISTCHANGES_FRONTEND=none UCF_FORCE_CONFFOLD=1 NEEDRESTART_MODE=a
keep='-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold'
step() {
  echo "== $* ($(date -u +%Y-%m-%dT%H:%M:%SZ))" >> "$log"
  "$@" >> "$log" 2>&1 || { rc=$?; echo "$rc $*" > ${UPGRADE_DIR}/failed; exit "$rc"; }
}
rm -f ${UPGRADE_DIR}/failed
# The packages' scripts start no service while apt runs (policy-rc.d says no, as in a debootstrap): the old release's
# configuration would not start the new release's daemons (Dovecot 2.4 refuses 2.3's, and dovecot-core's failed
# restart stopped dpkg in the lab). The running daemons go on until the reboot, which starts every service; the
# site's roles then write the new release's configuration. An administrator's own policy-rc.d is left alone.
policy=/usr/sbin/policy-rc.d
mark='# play: the move to the next Debian release'
[ -e $policy ] || { printf '#!/bin/sh\\n%s\\nexit 101\\n' "$mark" > $policy && chmod 755 $policy; }
step dpkg --force-confdef --force-confold --configure -a
step apt-get -q -y $keep update
step apt-get -q -y $keep upgrade --without-new-pkgs
# Debian bug #1109119: in a full upgrade apt removes libssl3 before it unpacks libssl3t64, and a maintainer script
# that stops a service in that gap fails (systemctl cannot load libcrypto.so.3): php8.2-fpm's did, and apt stopped.
# In a transaction of its own (with openssh, which it breaks), no other package's script runs in the gap.
if dpkg -s libssl3 >/dev/null 2>&1 && apt-cache show libssl3t64 >/dev/null 2>&1; then
  step apt-get -q -y $keep install libssl3t64
fi
step apt-get -q -y $keep full-upgrade
grep -qxF "$mark" $policy && rm -f $policy
cat /proc/sys/kernel/random/boot_id > ${marker}`;
  return command({
    name: `apt to Debian ${move.to.major}`,
    // Waited for by the pid the steps write, not by systemctl: half-way through, systemctl may not even load.
    cmd: sh`alive() { p=$(cat ${running} 2>/dev/null) && [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }
if ! alive; then
  rm -f ${running}
  systemctl reset-failed ${UPGRADE_UNIT} 2>/dev/null
  mkdir -p ${UPGRADE_DIR} && cat > ${script} || exit 1
  systemd-run --quiet --unit=${UPGRADE_UNIT} --description=${`play: the move to Debian ${move.to.major}`} --service-type=exec /bin/sh ${script} || exit 1
  i=0; while [ ! -s ${running} ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
fi
while alive; do sleep 2; done
if [ ! -e ${marker} ]; then
  read -r rc what < ${UPGRADE_DIR}/failed 2>/dev/null || { rc=1; what='the apt steps'; }
  tail -n 4 ${UPGRADE_LOG} >&2
  echo "$what failed (exit $rc); the whole output is in ${UPGRADE_LOG} on this server" >&2
  exit 1
fi`,
    // The steps as a file: on its command line, systemd would expand $$ and the like in them.
    stdin: steps.text,
    failure: `the move to Debian ${move.to.major} failed: apt did not finish`,
    unless: sh`test -e ${marker}`,
    helperFile: import.meta.url,
  });
}

/** The reboot into the new release, owed while apt's move finished in the boot that still runs. */
export function rebootIntoNextRelease(move: ReleaseMove): Task {
  const marker = aptDoneMarker(move.to.codename);
  return reboot({
    name: `reboot into Debian ${move.to.major}`,
    timeoutSeconds: 900,
    unless: sh`! test -e ${marker} || [ "$(cat ${marker})" != "$(cat /proc/sys/kernel/random/boot_id)" ]`,
    helperFile: import.meta.url,
  });
}

/**
 * The server's move is over (the site's roles ran on the new release and the health gate passed): its journal is
 * removed, so the next upgrade run sees a finished server.
 */
export function moveFinished(): Task {
  return command({
    name: 'the move is finished',
    cmd: sh`rm -rf ${UPGRADE_DIR}`,
    removes: UPGRADE_DIR,
    helperFile: import.meta.url,
  });
}

/**
 * The end of the upgrade on the primary: it holds the VIP again and its SMTP banner answers there. keepalived gives
 * it back by itself once the primary's replication has caught up (the keepalived role's preempt and replication
 * gate); this waits up to 5 minutes for it, and fails saying where the VIP is otherwise.
 */
export function vipBackHere(vip: string): Task {
  const holds = holdsHere(vip);
  const serving = sh`${holds} && ${bannerAt(vip)}`;
  return command({
    name: 'the VIP back on this server',
    cmd: sh`i=0
while [ $i -lt 600 ]; do ${serving} && exit 0; sleep 0.5; i=$((i + 1)); done
echo ${`the VIP ${vip} did not come back to this server within 5 minutes: it stays with the peer, which serves; see play verify`} >&2
exit 1`,
    unless: serving,
    helperFile: import.meta.url,
  });
}

/**
 * A Debian 12 server's replicator asks its peer's dsync-server for `-U`, which Dovecot 2.4 refuses: it could not
 * replicate to a peer already moved. For the upgrade the option leaves its dovecot.conf, and Dovecot reloads (the
 * dovecot role's Debian 12 template keeps it: without it, the returning primary's replication gate was not passed in
 * the lab's HA test, so it never took the VIP back). Nothing to do on a server without it (Debian 13).
 */
export function replicationWithoutPeerNotify(): Task {
  const conf = '/etc/dovecot/dovecot.conf';
  const withU = sh`grep -Eq '^replication_dsync_parameters = .* -U( |$)' ${conf}`;
  return command({
    name: 'Dovecot 2.3 replicates to a Dovecot 2.4 peer (no -U during the upgrade)',
    cmd: sh`sed -i -E 's/^(replication_dsync_parameters = .*) -U( |$)/\\1\\2/' ${conf} && doveconf -n >/dev/null && doveadm reload`,
    unless: sh`! test -e ${conf} || ! ${withU}`,
    helperFile: import.meta.url,
  });
}
