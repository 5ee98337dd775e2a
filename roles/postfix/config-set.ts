import { configSet, sh, type ConfigSetFile, type Platform, type ShellCommand, type Task, type TaskOptions } from 'play';

/** Postfix's configuration folder: the tree a postfix config set stages whole. */
export const POSTFIX_DIR = '/etc/postfix';

/**
 * The systemd unit that runs postfix's default instance. Debian 12 runs it as the instance `postfix@-`
 * (postfix.service is a oneshot umbrella whose reload runs /bin/true and propagates). Debian 13's postfix.service
 * is the instance itself, and `postfix@-` asserts a file that does not exist (/etc/postfix-/main.cf), so it never
 * starts there.
 *
 * @example
 * postfixUnit(DEBIAN_13); // 'postfix'
 */
export function postfixUnit(platform: Platform): string {
  return platform.major <= 12 ? 'postfix@-' : 'postfix';
}

/**
 * Waits (at most 3 s) until no file directly in `dir` was changed in the last 2 s. Every postfix daemon reads
 * main.cf and its texthash tables as it starts, and rereads one whose mtime is within the last second or so
 * (postfix's guard against a file still being edited), 0.3 s at a time, until it has cooled. Reloaded at once
 * after a table was written, each new smtpd held its banner that long: the lab saw 1.1-2.0 s without a banner on
 * port 25 after every account change, and postscreen then refused the connections piling up behind it
 * (`421 too many connections`). Our writes are atomic renames, so waiting out the guard costs at most 2 s on a
 * deploy that changed something, never a banner.
 */
export const postfixFilesCool = (dir: string): ShellCommand =>
  sh`for try in $(seq 1 30); do [ -z "$(find ${dir} -maxdepth 1 -newermt '2 seconds ago' -print -quit 2>/dev/null)" ] && break; sleep 0.1; done`;

/**
 * Makes the running postfix instance (its `unit`, see {@link postfixUnit}) use its configuration, and fails if it does not survive that. First it waits
 * for the files of /etc/postfix to cool ({@link postfixFilesCool}), then:
 * - postfix running: `systemctl reload UNIT`, then a wait (at most 5 s) for the master's own
 *   `reload -- version` line in the journal (it logs that as it handles the SIGHUP; read with `--after-cursor` and
 *   no match, since systemd 252's journalctl finds nothing when `-t` is combined with it), then 0.3 s for it to bind
 *   its listeners; a master that could not bind one (a port already taken) has exited by then, and its last
 *   lines become the error;
 * - postfix not running: `systemctl restart UNIT`.
 */
export const postfixActivate = (unit: string): ShellCommand => sh`${postfixFilesCool(POSTFIX_DIR)}
if postfix status >/dev/null 2>&1; then
  cursor=$(journalctl -q -n 0 --show-cursor 2>/dev/null | sed -n 's/^-- cursor: //p')
  master_log() { [ -n "$cursor" ] && journalctl -q --after-cursor "$cursor" -o short 2>/dev/null | grep -F ' postfix/master[' | sed 's/^.*]: //'; }
  # The reload's own command may fail when the master dies under it: the master's fate is looked at either way.
  reloaded=$(systemctl reload ${unit} 2>&1); reload_status=$?
  seen=
  for try in $(seq 1 50); do
    if master_log | grep -q '^reload -- '; then seen=1; break; fi
    [ "$reload_status" -eq 0 ] || break
    sleep 0.1
  done
  sleep 0.3
  if ! postfix status >/dev/null 2>&1; then
    # The master logged why before it exited; journald may take a moment to store it on a busy server.
    why=
    for try in $(seq 1 30); do
      why=$(master_log | grep -E '^(fatal|panic|error): ' | tail -n 2)
      [ -n "$why" ] && break
      sleep 0.1
    done
    [ -n "$why" ] || why="its master exited and logged no reason"
    echo "postfix stopped while reloading: $why" >&2
    exit 1
  fi
  [ "$reload_status" -eq 0 ] || { printf '%s\n' "$reloaded" >&2; exit 1; }
  [ -n "$seen" ] || { echo "postfix's master logged no reload within 5 s" >&2; exit 1; }
else
  systemctl restart ${unit}
fi`;

/** Puts postfix back on the restored files (once they have cooled): a reload if its master still runs, else a restart. */
export const postfixRestore = (unit: string): ShellCommand => sh`${postfixFilesCool(POSTFIX_DIR)}
if postfix status >/dev/null 2>&1; then systemctl reload ${unit}; else systemctl restart ${unit}; fi`;

/** Port 25 answers with an SMTP banner on loopback (postscreen's 220 greeting). */
export const SMTP_BANNER_PROBE: ShellCommand = sh`timeout 3 bash -c 'exec 3<>/dev/tcp/127.0.0.1/25 && IFS= read -r greeting <&3 && [[ $greeting == 220* ]]'`;

/**
 * Refuses a staged master.cf whose new `inet` listeners (those the live master.cf does not have, so postfix does not
 * hold their ports yet) are on a TCP port another program listens on: reloading postfix on it would end its
 * master (`fatal: bind … Address already in use`), and putting it back would take a restart. A service name
 * (`submission`) is looked up in /etc/services; an address prefix (`127.0.0.1:10025`, `[::1]:25`) is ignored, so a
 * port taken on any address refuses it, unless postfix's own master holds it (the same port on another address).
 */
export const newListenersFreeCheck = (dir: string): ShellCommand =>
  sh`live=$(postconf -M '*/inet' 2>/dev/null | awk '{ print $1 }'); taken=
for svc in $(postconf -c ${dir} -M '*/inet' | awk '{ print $1 }'); do
  printf '%s\\n' "$live" | grep -qxF -- "$svc" && continue
  port=\${svc##*:}
  case $port in (*[!0-9]*) port=$(getent services "$port/tcp" | awk '{ split($2, a, "/"); print a[1] }');; esac
  [ -n "$port" ] || continue
  sockets=$(ss -Hltnp "sport = :$port" 2>/dev/null)
  [ -n "$sockets" ] || continue
  # postfix's own master holds it (the same port on another address, a renamed service): a reload moves it.
  printf '%s\\n' "$sockets" | grep -qF '("master",' && continue
  holder=$(printf '%s\\n' "$sockets" | sed -n 's/.*users:((\\("[^"]*"\\).*/\\1/p' | head -n 1)
  taken="$taken\${taken:+; }$svc: port $port is already taken\${holder:+ by $holder}"
done
[ -z "$taken" ] || { echo "master.cf adds a listener on a port another program holds (a reload would end postfix's master): $taken" >&2; false; }`;

/**
 * Checks a staged copy of /etc/postfix as postfix will read it: `postfix -c DIR check`, any warning of
 * `postconf -c DIR -n` (an unknown parameter, a typo in a master.cf `-o`) refuses it too, and so does a new
 * listener on a port another program holds ({@link newListenersFreeCheck}).
 */
export const postfixTreeCheck = (dir: string): ShellCommand =>
  sh`postfix -c ${dir} check && w=$(postconf -c ${dir} -n 2>&1 >/dev/null) && { [ -z "$w" ] || { echo "$w" >&2; false; }; } && ${newListenersFreeCheck(dir)}`;

/**
 * Files of /etc/postfix that only make sense together (main.cf and master.cf) as one config set: staged and
 * checked as a whole, renamed in together, then postfix reloaded and port 25's banner probed. If postfix does not
 * survive the reload (a listener whose port is taken ends its master) or the banner does not come within 10 s,
 * the previous files go back, postfix is reloaded (or restarted) on them, and the task fails with both errors.
 */
export function postfixConfigSet(files: readonly ConfigSetFile[], platform: Platform, options: TaskOptions = {}): Task {
  return configSet({
    ...options,
    tree: POSTFIX_DIR,
    files,
    validate: postfixTreeCheck,
    activate: postfixActivate(postfixUnit(platform)),
    restore: postfixRestore(postfixUnit(platform)),
    health: SMTP_BANNER_PROBE,
    healthSeconds: 10,
  });
}
