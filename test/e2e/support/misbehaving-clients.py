#!/usr/bin/python3
"""SMTP clients that misbehave, against one server's port 25, each kind followed by a well-behaved client whose
whole exchange (banner, EHLO, MAIL, RCPT, DATA, 250) is timed. Prints JSON: per kind, the good client's seconds,
and what the odd clients were answered.

    misbehaving-clients.py HOST DOMAIN TOKEN [ODD_SOURCE]

The odd clients come from ODD_SOURCE (another address of this machine) when given, the good ones from its own
address: postscreen caps the connections of one client at once, and a good client must not be capped for what
the odd ones do; what is tested is that the server itself is never held up.
"""
import json
import smtplib
import socket
import sys
import threading
import time

host, domain, token = sys.argv[1], sys.argv[2], sys.argv[3]
odd_source = (sys.argv[4], 0) if len(sys.argv) > 4 else None
kepsek = 'kepsek@' + domain
out = {}


def good(label):
    began = time.time()
    s = smtplib.SMTP(host, 25, timeout=2)
    s.ehlo('good.lab.test')
    s.sendmail('a@outside.test', [kepsek], 'Subject: after %s %s\r\n\r\nok\r\n' % (label, token))
    s.quit()
    out[label] = round(time.time() - began, 3)


def opened():
    # An odd client may be capped for the odd ones before it (421, too many connections at once): it tries again.
    deadline = time.time() + 10
    while True:
        try:
            s = smtplib.SMTP(host, 25, timeout=2, source_address=odd_source)
            break
        except smtplib.SMTPConnectError as error:
            if error.smtp_code != 421 or time.time() > deadline:
                raise
            time.sleep(0.2)
    s.ehlo('odd.lab.test')
    return s


# Connect and drop at once, as port scanners and TCP health checks do.
for _ in range(50):
    socket.create_connection((host, 25), timeout=2, source_address=odd_source).close()
good('connect and drop x50')

# Drop the connection halfway through DATA.
for _ in range(10):
    s = opened()
    s.mail('a@outside.test')
    s.rcpt(kepsek)
    s.putcmd('data')
    s.getreply()
    s.send(b'Subject: half\r\n\r\nhalf a mess')
    s.sock.close()
good('drop inside DATA x10')

# QUIT typed inside DATA is only text there; then the client goes.
s = opened()
s.mail('a@outside.test')
s.rcpt(kepsek)
s.putcmd('data')
s.getreply()
s.send(b'Subject: quit inside\r\n\r\nQUIT\r\n')
time.sleep(0.5)
s.sock.close()
good('QUIT inside DATA')

# A sender address that is not ASCII (SMTPUTF8).
s = opened()
code, _ = s.mail('g\u00fcr\u00fc@outside.test', ['SMTPUTF8'])
out['non-ASCII sender: MAIL'] = code
s.rcpt(kepsek)
code, _ = s.data(('Subject: dari g\u00fcr\u00fc %s\r\n\r\nhalo\r\n' % token).encode())
out['non-ASCII sender: DATA'] = code
s.quit()
good('non-ASCII sender')

# A message without a Message-ID header.
s = opened()
s.sendmail('a@outside.test', [kepsek], 'Subject: no id %s\r\n\r\nno message-id\r\n' % token)
s.quit()
good('no Message-ID')

# A flood: 60 clients at once, all to one account.
codes = []


def flood():
    try:
        c = smtplib.SMTP(host, 25, timeout=10, source_address=odd_source)
        c.sendmail('a@outside.test', ['guru3@' + domain], 'Subject: banjir %s\r\n\r\nx\r\n' % token)
        c.quit()
        codes.append(250)
    except Exception as error:  # noqa: BLE001 - reported, not raised
        codes.append(str(error))


threads = [threading.Thread(target=flood) for _ in range(60)]
for t in threads:
    t.start()
for t in threads:
    t.join()
out['flood: accepted'] = codes.count(250)
out['flood: refused'] = [c for c in codes if c != 250]
good('a flood of 60 to guru3')
print(json.dumps(out))
