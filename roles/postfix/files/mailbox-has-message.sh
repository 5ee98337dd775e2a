#!/bin/sh
# Managed by play (role postfix): answers the deliver-before-accept milter one question, which it cannot
# answer itself (it runs as postfix and cannot read mailboxes): is a message with this Message-ID already in
# this account's INBOX, saved within the last hour? A sender that never got its 250 sends the same message
# again; if the server that died had already stored it on both servers, the copy must not be stored twice.
#
# Socket-activated (mailbox-has-message.socket, owned by postfix, mode 0600), one process per question, as
# root for doveadm. Reads one line "ACCOUNT MESSAGE-ID" and writes "yes", "no" or "invalid": nothing else of
# the mailbox ever leaves this script.
set -u
IFS=' ' read -r account id rest || { echo invalid; exit 0; }
id=${id%"$(printf '\r')"}
case $account in '' | *[!a-z0-9_-]*) echo invalid; exit 0 ;; esac
case $id in '<'?*'>') ;; *) echo invalid; exit 0 ;; esac
# Printable ASCII only, no quote or backslash: it goes to doveadm as one argument of a search query.
case $id in *[!!-~]* | *'"'* | *\\*) echo invalid; exit 0 ;; esac
[ -z "$rest" ] || { echo invalid; exit 0; }
if doveadm search -u "$account" mailbox INBOX savedsince 1h header Message-ID "$id" 2>/dev/null | grep -q .; then
  echo yes
else
  echo no
fi
