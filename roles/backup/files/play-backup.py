#!/usr/bin/python3 -I
"""Managed by play (role backup): the school's backups with restic, to the other server and off-site.

    play-backup run                       the nightly run (play-backup.service): each repository in turn, one
                                          failing does not stop the next: created when new, a backup of the
                                          mailboxes, Roundcube's database and the DKIM key, old snapshots
                                          forgotten (the inventory's retention) and pruned, a rolling check
                                          that reads every pack within checkDays days. Exit 1 if any failed.
    play-backup drill                     the restore drill, which run does after each backup: the canary message
                                          run planted (a new one each night) is restored from each repository's
                                          newest snapshot into a scratch folder, its checksum compared with the
                                          planted one's, and read there over IMAP (Dovecot's own imap, preauth).
                                          Recorded in the status; exit 1 if any repository failed it.
    play-backup status                    the last run of each repository, as JSON (play verify reads it)
    play-backup restore ACCOUNT [--folder NAME] [--at ISO-TIME] [--repository NAME] [--dry-run]
                                          puts ACCOUNT's mail back as it was in the newest snapshot (at or before
                                          --at): every message of the snapshot that is not in the live mailbox
                                          any more goes back into its folder (a deleted folder comes back, and is
                                          subscribed); what is still there is left alone. Prints JSON: the
                                          snapshot used and the messages restored per folder.

Nothing here stops a service: Maildir is read as it is (a message is one file, written once and renamed in), and
Roundcube's MariaDB database is dumped first (mariadb-dump --single-transaction: a consistent snapshot, no lock). A run holds a lock (a second waits for
it); each restic command has a time limit, and its ssh to the other server gives up on a dead peer within 30 s.
"""
import argparse
import datetime
import fcntl
import hashlib
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import syslog
import tempfile
import time

# Where the helper keeps its files; the environment may move them (its own tests run it as a normal program).
CONFIG = os.environ.get('PLAY_BACKUP_CONFIG', '/etc/play-backup/config.json')
LOCK = os.environ.get('PLAY_BACKUP_LOCK', '/run/play-backup.lock')
STATE = os.environ.get('PLAY_BACKUP_STATE', '/var/lib/play-backup')
STATUS = STATE + '/status.json'
STAGE = STATE + '/stage'
HOURS = 3600
# The canary the drill restores: one message in a Maildir of its own, backed up with the rest; a new one each run.
CANARY = STATE + '/canary/Maildir'


def log(message, error=False):
    syslog.openlog('play-backup')
    syslog.syslog(syslog.LOG_ERR if error else syslog.LOG_INFO, message)
    print(message, file=sys.stderr if error else sys.stdout, flush=True)


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def iso(moment):
    return moment.astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def config():
    with open(CONFIG) as f:
        return json.load(f)


class ResticError(Exception):
    pass


def timeout(cfg, kind):
    """Seconds a restic command may take: `short` ones (reading the config, unlocking, listing) give up on a stalled
    repository soon, `long` ones (backup, prune, check, restore) only after hours."""
    return int(cfg.get('timeouts', {}).get(kind, {'short': 120, 'long': 6 * HOURS}[kind]))


def restic(cfg, repository, args, seconds, capture=True):
    """Runs restic on one repository; its last lines of stderr in the error when it fails. restic and what it
    starts (the ssh of an sftp: repository) are one process group: past `seconds` the whole group is killed, so a
    stalled peer never holds the run (an ssh left behind would keep the pipes, and the wait, open)."""
    env = dict(os.environ, RESTIC_PASSWORD_FILE=cfg['passwordFile'], RESTIC_CACHE_DIR=STATE + '/cache')
    for name, value in repository.get('env', {}).items():
        env[name] = value
    command = ['restic', '--repo', repository['url'], '--quiet']
    if repository.get('sftpCommand'):
        command += ['-o', 'sftp.command=' + repository['sftpCommand']]
    pipe = subprocess.PIPE if capture else None
    child = subprocess.Popen(command + args, env=env, stdout=pipe, stderr=pipe, stdin=subprocess.DEVNULL, text=True,
                             start_new_session=True)
    try:
        out, err = child.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.communicate()
        raise ResticError('restic %s: no end after %d s (the repository does not answer)' % (args[0], seconds))
    finally:
        try:
            os.killpg(child.pid, signal.SIGKILL)  # whatever restic left running
        except ProcessLookupError:
            pass
    if child.returncode != 0:
        tail = (err or '').strip().splitlines()[-3:] if capture else []
        raise ResticError('restic %s: exit %d%s' % (args[0], child.returncode, (': ' + ' / '.join(tail)) if tail else ''))
    return out if capture else ''


def read_status():
    try:
        with open(STATUS) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {'repositories': {}}


def write_status(status):
    os.makedirs(STATE, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=STATE, prefix='.status.')
    with os.fdopen(fd, 'w') as f:
        json.dump(status, f, indent=1, sort_keys=True)
        f.write('\n')
    os.replace(temp, STATUS)


def stage(cfg):
    """What is copied before restic reads it: a dump of Roundcube's MariaDB database (mariadb-dump
    --single-transaction: one consistent snapshot of InnoDB, nothing locked, Roundcube stays in use). The dump is
    written beside its place and renamed in only when complete: a failed or interrupted dump never replaces the
    last good one, and fails the run."""
    os.makedirs(STAGE, mode=0o700, exist_ok=True)
    dump = cfg.get('roundcubeDump')
    if dump:
        target = os.path.join(STAGE, 'roundcube.sql')
        temp = target + '.partial'
        with open(temp, 'wb') as out:
            done = subprocess.run(list(dump) + ['--single-transaction', '--databases', cfg['roundcubeDatabase']],
                                  stdout=out, stderr=subprocess.PIPE, timeout=900)
        if done.returncode != 0:
            os.unlink(temp)
            raise ResticError('dumping Roundcube\'s database: %s' % done.stderr.decode(errors='replace').strip()[:200])
        os.replace(temp, target)
    # A copy the SQLite era left is not backed up any more.
    old = os.path.join(STAGE, 'roundcube.sqlite')
    if os.path.exists(old):
        os.unlink(old)
    maildirs = [a['maildir'] for a in cfg['accounts']]
    return [p for p in maildirs + cfg['paths'] + [STAGE, CANARY] if os.path.exists(p)]


def plant_canary():
    """A new canary message (random body, its own Message-ID) replaces the last one; returns its path and sha256."""
    for sub in ('cur', 'new', 'tmp'):
        os.makedirs(os.path.join(CANARY, sub), mode=0o700, exist_ok=True)
    for old in os.listdir(os.path.join(CANARY, 'cur')):
        os.unlink(os.path.join(CANARY, 'cur', old))
    stamp = int(time.time())
    token = os.urandom(16).hex()
    message = ('From: play-backup <root@localhost>\nTo: play-backup <root@localhost>\n'
               'Subject: restore drill %s\nMessage-ID: <drill-%d-%s@play-backup>\n\n%s\n' % (
                   iso(now()), stamp, token, os.urandom(2048).hex())).encode()
    path = os.path.join(CANARY, 'cur', '%d.%s.play-backup:2,S' % (stamp, token))
    with open(path + '.tmp', 'wb') as f:
        f.write(message)
    os.rename(path + '.tmp', path)
    return path, hashlib.sha256(message).hexdigest()


def newest_canary():
    """The canary planted last (path, sha256), or None before the first run."""
    folder = os.path.join(CANARY, 'cur')
    names = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
    if not names:
        return None
    path = os.path.join(folder, names[-1])
    with open(path, 'rb') as f:
        return path, hashlib.sha256(f.read()).hexdigest()


def imap_read(cfg, maildir):
    """The one message of a Maildir as Dovecot's imap serves it (a preauth session on stdin and stdout), with
    the line ends the file has. The command comes from the config, `{maildir}` replaced."""
    command = [part.replace('{maildir}', maildir) for part in cfg['imapCommand']]
    script = b'a SELECT INBOX\r\nb FETCH 1 BODY.PEEK[]\r\nc LOGOUT\r\n'
    try:
        # Dovecot 2.3's imap wants USER, which a systemd service does not set.
        env = dict(os.environ, USER=cfg.get('imapUser') or 'root')
        done = subprocess.run(command, input=script, capture_output=True, timeout=60, start_new_session=True, env=env)
    except subprocess.TimeoutExpired:
        raise ResticError('the drill\'s IMAP read: no end after 60 s')
    match = re.search(rb'\* 1 FETCH \([^\r\n]*?BODY\[\] \{(\d+)\}\r\n', done.stdout)
    if not match:
        raise ResticError('the drill\'s IMAP read found no message (exit %d): %s' % (
            done.returncode, (done.stdout + done.stderr).decode(errors='replace').strip()[-200:]))
    start = match.end()
    return done.stdout[start:start + int(match.group(1))].replace(b'\r\n', b'\n')


def imap_read_copy(cfg, restored):
    """Reads a restored message over IMAP from a Maildir of its own that the reading user owns: Dovecot gives root
    no mail access, so its imap runs as `imapUser` (an unprivileged user; the canary is no secret)."""
    reader = tempfile.mkdtemp(prefix='play-backup-drill-')
    try:
        maildir = os.path.join(reader, 'Maildir')
        for sub in ('cur', 'new', 'tmp'):
            os.makedirs(os.path.join(maildir, sub))
        shutil.copy2(restored, os.path.join(maildir, 'cur', os.path.basename(restored)))
        owner = cfg.get('imapUser')
        if owner:
            entry = pwd.getpwnam(owner)
            for folder, dirs, files in os.walk(reader):
                for name in [folder] + [os.path.join(folder, n) for n in dirs + files]:
                    os.chown(name, entry.pw_uid, entry.pw_gid)
        return imap_read(cfg, maildir)
    finally:
        shutil.rmtree(reader, ignore_errors=True)


def drill_one(cfg, repository, canary, entry):
    """Restores the canary from the repository's newest snapshot, checks its sha256 and reads it over IMAP."""
    path, digest = canary
    scratch = tempfile.mkdtemp(prefix='drill-', dir=STATE)
    try:
        snapshots = json.loads(restic(cfg, repository, ['snapshots', '--json', '--latest', '1', '--host', cfg['host'],
                                                        '--tag', 'play'], timeout(cfg, 'short')))
        if not snapshots:
            raise ResticError('no snapshot to restore the canary from')
        newest = max(snapshots, key=lambda s: parse_time(s['time']))
        restic(cfg, repository, ['restore', newest['id'], '--target', scratch, '--include', path], timeout(cfg, 'long'))
        restored = scratch + path
        if not os.path.exists(restored):
            raise ResticError('snapshot %s holds no canary %s' % (newest['short_id'], os.path.basename(path)))
        with open(restored, 'rb') as f:
            if hashlib.sha256(f.read()).hexdigest() != digest:
                raise ResticError('the canary restored from snapshot %s differs from the one planted' % newest['short_id'])
        if cfg.get('imapCommand'):
            if hashlib.sha256(imap_read_copy(cfg, restored)).hexdigest() != digest:
                raise ResticError('the canary read over IMAP differs from the one planted')
        entry['drill'] = {'at': iso(now()), 'ok': True, 'snapshot': newest['short_id'], 'imap': bool(cfg.get('imapCommand'))}
    except ResticError as error:
        entry['drill'] = {'at': iso(now()), 'ok': False, 'error': str(error)}
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def ensure_repository(cfg, repository):
    """Creates the repository the first time (restic cat config fails on one that does not exist yet)."""
    try:
        restic(cfg, repository, ['cat', 'config'], timeout(cfg, 'short'))
    except ResticError as missing:
        try:
            restic(cfg, repository, ['init'], timeout(cfg, 'short'))
        except ResticError as error:
            raise ResticError('%s (and %s)' % (error, missing))


def back_up(cfg, repository, paths, entry):
    ensure_repository(cfg, repository)
    # A run killed earlier (power cut) leaves its lock behind. A repository only this server writes (its store on the
    # peer, its own off-site one) can have no other lock while this helper holds the run lock: all of them go. In
    # any other only those restic finds stale (their process gone, or 30 min old).
    restic(cfg, repository, ['unlock'] + (['--remove-all'] if repository.get('exclusive') else []),
           timeout(cfg, 'short'))
    summary = None
    out = restic(cfg, repository, ['backup', '--json', '--host', cfg['host'], '--tag', 'play'] + paths, timeout(cfg, 'long'))
    for line in out.splitlines():
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if message.get('message_type') == 'summary':
            summary = message
    if not summary or not summary.get('snapshot_id'):
        raise ResticError('restic backup printed no summary')
    entry.update(snapshot=summary['snapshot_id'][:8], files=summary.get('total_files_processed'),
                 bytes=summary.get('total_bytes_processed'), lastSuccess=iso(now()), error=None)
    keep = cfg['retention']
    # Every snapshot of the last two days is kept too: one taken by hand before a change survives the night.
    restic(cfg, repository, ['forget', '--prune', '--host', cfg['host'], '--tag', 'play', '--keep-within', '2d',
                             '--keep-daily', str(keep['daily']), '--keep-weekly', str(keep['weekly']),
                             '--keep-monthly', str(keep['monthly'])], timeout(cfg, 'long'))
    # Every pack is read once in checkDays days: today's share of them (1/N .. N/N, one a day).
    days = int(cfg.get('checkDays', 30))
    part = int(time.time() // 86400) % days + 1
    subset = '%d/%d' % (part, days)
    try:
        restic(cfg, repository, ['check', '--read-data-subset=' + subset], timeout(cfg, 'long'))
        entry['check'] = {'at': iso(now()), 'subset': subset, 'ok': True}
    except ResticError as error:
        entry['check'] = {'at': iso(now()), 'subset': subset, 'ok': False, 'error': str(error)}
        raise
    try:
        stats = json.loads(restic(cfg, repository, ['stats', '--json', '--mode', 'raw-data'], timeout(cfg, 'short')))
        entry['repositoryBytes'] = stats.get('total_size')
    except (ResticError, ValueError):
        pass


def run(_args):
    cfg = config()
    failed = []
    with held_lock():
        status = read_status()
        try:
            canary = plant_canary()
            paths = stage(cfg)
        except (ResticError, OSError) as error:
            paths = None
            stage_error = str(error)
        for repository in cfg['repositories']:
            entry = status['repositories'].setdefault(repository['name'], {})
            entry['lastAttempt'] = iso(now())
            try:
                if paths is None:
                    raise ResticError(stage_error)
                back_up(cfg, repository, paths, entry)
                log('backup to %s: snapshot %s, %s files' % (repository['name'], entry['snapshot'], entry['files']))
            except ResticError as error:
                entry['error'] = str(error)
                failed.append(repository['name'])
                log('backup to %s FAILED: %s' % (repository['name'], error), error=True)
                write_status(status)
                continue
            # The backup is only as good as a restore from it: the canary just backed up must come back.
            try:
                drill_one(cfg, repository, canary, entry)
                log('restore drill from %s: the canary restored and read over IMAP' % repository['name'])
            except ResticError as error:
                failed.append(repository['name'])
                log('restore drill from %s FAILED: %s' % (repository['name'], error), error=True)
            write_status(status)
    return 1 if failed else 0


def drill(_args):
    cfg = config()
    failed = []
    with held_lock():
        status = read_status()
        canary = newest_canary()
        for repository in cfg['repositories']:
            entry = status['repositories'].setdefault(repository['name'], {})
            try:
                if canary is None:
                    raise ResticError('no canary planted yet (play-backup run plants one)')
                drill_one(cfg, repository, canary, entry)
                log('restore drill from %s: the canary restored and read over IMAP' % repository['name'])
            except ResticError as error:
                entry['drill'] = {'at': iso(now()), 'ok': False, 'error': str(error)}
                failed.append(repository['name'])
                log('restore drill from %s FAILED: %s' % (repository['name'], error), error=True)
            write_status(status)
    return 1 if failed else 0


class held_lock:
    """The run lock: a second run (play backup while the timer's runs) waits for the first."""

    def __enter__(self):
        self.file = open(LOCK, 'w')
        fcntl.flock(self.file, fcntl.LOCK_EX)
        return self

    def __exit__(self, *_):
        self.file.close()


def show_status(_args):
    status = read_status()
    cfg = config()
    status['host'] = cfg['host']
    status['repositoryNames'] = [r['name'] for r in cfg['repositories']]
    # Since when this server has had backups set up (its password file is written once, by the first deploy).
    status['installedAt'] = iso(datetime.datetime.fromtimestamp(os.stat(cfg['passwordFile']).st_mtime, datetime.timezone.utc))
    status['now'] = iso(now())
    json.dump(status, sys.stdout, sort_keys=True)
    sys.stdout.write('\n')
    return 0


def parse_time(text):
    """An ISO time (restic's have nanoseconds and the server's offset); UTC when it names no zone."""
    match = re.match(r'^(\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d)?)(?:\.\d+)?(Z|[+-]\d\d:?\d\d)?$', text.strip())
    if not match:
        raise SystemExit('play-backup: %r is not an ISO time (like 2026-12-01T08:00:00Z)' % text)
    zone = match.group(2) or 'Z'
    zone = '+00:00' if zone == 'Z' else zone if ':' in zone else zone[:3] + ':' + zone[3:]
    return datetime.datetime.fromisoformat(match.group(1) + zone)


def maildir_folder(name):
    """The Maildir++ folder of a mailbox name (INBOX is the Maildir itself; A/B is .A.B)."""
    return '' if name.upper() == 'INBOX' else '.' + name.replace('/', '.')


def mailbox_name(folder):
    return 'INBOX' if folder == '' else folder[1:].replace('.', '/')


def base(filename):
    return filename.split(':', 1)[0]


def restore(args):
    cfg = config()
    account = next((a for a in cfg['accounts'] if a['name'] == args.account), None)
    if account is None:
        raise SystemExit('play-backup: %s is not one of the school\'s accounts (%s)' % (
            args.account, ', '.join(a['name'] for a in cfg['accounts'])))
    if args.from_expunged:
        # Dovecot's own mail, no repository: nothing to wait for while a backup runs.
        return restore_expunged(cfg, args)
    with held_lock():
        return restore_locked(cfg, account, args)


def doveadm(args, what):
    done = subprocess.run(['doveadm'] + args, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise SystemExit('play-backup: %s: doveadm %s: exit %d: %s' % (
            what, args[0], done.returncode, (done.stderr or done.stdout).strip().replace('\n', ' / ')))
    return done.stdout


def restore_expunged(cfg, args):
    """Moves what the account expunged (lazy_expunge's hidden folder) back into a folder it sees.

    Dovecot does not record the folder a message was expunged from, so they all come back into one folder
    (restoredFolder), made and subscribed if needed. A message whose Message-ID is in one of the account's folders
    (restored from a backup since, say) stays where it is: nothing comes back twice. A move: run twice, the second
    finds nothing; flags and dates come back with the message. doveadm loads no lazy_expunge, so the move leaves no
    copy behind.
    """
    box = cfg['expungedMailbox']
    folder = cfg['restoredFolder']
    rows = json.loads(doveadm(['-f', 'json', 'fetch', '-u', args.account, 'mailbox uid hdr.message-id', 'ALL'],
                              'listing the mail') or '[]')
    elsewhere = {r['hdr.message-id'].strip() for r in rows if r['mailbox'] != box and r['hdr.message-id'].strip()}
    wanted = [r['uid'] for r in rows if r['mailbox'] == box and
              (not r['hdr.message-id'].strip() or r['hdr.message-id'].strip() not in elsewhere)]
    result = {'account': args.account, 'source': 'expunged', 'folders': {folder: len(wanted)}, 'restored': len(wanted),
              'dryRun': bool(args.dry_run)}
    if wanted and not args.dry_run:
        # (doveadm mailbox list prints a name it is given whether or not it exists: status is the test.)
        exists = subprocess.run(['doveadm', 'mailbox', 'status', '-u', args.account, 'messages', folder],
                                capture_output=True, text=True, timeout=60)
        if exists.returncode != 0:
            doveadm(['mailbox', 'create', '-s', '-u', args.account, folder], 'making %s' % folder)
        doveadm(['move', '-u', args.account, folder, 'mailbox', box, 'uid', ','.join(wanted)],
                'moving the expunged mail back')
        # The other server gets the move through replication: a full sync of the account now.
        subprocess.run(['/bin/sh', '-c', cfg['replicate'] + ' "$1"', 'sh', args.account], capture_output=True, timeout=120)
    json.dump(result, sys.stdout, sort_keys=True)
    sys.stdout.write('\n')
    return 0


def newest_snapshot(cfg, repository, at):
    """This server's newest snapshot in a repository at or before `at` (at any time when None), or None."""
    snapshots = json.loads(restic(cfg, repository, ['snapshots', '--json', '--host', cfg['host'], '--tag', 'play'], timeout(cfg, 'short')))
    chosen = None
    for snapshot in sorted(snapshots, key=lambda s: parse_time(s['time'])):
        if at is None or parse_time(snapshot['time']) <= at:
            chosen = snapshot
    return chosen


def restore_source(cfg, args, at):
    """The repository and snapshot a restore takes: the repository asked for, else the first that answers and holds
    a snapshot at or before `at`, in the config's order (the peer's, then off-site): a peer that died with its disk
    leaves the off-site copy. When none has one, says what each lacked."""
    names = [r['name'] for r in cfg['repositories']]
    candidates = [r for r in cfg['repositories'] if args.repository in (None, r['name'])]
    if not candidates:
        raise SystemExit('play-backup: no repository %r (this server has: %s)' % (args.repository, ', '.join(names)))
    lacking = []
    for repository in candidates:
        try:
            chosen = newest_snapshot(cfg, repository, at)
        except ResticError as error:
            lacking.append('%s: %s' % (repository['name'], error))
            continue
        if chosen is not None:
            return repository, chosen
        lacking.append('no snapshot in %s%s' % (repository['name'], ' at or before %s' % args.at if at else ''))
    raise SystemExit('play-backup: nothing to restore from: %s' % '; '.join(lacking))


def restore_locked(cfg, account, args):
    at = parse_time(args.at) if args.at else None
    repository, chosen = restore_source(cfg, args, at)
    maildir = account['maildir']
    # Restored files belong to whoever owns the account's home (the account).
    home = os.stat(os.path.dirname(maildir))
    only = maildir_folder(args.folder) if args.folder else None
    include = maildir if only is None or only == '' else os.path.join(maildir, only)
    result = {'account': args.account, 'repository': repository['name'], 'snapshot': chosen['short_id'],
              'time': iso(parse_time(chosen['time'])), 'folders': {}, 'restored': 0, 'dryRun': bool(args.dry_run)}
    scratch = tempfile.mkdtemp(prefix='restore-', dir=STATE)
    try:
        restic(cfg, repository, ['restore', chosen['id'], '--target', scratch, '--include', include], timeout(cfg, 'long'))
        source = scratch + maildir
        if not os.path.isdir(source):
            raise SystemExit('play-backup: snapshot %s holds no %s' % (chosen['short_id'], include))
        # The expunged mail's hidden folder is lazy_expunge's, not the user's: a restore from it is its own (from=expunged).
        hidden = maildir_folder(cfg['expungedMailbox']) if cfg.get('expungedMailbox') else None
        folders = [''] + sorted(d for d in os.listdir(source) if d.startswith('.') and d != hidden
                                and os.path.isdir(os.path.join(source, d, 'cur')))
        if only is not None:
            folders = [f for f in folders if f == only or (only and f.startswith(only + '.'))]
        uid, gid = home.st_uid, home.st_gid
        created = []
        for folder in folders:
            live = os.path.join(maildir, folder)
            present = set()
            for sub in ('cur', 'new'):
                if os.path.isdir(os.path.join(live, sub)):
                    present.update(base(n) for n in os.listdir(os.path.join(live, sub)))
            wanted = []
            for sub in ('cur', 'new'):
                here = os.path.join(source, folder, sub)
                if os.path.isdir(here):
                    wanted += [(sub, n) for n in sorted(os.listdir(here)) if base(n) not in present]
            result['folders'][mailbox_name(folder)] = len(wanted)
            result['restored'] += len(wanted)
            if args.dry_run or not wanted:
                continue
            if not os.path.isdir(live):
                created.append(mailbox_name(folder))
            for sub in ('cur', 'new', 'tmp'):
                path = os.path.join(live, sub)
                if not os.path.isdir(path):
                    os.makedirs(path, mode=0o700)
                    os.chown(path, uid, gid)
            if not os.path.exists(os.path.join(live, 'maildirfolder')) and folder:
                open(os.path.join(live, 'maildirfolder'), 'w').close()
                os.chown(os.path.join(live, 'maildirfolder'), uid, gid)
            os.chown(live, uid, gid)
            for sub, name in wanted:
                target = os.path.join(live, sub, name)
                shutil.copy2(os.path.join(source, folder, sub, name), target + '.play-restore')
                os.chown(target + '.play-restore', uid, gid)
                os.rename(target + '.play-restore', target)
        for name in created:
            subprocess.run(['/bin/sh', '-c', cfg['subscribe'] + ' "$1" "$2"', 'sh', args.account, name],
                           capture_output=True, timeout=60)
        if result['restored'] and not args.dry_run:
            # The other server gets the restored mail through replication: a full sync of the account now.
            subprocess.run(['/bin/sh', '-c', cfg['replicate'] + ' "$1"', 'sh', args.account], capture_output=True, timeout=120)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    json.dump(result, sys.stdout, sort_keys=True)
    sys.stdout.write('\n')
    return 0


def main():
    parser = argparse.ArgumentParser(prog='play-backup')
    commands = parser.add_subparsers(dest='command', required=True)
    commands.add_parser('run').set_defaults(func=run)
    commands.add_parser('drill').set_defaults(func=drill)
    commands.add_parser('status').set_defaults(func=show_status)
    r = commands.add_parser('restore')
    r.add_argument('account')
    r.add_argument('--folder')
    r.add_argument('--at')
    r.add_argument('--repository')
    r.add_argument('--from-expunged', action='store_true')
    r.add_argument('--dry-run', action='store_true')
    r.set_defaults(func=restore)
    args = parser.parse_args()
    try:
        return args.func(args)
    except ResticError as error:
        log(str(error), error=True)
        return 1


if __name__ == '__main__':
    sys.exit(main())
