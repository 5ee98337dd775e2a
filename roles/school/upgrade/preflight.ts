import { PlayError, sh, task, type Op, type Probe, type Task } from 'play';
import { UPGRADE_DIR } from './state.ts';

/** What the preflight found on one server: its release, and each problem that blocks the move. */
export interface PreflightFindings {
  readonly release: string;
  /** A move to the next release was started here (a run died before it finished). */
  readonly underWay: boolean;
  readonly problems: readonly string[];
}

/** The move the preflight checks for: from one Debian release to the next. */
export interface ReleaseMove {
  readonly from: { readonly major: number; readonly codename: string };
  readonly to: { readonly major: number; readonly codename: string };
  /** Free space (MB) apt needs where it keeps its downloads, and on the root filesystem. */
  readonly freeMegabytes: number;
}

/**
 * The read-only script of the preflight: the release, then one `problem:` line for each thing that would stop apt
 * half-way: too little free space, held packages, packages dpkg left half-installed, packages from outside Debian,
 * and every Debian source of the old release whose next-release index (its InRelease file, through apt's own
 * proxy settings) cannot be fetched. A server on the new release already, or with a move under way, is not checked.
 */
export function preflightScript(move: ReleaseMove) {
  return sh`. /etc/os-release
echo "release \${VERSION_ID:-unknown} \${VERSION_CODENAME:-unknown}"
[ "\${VERSION_ID:-0}" = ${String(move.from.major)} ] || exit 0
[ -d ${UPGRADE_DIR} ] && { echo 'under way'; exit 0; }
for d in /var/cache/apt/archives /; do
  free=$(df -Pm "$d" | awk 'NR == 2 { print $4 }')
  [ "\${free:-0}" -ge ${String(move.freeMegabytes)} ] || echo "problem: only \${free:-0} MB free in $d (the upgrade needs ${String(move.freeMegabytes)} MB)"
done
held=$(apt-mark showhold | tr '\\n' ' ')
[ -z "$held" ] || echo "problem: held packages would block the upgrade: \${held% } (apt-mark unhold them, or upgrade by hand)"
audit=$(dpkg --audit 2>&1 | head -c 300 | tr '\\n' ' ')
[ -z "$audit" ] || echo "problem: dpkg has unfinished work, run dpkg --configure -a first: $audit"
foreign=$(apt list --installed '?not(?origin(Debian))' 2>/dev/null | awk -F/ 'NR > 1 { printf "%s ", $1 }')
[ -z "$foreign" ] || echo "problem: packages not from Debian may block the upgrade: \${foreign% } (remove them, or upgrade by hand)"
tmp=$(mktemp -d)
apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 2>/dev/null | sort -u | while read -r uri suite; do
  case "$suite" in ${move.from.codename}|${move.from.codename}-*) ;; *) continue ;; esac
  next=${move.to.codename}\${suite#${move.from.codename}}
  /usr/lib/apt/apt-helper download-file "\${uri}dists/$next/InRelease" "$tmp/InRelease" >/dev/null 2>&1 ||
    echo "problem: Debian ${String(move.to.major)}'s packages cannot be reached: \${uri}dists/$next/InRelease"
  rm -f "$tmp/InRelease"
done
rm -rf "$tmp"`;
}

/** The preflight's answer on a server, read once per run. */
export function preflightProbe(move: ReleaseMove): Probe<PreflightFindings> {
  const command = preflightScript(move);
  return {
    id: { kind: 'release-upgrade-preflight', subject: `${move.from.codename}-${move.to.codename}` },
    command,
    parse: (output) => {
      const lines = output.stdout.split('\n');
      const release = (lines.find((l) => l.startsWith('release ')) ?? 'release unknown').slice('release '.length);
      const problems = lines.filter((l) => l.startsWith('problem: ')).map((l) => l.slice('problem: '.length));
      if (output.exitCode !== 0) problems.push(`the preflight check itself failed (exit ${output.exitCode})`);
      return { release, underWay: lines.includes('under way'), problems };
    },
  };
}

/**
 * The upgrade's preflight on one server, changing nothing: it passes on a server that may move to the next release
 * now (or is there already, or is under way), and fails naming every problem found otherwise.
 *
 * @example
 * tasks: [upgradePreflight({ from: { major: 12, codename: 'bookworm' }, to: { major: 13, codename: 'trixie' }, freeMegabytes: 2000 })]
 */
export function upgradePreflight(move: ReleaseMove): Task {
  const probe = preflightProbe(move);
  const op: Op = {
    kind: 'release-upgrade-preflight',
    title: `ready for Debian ${move.to.major}`,
    probes: () => [probe],
    async plan(context) {
      const { release, underWay, problems } = await context.facts.get(probe);
      if (problems.length)
        throw new PlayError(
          `${context.host} cannot move to Debian ${move.to.major} yet (nothing was changed): ${problems.join('; ')}`,
        );
      const [major] = release.split(' ');
      const reason =
        Number(major) >= move.to.major
          ? `runs Debian ${major} already`
          : underWay
            ? `its move to Debian ${move.to.major} is under way: it resumes`
            : `Debian ${release}: enough free space, no held or foreign packages, Debian ${move.to.major} reachable`;
      return { changed: false, reason };
    },
  };
  return task(op, { helperFile: import.meta.url });
}
