#!/usr/bin/python3
# Managed by play: probes the school's services the way their users rely on them, at the protocol level.
#
# A TCP connect proves nothing about service: a postfix whose smtpd waits on a stuck milter accepts the connection
# and never says 220. So each probe speaks the protocol: an SMTP banner and EHLO, an IMAP greeting and CAPABILITY
# (and a real login), the webmail's login page over HTTPS, a DNS answer, a DHCP offer. Every probe has one
# deadline for all of its steps (a server that trickles one byte a second cannot stretch it), and the program
# ends within the longest deadline whatever the servers do.
#
# Used by keepalived's track script, by `play verify`, and by the tests and benchmarks (from the lab's client).
# The request is JSON on standard input (it may hold a password, which never goes on a command line):
#
#   {"timeout": 2, "checks": [
#     {"kind": "smtp", "host": "198.18.30.1", "port": 25},
#     {"kind": "smtp", "host": "198.18.30.1", "port": 465, "tls": true},
#     {"kind": "imap", "host": "198.18.30.1", "port": 993, "tls": true, "user": "kepsek", "password": "..."},
#     {"kind": "https", "host": "198.18.30.1", "port": 443, "servername": "mail.example.sch.id", "path": "/", "expect": "rcmloginuser"},
#     {"kind": "dns", "host": "198.18.30.1", "name": "mail.example.sch.id", "type": "A"},
#     {"kind": "dhcp", "interface": "eth0"},
#     {"kind": "banner", "host": "127.0.0.1", "port": 22, "expect": "SSH-2.0-"}]}
#
# "label" (any check) names it in the results; "timeout" (any check) overrides the request's; "syslog": "IDENT"
# also logs each failed probe to the journal under that name.
#
# It prints {"results": [{"kind", "host", "port", "ok", "ms", "detail", ...}]} and exits 0 when every probe
# passed, 1 when one did not, 2 for a request it cannot read. With "every" and "for" (seconds) it starts each
# check again every "every" seconds for "for" seconds, without waiting for the previous one, and prints one JSON
# line per finished probe (with "at", its start as a Unix time) instead; SIGTERM ends the starts early, and the
# probes under way still finish.
import json
import os
import random
import signal
import socket
import ssl
import struct
import sys
import threading
import time

MAX_LINE = 65536
MAX_HTTP = 1 << 20
# Where each kind listens unless the check names a port (a banner check must name one).
DEFAULT_PORTS = {'smtp': 25, 'imap': 143, 'https': 443, 'dns': 53, 'dhcp': 67, 'banner': 0}
SECRETS = []


class ProbeError(Exception):
    """A probe's failure, with what a person needs to know (the step and what was seen)."""


class Deadline:
    def __init__(self, seconds):
        self.end = time.monotonic() + seconds

    def left(self):
        left = self.end - time.monotonic()
        if left <= 0:
            raise socket.timeout('deadline passed')
        return left


class Conversation:
    """A line-oriented conversation on one socket, every read and write bounded by the probe's deadline."""

    def __init__(self, sock, deadline):
        self.sock = sock
        self.deadline = deadline
        self.buffer = b''

    def send(self, data, step):
        try:
            self.sock.settimeout(self.deadline.left())
            self.sock.sendall(data)
        except socket.timeout:
            raise ProbeError('%s: could not send within the deadline' % step)
        except OSError as error:
            raise ProbeError('%s: %s' % (step, error.strerror or error))

    def line(self, step):
        while b'\n' not in self.buffer:
            if len(self.buffer) > MAX_LINE:
                raise ProbeError('%s: a line longer than %d bytes' % (step, MAX_LINE))
            try:
                self.sock.settimeout(self.deadline.left())
                chunk = self.sock.recv(4096)
            except socket.timeout:
                raise ProbeError('%s: no answer within the deadline%s' % (step, seen(self.buffer)))
            if not chunk:
                raise ProbeError('%s: the server closed the connection%s' % (step, seen(self.buffer)))
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b'\n', 1)
        return line.rstrip(b'\r').decode('utf-8', 'replace')

    def smtp_reply(self, step):
        """An SMTP reply (all lines of a multi-line one): its code and its lines."""
        lines = []
        while True:
            line = self.line(step)
            lines.append(line)
            if len(line) < 3 or not line[:3].isdigit():
                raise ProbeError('%s: not an SMTP reply: %s' % (step, clip(line)))
            if len(line) == 3 or line[3] == ' ':
                return int(line[:3]), lines
            if len(lines) > 100:
                raise ProbeError('%s: a reply of more than 100 lines' % step)

    def imap_tagged(self, tag, step):
        """IMAP lines up to the tagged answer: the untagged ones and the tagged status line."""
        untagged = []
        while True:
            line = self.line(step)
            if line.startswith(tag + ' '):
                return untagged, line[len(tag) + 1:]
            untagged.append(line)
            if len(untagged) > 1000:
                raise ProbeError('%s: no tagged answer after 1000 lines' % step)


def seen(buffer):
    return ' (got %s)' % clip(buffer.decode('utf-8', 'replace')) if buffer else ''


def clip(text, limit=120):
    for secret in SECRETS:
        text = text.replace(secret, '********')
    text = text.replace('\r', '\\r').replace('\n', '\\n')
    return text if len(text) <= limit else text[:limit] + '...'


# One context for every probe: the probe asks whether a service answers, not who it is (the certificate has a check
# of its own), so no CA store is loaded. ssl.create_default_context() loads it each time it is called, holding the
# interpreter's lock for about 25 ms: a verify's dozen TLS probes at once took 700-1000 ms each instead of 50-80 ms,
# and on a busy machine passed their 2 s deadline.
TLS_CONTEXT = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
TLS_CONTEXT.check_hostname = False
TLS_CONTEXT.verify_mode = ssl.CERT_NONE


def connect(check, deadline):
    host, port = check['host'], int(check.get('port', DEFAULT_PORTS[check['kind']]))
    try:
        sock = socket.create_connection((host, port), timeout=deadline.left())
    except socket.timeout:
        raise ProbeError('connect: no answer within the deadline')
    except OSError as error:
        raise ProbeError('connect: %s' % (error.strerror or error))
    if check.get('tls'):
        try:
            sock.settimeout(deadline.left())
            sock = TLS_CONTEXT.wrap_socket(sock, server_hostname=check.get('servername') or None)
        except socket.timeout:
            sock.close()
            raise ProbeError('TLS handshake: no answer within the deadline')
        except (ssl.SSLError, OSError) as error:
            sock.close()
            raise ProbeError('TLS handshake: %s' % error)
    return sock


def probe_smtp(check, deadline):
    """The 220 banner, then EHLO (250), then QUIT: what a mail client sees first."""
    sock = connect(check, deadline)
    try:
        talk = Conversation(sock, deadline)
        code, banner = talk.smtp_reply('banner')
        if code != 220:
            raise ProbeError('banner: %s' % clip(banner[0]))
        talk.send(b'EHLO %s\r\n' % check.get('helo', 'probe.invalid').encode('ascii'), 'EHLO')
        code, ehlo = talk.smtp_reply('EHLO')
        if code != 250:
            raise ProbeError('EHLO: %s' % clip(ehlo[0]))
        try:
            talk.send(b'QUIT\r\n', 'QUIT')  # polite, but its 221 is not waited for: the service has answered
        except (ProbeError, OSError):
            pass
        offered = [line[4:].split(' ')[0].upper() for line in ehlo[1:]]
        notable = [e for e in ('STARTTLS', 'AUTH') if e in offered]
        return '%s; EHLO 250%s' % (clip(banner[0], 60), ' with ' + ', '.join(notable) if notable else '')
    finally:
        sock.close()


def imap_string(text):
    if any(c in text for c in '\r\n\0'):
        raise ProbeError('login: the user or password holds a line break')
    return '"%s"' % text.replace('\\', '\\\\').replace('"', '\\"')


def probe_imap(check, deadline):
    """The greeting and CAPABILITY; with a user, a LOGIN with that account's password too."""
    sock = connect(check, deadline)
    try:
        talk = Conversation(sock, deadline)
        greeting = talk.line('greeting')
        if not greeting.startswith('* OK'):
            raise ProbeError('greeting: %s' % clip(greeting))
        talk.send(b'p1 CAPABILITY\r\n', 'CAPABILITY')
        untagged, status = talk.imap_tagged('p1', 'CAPABILITY')
        if not status.startswith('OK'):
            raise ProbeError('CAPABILITY: %s' % clip(status))
        capabilities = next((l[len('* CAPABILITY '):] for l in untagged if l.startswith('* CAPABILITY ')), '').upper().split()
        notable = [c for c in ('STARTTLS', 'LOGINDISABLED') if c in capabilities]
        detail = '* OK greeting; CAPABILITY%s' % (' with ' + ', '.join(notable) if notable else '')
        if check.get('user'):
            login = 'p2 LOGIN %s %s\r\n' % (imap_string(check['user']), imap_string(check.get('password', '')))
            talk.send(login.encode('utf-8'), 'LOGIN')
            _, status = talk.imap_tagged('p2', 'LOGIN')
            if not status.startswith('OK'):
                raise ProbeError('LOGIN as %s: %s' % (check['user'], clip(status)))
            detail = '* OK greeting; CAPABILITY; LOGIN as %s' % check['user']
        try:
            talk.send(b'p3 LOGOUT\r\n', 'LOGOUT')  # not waited for either
        except (ProbeError, OSError):
            pass
        return detail
    finally:
        sock.close()


def probe_https(check, deadline):
    """A GET of the page over TLS: status 200 and, with "expect", that text in the page (e.g. a login form)."""
    sock = connect(dict(check, tls=check.get('tls', True)), deadline)
    try:
        request = 'GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: play-service-probe\r\nConnection: close\r\n\r\n' % (
            check.get('path', '/'), check.get('servername') or check['host'])
        sock.settimeout(deadline.left())
        sock.sendall(request.encode('ascii'))
        response = b''
        while len(response) < MAX_HTTP:
            try:
                sock.settimeout(deadline.left())
                chunk = sock.recv(65536)
            except socket.timeout:
                if b'\r\n\r\n' in response and check.get('expect', '').encode() in response:
                    break  # the page is there; a server slow to close is not a failure
                raise ProbeError('response: incomplete within the deadline%s' % seen(response[:80]))
            if not chunk:
                break
            response += chunk
        head = response.split(b'\r\n', 1)[0].decode('latin-1')
        parts = head.split(' ')
        if len(parts) < 2 or not parts[0].startswith('HTTP/'):
            raise ProbeError('response: not HTTP%s' % seen(response[:80]))
        if parts[1] != str(check.get('status', 200)):
            raise ProbeError('response: %s' % clip(head))
        if check.get('expect') and check['expect'].encode() not in response:
            raise ProbeError('page: status %s but no %r in it' % (parts[1], check['expect']))
        return '%s%s' % (clip(head, 40), ', the page has %r' % check['expect'] if check.get('expect') else '')
    finally:
        sock.close()


def probe_banner(check, deadline):
    """The first line a server sends (an SSH server's version, say), and that it starts with "expect"."""
    sock = connect(check, deadline)
    try:
        line = Conversation(sock, deadline).line('banner')
        if check.get('expect') and not line.startswith(check['expect']):
            raise ProbeError('banner: %s, not %s...' % (clip(line, 60), check['expect']))
        return clip(line, 80)
    finally:
        sock.close()


DNS_TYPES = {'A': 1, 'NS': 2, 'SOA': 6, 'MX': 15, 'AAAA': 28}


def probe_dns(check, deadline):
    """One query over UDP: an answer (NOERROR with at least one record) for the name and type."""
    qtype = DNS_TYPES[check.get('type', 'A')]
    ident = random.randrange(65536)
    name = b''.join(bytes([len(label)]) + label.encode('ascii') for label in check['name'].rstrip('.').split('.')) + b'\0'
    query = struct.pack('>HHHHHH', ident, 0x0100, 1, 0, 0, 0) + name + struct.pack('>HH', qtype, 1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.connect((check['host'], int(check.get('port', DEFAULT_PORTS['dns']))))
        sock.settimeout(deadline.left())
        sock.send(query)
        while True:
            try:
                sock.settimeout(deadline.left())
                answer = sock.recv(4096)
            except socket.timeout:
                raise ProbeError('query %s %s: no answer within the deadline' % (check['name'], check.get('type', 'A')))
            except OSError as error:
                raise ProbeError('query: %s' % (error.strerror or error))
            if len(answer) < 12 or struct.unpack('>H', answer[:2])[0] != ident:
                continue  # not ours
            flags, _, count = struct.unpack('>HHH', answer[2:8])
            rcode = flags & 0xF
            if rcode != 0 or count == 0:
                names = {0: 'NOERROR', 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 5: 'REFUSED'}
                raise ProbeError('query %s %s: %s, %d answers' % (check['name'], check.get('type', 'A'), names.get(rcode, rcode), count))
            return '%s %s: %d answer%s%s' % (check['name'], check.get('type', 'A'), count, '' if count == 1 else 's', ', authoritative' if flags & 0x0400 else '')
    finally:
        sock.close()


def dhcp_option(options, code):
    at = 0
    while at < len(options):
        kind = options[at]
        if kind == 255:
            break
        if kind == 0:
            at += 1
            continue
        length = options[at + 1]
        if kind == code:
            return options[at + 2:at + 2 + length]
        at += 2 + length
    return None


def probe_client_mac(interface):
    """The made-up client this host's DHCP probes pretend to be: a locally administered address (02:70:6c, "pl")
    ending like the interface's own, so each host is one steady client (one offered lease, not one per probe)
    and two hosts probing at once do not look like one client asking twice."""
    try:
        with open('/sys/class/net/%s/address' % interface) as f:
            own = bytes.fromhex(f.read().strip().replace(':', ''))
    except (OSError, ValueError):
        own = b'\0' * 6
    return b'\x02\x70\x6c' + own[3:6]


def probe_dhcp(check, deadline):
    """A DHCPDISCOVER broadcast on the interface; the offers seen on it within the deadline, by server. The offers
    are read from a packet socket, which sees this host's own dhcpd answer too (a reply it sends never comes back
    to its own UDP sockets). "secs" says the client has waited 60 s: a Kea standby whose partner is out of touch
    counts such a client as unanswered (max-unacked-clients). In hot-standby only the serving server offers;
    "servers" (a count) ends the wait once that many have."""
    xid = random.randrange(1 << 32)
    packet = struct.pack('>BBBBIHH4s4s4s4s16s64s128s', 1, 1, 6, 0, xid, 60, 0x8000, b'\0' * 4, b'\0' * 4, b'\0' * 4, b'\0' * 4,
                         probe_client_mac(check['interface']) + b'\0' * 10, b'', b'')
    packet += b'\x63\x82\x53\x63' + bytes([53, 1, 1, 55, 3, 1, 3, 6, 255])
    interface = check['interface']
    try:
        # ETH_P_ALL: only a socket for every protocol is shown the frames this host sends.
        listener = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0003))
        listener.bind((interface, 0x0003))
    except OSError as error:
        raise ProbeError('listen on %s: %s' % (interface, error.strerror or error))
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    offers = []
    try:
        sender.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        sender.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, interface.encode())
        try:
            sender.bind(('', 68))
        except OSError:
            pass  # a DHCP client holds port 68: servers answer to port 68 whatever port this came from
        sender.sendto(packet, ('255.255.255.255', 67))
        while True:
            try:
                listener.settimeout(deadline.left())
                frame, source = listener.recvfrom(65536)
            except socket.timeout:
                break
            if source[1] != 0x0800 or len(frame) < 28 or frame[9] != 17:
                continue  # not IPv4 UDP
            udp = frame[(frame[0] & 0x0F) * 4:]
            if len(udp) < 8 + 240 or struct.unpack('>H', udp[2:4])[0] != 68:
                continue
            reply = udp[8:]
            if reply[0] != 2 or struct.unpack('>I', reply[4:8])[0] != xid or reply[236:240] != b'\x63\x82\x53\x63':
                continue
            options = reply[240:]
            if dhcp_option(options, 53) != b'\x02':
                continue
            server = dhcp_option(options, 54)
            offer = {'server': socket.inet_ntoa(server) if server and len(server) == 4 else 'unknown', 'address': socket.inet_ntoa(reply[16:20])}
            if offer not in offers:
                offers.append(offer)
            if check.get('servers') and len({o['server'] for o in offers}) >= int(check['servers']):
                break
    finally:
        sender.close()
        listener.close()
    if not offers:
        raise ProbeError('DHCPDISCOVER on %s: no offer within the deadline' % interface)
    return 'offers: %s' % ', '.join('%s from %s' % (o['address'], o['server']) for o in offers), offers


PROBES = {'smtp': probe_smtp, 'imap': probe_imap, 'https': probe_https, 'dns': probe_dns, 'dhcp': probe_dhcp, 'banner': probe_banner}


def run(check, timeout):
    """One probe: never raises, always within its deadline (plus the time to build the result)."""
    started = time.monotonic()
    result = {'kind': check.get('kind'), 'host': check.get('host', check.get('interface')), 'port': int(check.get('port', DEFAULT_PORTS.get(check.get('kind'), 0)))}
    if check.get('label'):
        result['label'] = str(check['label'])
    try:
        answer = PROBES[check['kind']](check, Deadline(float(check.get('timeout', timeout))))
        if isinstance(answer, tuple):
            answer, result['offers'] = answer
        result.update(ok=True, detail=answer)
    except ProbeError as error:
        result.update(ok=False, detail=str(error))
    except socket.timeout:
        result.update(ok=False, detail='no answer within the deadline')
    except Exception as error:  # a probe must answer, whatever the server sent
        result.update(ok=False, detail='%s: %s' % (type(error).__name__, clip(str(error))))
    result['ms'] = round((time.monotonic() - started) * 1000, 1)
    return result


def check_request(request):
    if not isinstance(request, dict) or not isinstance(request.get('checks'), list) or not request['checks']:
        raise ValueError('the request needs a non-empty list "checks"')
    for index, check in enumerate(request['checks']):
        if not isinstance(check, dict) or check.get('kind') not in PROBES:
            raise ValueError('checks[%d]: kind must be one of %s' % (index, ', '.join(sorted(PROBES))))
        needed = {'dhcp': ['interface'], 'dns': ['host', 'name']}.get(check['kind'], ['host'])
        if check['kind'] == 'banner' and not check.get('port'):
            raise ValueError('checks[%d] (banner): "port" is required' % index)
        for key in needed:
            if not isinstance(check.get(key), str) or not check[key]:
                raise ValueError('checks[%d] (%s): "%s" is required' % (index, check['kind'], key))
        if check['kind'] == 'dns' and check.get('type', 'A') not in DNS_TYPES:
            raise ValueError('checks[%d]: type must be one of %s' % (index, ', '.join(DNS_TYPES)))
        if check.get('password'):
            SECRETS.append(str(check['password']))
    timeout = request.get('timeout', 2)
    if not isinstance(timeout, (int, float)) or not 0 < timeout <= 60:
        raise ValueError('"timeout" must be a number of seconds from 0 to 60')
    return float(timeout)


def once(checks, timeout):
    results = [None] * len(checks)

    def work(i):
        results[i] = run(checks[i], timeout)

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(len(checks))]
    for thread in threads:
        thread.start()
    limit = time.monotonic() + max(float(c.get('timeout', timeout)) for c in checks) + 1
    for thread in threads:
        thread.join(max(0, limit - time.monotonic()))
    for i, check in enumerate(checks):
        if results[i] is None:  # cannot happen unless a probe ignored its deadline; never wait for it
            results[i] = {'kind': check['kind'], 'host': check.get('host', check.get('interface')), 'ok': False, 'detail': 'the probe did not finish', 'ms': None}
    return results


def repeat(checks, timeout, every, duration):
    """Starts every check each `every` seconds for `duration` seconds; one JSON line per finished probe."""
    lock = threading.Lock()
    failed = []

    def work(check, at):
        result = run(check, timeout)
        result['at'] = round(at, 3)
        with lock:
            failed.append(not result['ok'])
            sys.stdout.write(json.dumps(result) + '\n')
            sys.stdout.flush()

    stopping = threading.Event()
    # SIGTERM stops the starts; the probes under way still finish and print.
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    start = time.monotonic()
    wall = time.time()
    rounds = int(round(duration / every))
    for n in range(rounds):
        if stopping.wait(max(0, start + n * every - time.monotonic())):
            break
        for check in checks:
            threading.Thread(target=work, args=(check, wall + n * every), daemon=True).start()
    time.sleep(timeout + 0.5)
    return any(failed)


def main():
    try:
        request = json.loads(sys.stdin.read())
        timeout = check_request(request)
    except ValueError as error:
        sys.stderr.write('service-probe: %s\n' % error)
        return 2
    if request.get('every'):
        return 1 if repeat(request['checks'], timeout, float(request['every']), float(request.get('for', 60))) else 0
    results = once(request['checks'], timeout)
    if request.get('syslog'):
        # For keepalived's track script, whose output nobody reads: each failure to the journal.
        import syslog
        syslog.openlog(str(request['syslog']), 0, syslog.LOG_DAEMON)
        for r in results:
            if not r['ok']:
                syslog.syslog(syslog.LOG_WARNING, '%s %s:%s: %s (%s ms)' % (r.get('label') or r['kind'], r['host'], r['port'], r['detail'], r['ms']))
    sys.stdout.write(json.dumps({'results': results}) + '\n')
    return 0 if all(r['ok'] for r in results) else 1


if __name__ == '__main__':
    code = main()
    sys.stdout.flush()
    # Not sys.exit: a probe thread still inside a C call must not hold the exit up.
    os._exit(code)
