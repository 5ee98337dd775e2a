#!/usr/bin/python3 -I
"""Managed by play (role dovecot): mailbox replication for Dovecot 2.4, which has no replicator.

    play-mailsync daemon [--config FILE]         the daemon (systemd, root): syncs every changed user to the peer
    play-mailsync status                         queue counts, as `doveadm replicator status` printed them
    play-mailsync status USER|'*'                one row per user: username priority fast-sync full-sync
                                                 success-sync failed (ages H:MM:SS, '-' never; failed 'y' or '-')
    play-mailsync replicate [-f] USER|'*'        queue a sync (-f: full) of a user, or of every user

The daemon reads Dovecot's event exporter (driver unix, format json: one object per line, the event's name under
"event", the user under "fields.user") on its events socket. A `mail_delivery_finished` or `imap_command_finished`
of a user in the users file marks that user dirty; 50 ms later it runs

    doveadm sync -u USER -N -l 30 -T 45 [-f] tcps:PEER:PORT

(never two at once for one user, at most `concurrency` at once in all), killed with its process group after
`syncTimeoutSeconds`, doubled for the user's next attempt after each kill (at most `maxSyncTimeoutSeconds`, back to
the start after a success): a sync that is merely big (a restore, a folder of thousands expunged) gets the time it
needs instead of being killed at the same point again and again. Exit 0 is done; exit 2 (changed during the sync) runs it again at once (5 times at most);
anything else is a failure, retried after 1, 2, 4 ... `backoffMaxSeconds` seconds, or sooner on the user's next event.
At start (nothing is persisted: this is the replay after a crash) and every `periodicSeconds` it syncs every user;
at `fullSyncHour`, on SIGUSR1 and on `replicate -f '*'` it runs a full sync of every user. After every sync it
writes `statusFile` (JSON, atomically). Times in it are Unix seconds (null: never).
"""
import fnmatch
import heapq
import itertools
import json
import os
import queue
import selectors
import signal
import socket
import stat
import subprocess
import sys
import threading
import time

DEFAULT_CONFIG = '/etc/dovecot/play-mailsync.json'
EVENTS = ('mail_delivery_finished', 'imap_command_finished')
MAX_LINE = 64 * 1024
MAX_RERUNS = 5
EX_CHANGED = 2
EX_TEMPFAIL = 75
CLIENT_TIMEOUT = 3.0
STOP_GRACE = 1.5
USERS_RECHECK = 1.0


def log(message):
    print('play-mailsync: ' + message, file=sys.stderr, flush=True)


def load_config(path):
    with open(path) as f:
        raw = json.load(f)
    cfg = {'doveadm': '/usr/bin/doveadm', 'concurrency': 4, 'debounceMs': 50, 'syncTimeoutSeconds': 60,
           'maxSyncTimeoutSeconds': 3600, 'backoffMaxSeconds': 30, 'periodicSeconds': 600, 'fullSyncHour': None, 'connectPassSeconds': 60}
    cfg.update(raw)
    for key in ('peer', 'port', 'usersFile', 'eventsSocket', 'controlSocket', 'statusFile'):
        if key not in cfg:
            raise SystemExit('play-mailsync: %s: missing "%s"' % (path, key))
    return cfg


class RateLimitedLog:
    """One line per `interval` seconds at most, counting what it swallowed (garbage on the socket is not news)."""

    def __init__(self, interval=10.0):
        self.interval, self.last, self.suppressed = interval, -1e9, 0

    def __call__(self, message):
        now = time.monotonic()
        if now - self.last < self.interval:
            self.suppressed += 1
            return
        more = ' (%d more like it since the last)' % self.suppressed if self.suppressed else ''
        self.last, self.suppressed = now, 0
        log(message + more)


class User:
    def __init__(self):
        self.pending = False       # a sync is wanted (an event, a pass, a request, a retry)
        self.high = False          # the wanted sync is for an event or a request, not a pass
        self.full = False          # the wanted sync is a full one
        self.first_event = None    # monotonic time of the first event the wanted sync is for
        self.due = None            # monotonic time the wanted sync may start (None: not scheduled, or queued)
        self.token = 0             # invalidates stale timers
        self.queued = False
        self.running = False
        self.running_full = False
        self.in_backoff = False
        self.fails = 0
        self.reruns = 0
        self.timeout = None        # the running or next sync's time limit (None: the configured one)
        self.last_ok = None
        self.last_attempt = None
        self.last_full_attempt = None
        self.last_full_ok = None
        self.last_error = None
        self.exit_code = None
        self.failed = False


class Daemon:
    def __init__(self, cfg):
        self.cfg = cfg
        self.debounce = max(0, cfg['debounceMs']) / 1000.0
        self.started = time.time()
        self.start_pass_done = None
        self.users = {}
        self.users_mtime = None
        self.users_checked = -1e9
        self.timers = []
        self.seq = itertools.count()
        self.ready_high, self.ready_low = {}, {}
        self.running = {}          # user -> Popen
        self.results = queue.Queue()
        self.sel = selectors.DefaultSelector()
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        self.sel.register(self.wake_r, selectors.EVENT_READ, ('wake', None))
        self.stop = False
        self.usr1 = False
        self.status_dirty = False
        self.connect_pass_last = -1e9
        self.connect_pass_due = False
        self.garbage, self.too_long, self.io_error = RateLimitedLog(), RateLimitedLog(), RateLimitedLog()

    # --- sockets -------------------------------------------------------------------------------------------------

    def listeners(self):
        """The events and control sockets: systemd's (socket activation) when it passed them, else bound here."""
        passed = {}
        if os.environ.get('LISTEN_PID') == str(os.getpid()):
            try:
                count = int(os.environ.get('LISTEN_FDS', '0'))
            except ValueError:
                count = 0
            names = os.environ.get('LISTEN_FDNAMES', '').split(':') if os.environ.get('LISTEN_FDNAMES') else []
            fds = list(range(3, 3 + count))
            by_name = {}
            for i, fd in enumerate(fds):
                name = names[i] if i < len(names) else ''
                for role in ('events', 'control'):
                    if role in name and role not in by_name:
                        by_name[role] = fd
            if len(by_name) == len(fds):
                passed = by_name
            else:
                passed = dict(zip(('events', 'control'), fds))
            for fd in fds:
                os.set_inheritable(fd, False)
        # Never handed down to doveadm, which would take them for its own.
        for key in ('LISTEN_PID', 'LISTEN_FDS', 'LISTEN_FDNAMES'):
            os.environ.pop(key, None)
        socks = {}
        for role, path, mode in (('events', self.cfg['eventsSocket'], 0o660),
                                 ('control', self.cfg['controlSocket'], 0o600)):
            if role in passed:
                socks[role] = socket.socket(fileno=passed[role])
            else:
                socks[role] = bind_unix(path, mode)
            socks[role].setblocking(False)
        return socks

    def serve(self):
        socks = self.listeners()
        self.sel.register(socks['events'], selectors.EVENT_READ, ('accept', 'events'))
        self.sel.register(socks['control'], selectors.EVENT_READ, ('accept', 'control'))
        signal.signal(signal.SIGTERM, self.on_signal)
        signal.signal(signal.SIGINT, self.on_signal)
        signal.signal(signal.SIGUSR1, self.on_signal)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        self.reload_users(force=True)
        log('started: %d users, peer %s:%s' % (len(self.users), self.cfg['peer'], self.cfg['port']))
        self.write_status()
        self.pass_all(full=False, high=False)           # the replay: nothing survived the last stop
        periodic = max(1, self.cfg['periodicSeconds'])
        self.every(periodic, lambda: self.pass_all(full=False, high=False))
        if self.cfg.get('fullSyncHour') is not None:
            self.at_hour(int(self.cfg['fullSyncHour']))
        self.loop()

    def on_signal(self, signum, frame):
        if signum == signal.SIGUSR1:
            self.usr1 = True
        else:
            self.stop = True
        try:
            os.write(self.wake_w, b'x')
        except OSError:
            pass

    # --- timers --------------------------------------------------------------------------------------------------

    def after(self, delay, fn):
        heapq.heappush(self.timers, (time.monotonic() + delay, next(self.seq), fn))

    def every(self, interval, fn):
        def tick():
            fn()
            self.after(interval, tick)
        self.after(interval, tick)

    def at_hour(self, hour):
        def next_delay():
            now = time.time()
            lt = time.localtime(now)
            target = time.mktime((lt.tm_year, lt.tm_mon, lt.tm_mday, hour, 0, 0, 0, 0, -1))
            while target <= now + 1:
                target += 86400
            return target - now

        def tick():
            self.pass_all(full=True, high=False)
            self.after(next_delay(), tick)
        self.after(next_delay(), tick)

    # --- the loop ------------------------------------------------------------------------------------------------

    def loop(self):
        while not self.stop:
            if self.usr1:
                self.usr1 = False
                self.pass_all(full=True, high=True)
            self.reap()
            now = time.monotonic()
            while self.timers and self.timers[0][0] <= now:
                _, _, fn = heapq.heappop(self.timers)
                fn()
            self.dispatch()
            if self.status_dirty:
                self.write_status()
            timeout = None
            if self.timers:
                timeout = max(0.0, self.timers[0][0] - time.monotonic())
            for key, mask in self.sel.select(timeout):
                kind, data = key.data
                if kind == 'wake':
                    try:
                        while os.read(self.wake_r, 4096):
                            pass
                    except BlockingIOError:
                        pass
                elif kind == 'accept':
                    self.accept(key.fileobj, data)
                elif kind == 'conn':
                    self.readable(key.fileobj, data)
                if self.stop:
                    break
        self.shutdown()

    def shutdown(self):
        for user, proc in list(self.running.items()):
            kill_group(proc)
        deadline = time.monotonic() + STOP_GRACE
        while self.running and time.monotonic() < deadline:
            try:
                user, rc, err, killed = self.results.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.running.pop(user, None)
        log('stopped')

    # --- connections ---------------------------------------------------------------------------------------------

    def accept(self, sock, role):
        try:
            conn, _ = sock.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return
        conn.setblocking(False)
        self.sel.register(conn, selectors.EVENT_READ, ('conn', {'role': role, 'buf': b'', 'skip': False}))
        if role == 'events':
            self.connect_pass()

    def connect_pass(self):
        """A fast pass of every user when an exporter (re)connects: the event that made it reconnect is lost.

        Dovecot's stats process keeps its connection open; after this daemon restarts, its next write fails (EPIPE)
        and it DROPS that event, then reconnects on the one after (2.4.1, event-exporter-transport-file.c; seen in
        the lab). Which user it was is unknown, so everyone gets a fast sync, at most once per connectPassSeconds.
        """
        interval = self.cfg['connectPassSeconds']
        if not interval or interval <= 0 or self.connect_pass_due:
            return
        self.connect_pass_due = True

        def run():
            self.connect_pass_due = False
            self.connect_pass_last = time.monotonic()
            self.pass_all(full=False, high=False)
        self.after(max(0.0, self.connect_pass_last + interval - time.monotonic()), run)

    def close(self, conn):
        try:
            self.sel.unregister(conn)
        except (KeyError, ValueError):
            pass
        conn.close()

    def readable(self, conn, state):
        try:
            data = conn.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b''
        if not data:
            # A partial last line is a writer that died mid-line: dropped.
            self.close(conn)
            return
        buf = state['buf'] + data
        lines = buf.split(b'\n')
        state['buf'] = lines.pop()
        for line in lines:
            if state['skip']:
                state['skip'] = False     # the rest of an over-long line
                continue
            if len(line) > MAX_LINE:
                self.too_long('dropped a line of %d bytes on the %s socket' % (len(line), state['role']))
                continue
            if state['role'] == 'events':
                self.event(line)
            else:
                self.control(conn, line)
                self.close(conn)
                return
        if len(state['buf']) > MAX_LINE:
            self.too_long('dropped a line of over %d bytes on the %s socket' % (MAX_LINE, state['role']))
            state['buf'], state['skip'] = b'', True

    def event(self, line):
        line = line.strip()
        if not line:
            return
        try:
            ev = json.loads(line)
            name = ev.get('event', ev.get('name'))
            user = ev.get('fields', {}).get('user')
        except (ValueError, AttributeError, UnicodeDecodeError) as e:
            self.garbage('skipped an event line that is not a JSON object (%s): %r' % (e, line[:80]))
            return
        if name not in EVENTS:
            return
        if not isinstance(user, str) or not user:
            self.garbage('skipped a %s event without fields.user' % name)
            return
        self.reload_users()
        if user not in self.users:
            return
        self.want(user, full=False, high=True, event=True)

    def control(self, conn, line):
        try:
            req = json.loads(line)
            answer = self.answer(req)
        except Exception as e:  # a bad request must never take the daemon down
            answer = {'error': 'bad request: %s' % e}
        data = (json.dumps(answer) + '\n').encode()
        try:
            conn.setblocking(True)
            conn.settimeout(2.0)
            conn.sendall(data)
        except OSError:
            pass

    def answer(self, req):
        cmd = req.get('cmd')
        self.reload_users()
        if cmd == 'status':
            return {'counts': self.counts()}
        if cmd == 'users':
            now = time.time()
            pattern = req.get('mask', '*')
            rows = []
            for name in sorted(self.users):
                if fnmatch.fnmatchcase(name, pattern):
                    u = self.users[name]
                    rows.append({'user': name, 'priority': 'high' if (u.pending and u.high) or u.running else 'none',
                                 'fast': u.last_attempt, 'full': u.last_full_attempt, 'ok': u.last_ok,
                                 'failed': u.failed})
            return {'now': now, 'rows': rows}
        if cmd == 'replicate':
            mask = req.get('mask', '')
            full = bool(req.get('full'))
            matched = [name for name in self.users if fnmatch.fnmatchcase(name, mask)]
            if not matched:
                return {'error': 'no known user matches %r' % mask, 'exit': 67}
            for name in matched:
                self.want(name, full=full, high=True, event=True)
            return {'queued': len(matched)}
        return {'error': 'unknown command %r' % cmd, 'exit': 64}

    def counts(self):
        c = dict.fromkeys(('sync', 'high', 'low', 'failed', 'full', 'waiting', 'users'), 0)
        c['users'] = len(self.users)
        for u in self.users.values():
            if u.pending or u.running:
                c['sync'] += 1
            if u.pending:
                c['high' if u.high else 'low'] += 1
                if u.full:
                    c['full'] += 1
            if u.failed and u.pending:
                c['failed'] += 1
                if u.in_backoff:
                    c['waiting'] += 1
        return c

    # --- users ---------------------------------------------------------------------------------------------------

    def reload_users(self, force=False):
        now = time.monotonic()
        if not force and now - self.users_checked < USERS_RECHECK:
            return
        self.users_checked = now
        path = self.cfg['usersFile']
        try:
            mtime = os.stat(path).st_mtime_ns
            if mtime == self.users_mtime and not force:
                return
            names = []
            with open(path, encoding='utf-8', errors='replace') as f:
                for line in f:
                    line = line.strip()
                    if line and not line.startswith('#'):
                        name = line.split(':', 1)[0].strip()
                        if name:
                            names.append(name)
        except OSError as e:
            if self.users_mtime != 'error':
                log('cannot read the users file %s: %s (keeping %d users)' % (path, e, len(self.users)))
            self.users_mtime = 'error'
            return
        self.users_mtime = mtime
        wanted = set(names)
        for name in list(self.users):
            if name not in wanted and not self.users[name].running:
                del self.users[name]
                self.ready_high.pop(name, None)
                self.ready_low.pop(name, None)
        for name in names:
            if name not in self.users:
                self.users[name] = User()
        self.status_dirty = True

    # --- scheduling ----------------------------------------------------------------------------------------------

    def want(self, name, full, high, event):
        """Marks a user dirty; `event`: an event or a request, which cuts short a wait after a failure."""
        u = self.users.get(name)
        if u is None:
            return
        now = time.monotonic()
        if not u.pending:
            u.first_event = now
        u.pending = True
        u.full = u.full or full
        if high and not u.high:
            u.high = True
            if u.queued and name in self.ready_low:
                del self.ready_low[name]
                self.ready_high[name] = True
        if u.running or u.queued:
            return
        if u.due is not None and not (u.in_backoff and event):
            return                              # already scheduled: debounced from the first event
        u.in_backoff = False
        self.schedule(name, u, self.debounce if event else 0.0)

    def schedule(self, name, u, delay):
        u.token += 1
        token = u.token
        u.due = time.monotonic() + delay
        if delay <= 0:
            self.enqueue(name, u, token)
        else:
            self.after(delay, lambda: self.enqueue(name, u, token))

    def enqueue(self, name, u, token):
        if token != u.token or self.users.get(name) is not u or u.running or u.queued or not u.pending:
            return
        u.due = None
        u.in_backoff = False
        u.queued = True
        (self.ready_high if u.high else self.ready_low)[name] = True

    def pass_all(self, full, high):
        self.reload_users(force=True)
        for name in list(self.users):
            self.want(name, full=full, high=high, event=high)

    def dispatch(self):
        limit = max(1, int(self.cfg['concurrency']))
        while len(self.running) < limit and (self.ready_high or self.ready_low):
            ready = self.ready_high if self.ready_high else self.ready_low
            name = next(iter(ready))
            del ready[name]
            u = self.users.get(name)
            if u is None:
                continue
            u.queued = False
            self.start(name, u)

    def start(self, name, u):
        full = u.full
        u.pending = u.high = u.full = False
        u.first_event = None
        u.running, u.running_full = True, full
        u.last_attempt = time.time()
        if full:
            u.last_full_attempt = u.last_attempt
        cmd = [self.cfg['doveadm'], 'sync', '-u', name, '-N', '-l', '30', '-T', '45']
        if full:
            cmd.append('-f')
        cmd.append('tcps:%s:%s' % (self.cfg['peer'], self.cfg['port']))
        try:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE, start_new_session=True, close_fds=True)
        except OSError as e:
            self.running[name] = None
            self.results.put((name, None, 'cannot run %s: %s' % (cmd[0], e), False))
            os.write(self.wake_w, b'x')
            return
        self.running[name] = proc
        timeout = u.timeout or self.cfg['syncTimeoutSeconds']
        threading.Thread(target=self.wait, args=(name, proc, timeout), daemon=True).start()

    def wait(self, name, proc, timeout):
        killed = False
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            killed = True
            kill_group(proc)
            try:
                _, err = proc.communicate(timeout=5)
            except subprocess.TimeoutExpired:     # a child that left the group holds the pipe: stop reading
                proc.stderr.close()
                proc.wait()
                err = b''
        text = (err or b'').decode('utf-8', 'replace').strip()
        self.results.put((name, proc.returncode, text, killed))
        try:
            os.write(self.wake_w, b'x')
        except OSError:
            pass

    def reap(self):
        while True:
            try:
                name, rc, err, killed = self.results.get_nowait()
            except queue.Empty:
                return
            self.running.pop(name, None)
            self.finished(name, rc, err, killed)
            self.status_dirty = True

    def finished(self, name, rc, err, killed):
        u = self.users.get(name)
        if u is None:
            return
        u.running = False
        full = u.running_full
        if killed:
            u.exit_code = None
            limit = u.timeout or self.cfg['syncTimeoutSeconds']
            u.timeout = min(limit * 2, max(limit, self.cfg['maxSyncTimeoutSeconds']))
            error = 'killed after %ss (hung, or bigger than that: the next attempt may take %ss)' % (limit, u.timeout)
        elif rc is None:
            u.exit_code = None
            error = err
        else:
            u.exit_code = rc
            error = None if rc in (0, EX_CHANGED) else 'exit %d: %s' % (rc, last_line(err))
        if rc == 0 and not killed:
            u.reruns = 0
            u.timeout = None
            u.last_ok = u.last_attempt
            if full:
                u.last_full_ok = u.last_attempt
            if u.failed:
                log('%s: synced again after %d failed attempt%s' % (name, u.fails, '' if u.fails == 1 else 's'))
            u.failed, u.fails, u.last_error = False, 0, None
            self.check_start_pass()
        elif rc == EX_CHANGED and not killed and u.reruns < MAX_RERUNS:
            u.reruns += 1
            # Changed during the sync: again at once, at the head of the queue.
            u.pending = True
            u.full = u.full or full
            u.high = True
            u.queued = True
            self.ready_high = {name: True, **{k: v for k, v in self.ready_high.items() if k != name}}
            return
        else:
            if rc == EX_CHANGED and not killed:
                error = 'exit 2 (mailbox changed during the sync) %d times in a row' % (MAX_RERUNS + 1)
            u.reruns = 0
            u.failed, u.last_error = True, error
            u.fails += 1
            delay = min(2 ** min(u.fails - 1, 30), max(1, self.cfg['backoffMaxSeconds']))
            log('%s: sync failed (%s); retry in %ds' % (name, error, delay))
            u.pending = True
            u.full = u.full or full
            u.in_backoff = True
            self.schedule(name, u, delay)
            return
        if u.pending:
            delay = max(0.0, (u.first_event or time.monotonic()) + self.debounce - time.monotonic())
            self.schedule(name, u, delay)

    def check_start_pass(self):
        if self.start_pass_done is None and all(
                u.last_ok is not None and u.last_ok >= self.started for u in self.users.values()):
            self.start_pass_done = time.time()

    # --- status --------------------------------------------------------------------------------------------------

    def write_status(self):
        self.status_dirty = False
        users = {}
        for name in sorted(self.users):
            u = self.users[name]
            users[name] = {'lastOk': rnd(u.last_ok), 'lastAttempt': rnd(u.last_attempt),
                           'lastFullOk': rnd(u.last_full_ok), 'lastError': u.last_error, 'exitCode': u.exit_code,
                           'failed': u.failed, 'pending': u.pending, 'running': u.running}
        doc = {'version': 1, 'daemonStarted': rnd(self.started), 'startPassDone': rnd(self.start_pass_done),
               'written': rnd(time.time()), 'peer': self.cfg['peer'], 'users': users}
        path = self.cfg['statusFile']
        tmp = '%s.tmp.%d' % (path, os.getpid())
        try:
            with open(tmp, 'w') as f:
                json.dump(doc, f, indent=1, sort_keys=True)
                f.write('\n')
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except OSError as e:
            self.io_error('cannot write %s: %s' % (path, e))


def rnd(t):
    return None if t is None else round(t, 3)


def last_line(text):
    lines = [line for line in (text or '').splitlines() if line.strip()]
    return lines[-1][:300] if lines else 'no message'


def kill_group(proc):
    if proc is None:
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def bind_unix(path, mode):
    try:
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            os.unlink(path)                     # stale: a daemon that died left it
    except FileNotFoundError:
        pass
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        sock.bind(path)
    finally:
        os.umask(old)
    os.chmod(path, mode)
    sock.listen(128)
    return sock


# --- the client ------------------------------------------------------------------------------------------------

def ask(cfg, request):
    path = cfg['controlSocket']
    deadline = time.monotonic() + CLIENT_TIMEOUT
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(CLIENT_TIMEOUT)
        sock.connect(path)
        sock.sendall((json.dumps(request) + '\n').encode())
        buf = b''
        while not buf.endswith(b'\n'):
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = sock.recv(65536)
            if not chunk:
                break
            buf += chunk
        answer = json.loads(buf)
    except (OSError, ValueError) as e:
        what = 'no answer within %ds' % CLIENT_TIMEOUT if isinstance(e, socket.timeout) else str(e) or type(e).__name__
        print('play-mailsync: the daemon does not answer on %s (%s)' % (path, what), file=sys.stderr)
        sys.exit(EX_TEMPFAIL)
    finally:
        sock.close()
    if 'error' in answer:
        print('play-mailsync: %s' % answer['error'], file=sys.stderr)
        sys.exit(answer.get('exit', 1))
    return answer


def age(now, t):
    if t is None:
        return '-'
    diff = max(0, int(now - t))
    return '%02d:%02d:%02d' % (diff // 3600, (diff // 60) % 60, diff % 60)


def cmd_status(cfg, mask):
    if mask is None:
        c = ask(cfg, {'cmd': 'status'})['counts']
        for label, key in (("Queued 'sync' requests", 'sync'), ("Queued 'high' requests", 'high'),
                           ("Queued 'low' requests", 'low'), ("Queued 'failed' requests", 'failed'),
                           ("Queued 'full resync' requests", 'full'), ("Waiting 'failed' requests", 'waiting'),
                           ('Total number of known users', 'users')):
            print('%-29s %d' % (label, c[key]))
        return
    answer = ask(cfg, {'cmd': 'users', 'mask': mask})
    rows, now = answer['rows'], answer['now']
    width = max([62] + [len(r['user']) for r in rows])
    print('%s priority fast sync full sync success sync failed' % 'username'.ljust(width))
    for r in rows:
        print('%s %-8s %-9s %-9s %-12s %s' % (r['user'].ljust(width), r['priority'], age(now, r['fast']),
                                              age(now, r['full']), age(now, r['ok']), 'y' if r['failed'] else '-'))


USAGE = """usage: play-mailsync [--config FILE] daemon
       play-mailsync [--config FILE] status [USER|'*']
       play-mailsync [--config FILE] replicate [-f] USER|'*'"""


def main(argv):
    args = list(argv)
    config = DEFAULT_CONFIG
    if len(args) >= 2 and args[0] in ('--config', '-c'):
        config, args = args[1], args[2:]
    if 'daemon' in args[:1] and '--config' in args:
        i = args.index('--config')
        if i + 1 < len(args):
            config = args[i + 1]
            del args[i:i + 2]
    if not args or args[0] in ('-h', '--help'):
        print(USAGE, file=sys.stderr)
        return 64 if not args else 0
    try:
        cfg = load_config(config)
    except (OSError, ValueError) as e:
        print('play-mailsync: cannot read %s: %s' % (config, e), file=sys.stderr)
        return 78
    cmd, rest = args[0], args[1:]
    if cmd == 'daemon' and not rest:
        Daemon(cfg).serve()
        return 0
    if cmd == 'status' and len(rest) <= 1:
        cmd_status(cfg, rest[0] if rest else None)
        return 0
    if cmd == 'replicate':
        full = '-f' in rest or '--full-sync' in rest
        masks = [a for a in rest if a not in ('-f', '--full-sync')]
        if len(masks) == 1:
            ask(cfg, {'cmd': 'replicate', 'mask': masks[0], 'full': full})
            return 0
    print(USAGE, file=sys.stderr)
    return 64


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
