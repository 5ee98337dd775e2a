#!/bin/sh
# Managed by play (role sshd). Checks a new hardening drop-in ($1) before it replaces the live one ($2): sshd
# must accept the whole configuration as it would be (Debian's sshd_config with every other drop-in, the new
# file in place of the old), and must still let in the user this very connection logged in as (sudo's caller,
# or the login user), from the controller's address, with a key. Exit 1 with one line on stderr otherwise.
set -eu
new=$1
live=$2
u=${SUDO_USER:-$(id -un)}
a=${SSH_CONNECTION%% *}
a=${a:-127.0.0.1}
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
mkdir "$d/conf.d"
for f in /etc/ssh/sshd_config.d/*.conf; do
  if [ -e "$f" ] && [ "$f" != "$live" ]; then cp "$f" "$d/conf.d/"; fi
done
cp "$new" "$d/conf.d/$(basename "$live")"
sed "s#/etc/ssh/sshd_config\.d/#$d/conf.d/#g" /etc/ssh/sshd_config > "$d/sshd_config"
sshd -t -f "$d/sshd_config"
effective=$(sshd -T -f "$d/sshd_config" -C "user=$u,host=controller,addr=$a")
value() { printf '%s\n' "$effective" | awk -v k="$1" '$1 == k { $1 = ""; sub(/^ /, ""); print }'; }
allowed=$(value allowusers)
if [ -n "$allowed" ] && ! printf '%s\n' "$allowed" | tr ' ' '\n' | grep -qx -- "$u"; then
  echo "sshd: this configuration would lock out $u, the user play connects as (from $a): add $u to sshAdmins" >&2
  exit 1
fi
if [ "$u" = root ] && [ "$(value permitrootlogin)" = no ]; then
  echo "sshd: this configuration would lock out root, the user play connects as (PermitRootLogin no)" >&2
  exit 1
fi
if [ "$(value pubkeyauthentication)" != yes ]; then
  echo "sshd: this configuration turns off key logins, which play uses" >&2
  exit 1
fi
