#!/usr/bin/python3
# Managed by play (role postfix): a milter that stores mail for the school's accounts in Dovecot before
# postfix answers the SMTP client.
#
# Postfix says 250 once a message is in its queue, and delivers it a moment later. On an HA pair that moment
# matters: a server that dies right after its 250 takes the message with it until it comes back. This milter
# closes that gap for the school's own accounts. At the end of DATA, before postfix replies, it hands the
# message to Dovecot's LMTP; Dovecot saves it and (replication_sync_timeout) waits until the other server has
# it too. Only then are those recipients taken off the message: if none is left postfix discards it and the
# client gets its 250, so the message is on both servers before the sender is told it was accepted.
#
# A sender that never got its 250 (the server died after storing the message, before answering) sends the
# message again, maybe to the other server. Before storing, the milter asks mailbox-has-message (a socket-
# activated helper running as root) whether the account's INBOX already has a message with this Message-ID saved
# within the hour; if so the recipient counts as delivered and nothing is stored twice.
#
# Anything it cannot deliver (another domain, an alias, a refused or failed LMTP delivery) stays on the
# message and goes through postfix's queue as before: the milter never refuses or loses mail. If it is not
# running, postfix accepts mail the usual way (milter_default_action = accept).
import argparse
import smtplib
import socket
import syslog
import threading
import time
from email.utils import formatdate

import Milter


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--listen', required=True, help='milter socket, e.g. inet:10029@127.0.0.1')
    parser.add_argument('--lmtp', required=True, help="Dovecot's LMTP unix socket")
    parser.add_argument('--domains', required=True, help='comma-separated domains of the accounts')
    parser.add_argument('--accounts', required=True, help='comma-separated account names')
    parser.add_argument('--has-message', default='', help="mailbox-has-message's unix socket (empty: store without asking)")
    parser.add_argument('--timeout', type=float, default=60, help='seconds an LMTP delivery may take')
    return parser.parse_args()


ARGS = parse_args()
DOMAINS = {d.lower() for d in ARGS.domains.split(',') if d}
ACCOUNTS = {a.lower() for a in ARGS.accounts.split(',') if a}


def school_account(address):
    """(address without angle brackets, account name) if the address is one of the school's accounts (with or
    without a +detail), else None."""
    bare = address.strip().strip('<>')
    local, at, domain = bare.rpartition('@')
    account = local.split('+', 1)[0].lower()
    if not at or domain.lower() not in DOMAINS or account not in ACCOUNTS:
        return None
    return bare, account


_LOCKS_GUARD = threading.Lock()
_LOCKS = {}


def account_lock(account):
    """One delivery at a time per account. Dovecot 2.3.19's replicator loops until it runs out of memory and
    crashes when one user has a delivery waiting for the sync next to another one that came in while the user
    was being synced (fixed upstream in dovecot/core#223); a crash ends every wait, so a message could be
    accepted before the peer has it. Each connection has its own thread here."""
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(account, threading.Lock())


def has_message(account, message_id, queue_id):
    """Whether the account's INBOX already has a message with this Message-ID, saved within the hour (asked of
    mailbox-has-message). Any doubt (no Message-ID, the helper unreachable or puzzled) answers False: storing
    a message twice is better than losing it."""
    if not ARGS.has_message or not message_id:
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as helper:
            helper.settimeout(15)
            helper.connect(ARGS.has_message)
            helper.sendall(('%s %s\n' % (account, message_id)).encode('ascii', 'replace'))
            answer = helper.makefile('rb').readline().strip()
    except OSError as error:
        syslog.syslog(syslog.LOG_WARNING, '%s: mailbox-has-message unavailable (%s): storing without asking' % (queue_id, error))
        return False
    if answer not in (b'yes', b'no'):
        syslog.syslog(syslog.LOG_WARNING, '%s: mailbox-has-message answered %r for message-id %s: storing' % (queue_id, answer, message_id))
    return answer == b'yes'


def deliver(sender, address, message, queue_id):
    """Delivers the message to one address over LMTP; whether Dovecot accepted it."""
    started = time.monotonic()
    try:
        with smtplib.LMTP(ARGS.lmtp, timeout=ARGS.timeout) as lmtp:
            lmtp.sendmail(sender, [address], message)
    except smtplib.SMTPRecipientsRefused as error:
        syslog.syslog(syslog.LOG_WARNING, '%s: to=<%s> left to the queue: LMTP said %s' % (queue_id, address, error.recipients.get(address, error)))
        return False
    except (OSError, smtplib.SMTPException) as error:
        syslog.syslog(syslog.LOG_WARNING, '%s: to=<%s> left to the queue: LMTP unavailable or failed (%s)' % (queue_id, address, error))
        return False
    syslog.syslog('%s: to=<%s> stored in the mailbox before accepting (%d ms)' % (queue_id, address, (time.monotonic() - started) * 1000))
    return True


@Milter.header_leading_space
class DeliverBeforeAccept(Milter.Base):
    def __init__(self):
        self.client = ('unknown', 'unknown')
        self.helo = 'unknown'
        self.reset()

    def connect(self, hostname, family, hostaddr):
        self.client = (hostname, hostaddr[0] if hostaddr else 'unknown')
        return Milter.CONTINUE

    def hello(self, hostname):
        self.helo = hostname
        return Milter.CONTINUE

    def reset(self):
        self.sender = ''
        self.recipients = []
        self.parts = []
        self.message_id = ''

    def envfrom(self, mailfrom, *params):
        self.reset()
        self.sender = mailfrom.strip().strip('<>')
        return Milter.CONTINUE

    def envrcpt(self, to, *params):
        self.recipients.append(to)
        return Milter.CONTINUE

    @Milter.decode('bytes')
    def header(self, name, value):
        # With header_leading_space the value keeps its folding and the space after the colon.
        self.parts.append(name.encode('ascii') + b':' + value.replace(b'\r\n', b'\n').replace(b'\n', b'\r\n') + b'\r\n')
        if name.lower() == 'message-id' and not self.message_id:
            self.message_id = value.strip().decode('ascii', 'replace')
        return Milter.CONTINUE

    def eoh(self):
        self.parts.append(b'\r\n')
        return Milter.CONTINUE

    def body(self, chunk):
        self.parts.append(chunk)
        return Milter.CONTINUE

    def received(self, queue_id, recipient):
        """A Received header like postfix's own, which a message that skips the queue would otherwise lack."""
        return ('Received: from %s (%s [%s])\r\n\tby %s (Postfix, stored before queueing) with ESMTP id %s\r\n\tfor <%s>; %s\r\n' % (
            self.helo, self.client[0], self.client[1], self.getsymval('j') or 'localhost', queue_id, recipient,
            formatdate(localtime=True))).encode('utf-8', 'surrogateescape')

    def eom(self):
        queue_id = self.getsymval('i') or 'NOQUEUE'
        mine = [(given, school_account(given)) for given in self.recipients]
        mine = [(given, found) for given, found in mine if found]
        if not mine:
            return Milter.ACCEPT
        body = b''.join(self.parts)
        delivered = set()
        for given, (address, account) in mine:
            with account_lock(account):
                if has_message(account, self.message_id, queue_id):
                    syslog.syslog('%s: to=<%s> message-id %s already in the mailbox (sent again): not stored twice' % (queue_id, address, self.message_id))
                    delivered.add(given)
                # One message per recipient, each with its own Received line (as postfix writes "for <rcpt>"
                # only for a single recipient, and Dovecot adds Delivered-To).
                elif deliver(self.sender, address, self.received(queue_id, address) + body, queue_id):
                    delivered.add(given)
        for given in delivered:
            self.delrcpt(given)
        # Every recipient stored: nothing is left for the queue, and postfix still answers 250.
        return Milter.DISCARD if all(r in delivered for r in self.recipients) else Milter.ACCEPT

    def abort(self):
        self.reset()
        return Milter.CONTINUE


def main():
    syslog.openlog('deliver-before-accept', 0, syslog.LOG_MAIL)
    Milter.factory = DeliverBeforeAccept
    Milter.set_flags(Milter.DELRCPT)
    syslog.syslog('listening on %s; storing mail for %d accounts of %s through %s' % (ARGS.listen, len(ACCOUNTS), ', '.join(sorted(DOMAINS)), ARGS.lmtp))
    Milter.runmilter('deliver-before-accept', ARGS.listen, 240)


if __name__ == '__main__':
    main()
