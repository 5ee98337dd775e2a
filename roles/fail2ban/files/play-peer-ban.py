#!/usr/bin/python3 -I
"""Managed by play (role fail2ban): shares fail2ban's bans between the two servers.

    play-peer-ban send ban IP SECONDS   fail2ban's action here: the peer bans IP too (returns at once)
    play-peer-ban send unban IP         fail2ban's action here: the peer lifts its ban
    play-peer-ban pull                  at fail2ban's start: this server bans what the peer's fail2ban bans now
    play-peer-ban receive               the peer's forced ssh command: reads SSH_ORIGINAL_COMMAND, which is one of
                                        "ban IP SECONDS", "unban IP" or "list"

A ban from the peer goes into this server's nftables set (table inet play_peer_bans), never into fail2ban, so
it is not sent back. Nothing here ever waits on the peer for more than a few seconds: `send` hands the ssh call
to a detached child and returns, so a dead or hung peer never holds up fail2ban's own (local) bans.
"""
import ipaddress
import json
import os
import subprocess
import sys
import syslog

CONFIG = '/etc/fail2ban/play-peer-ban.json'
TABLE = 'play_peer_bans'
SSH_TIMEOUT = 5
MAX_SECONDS = 7 * 86400


def config():
    with open(CONFIG) as f:
        return json.load(f)


def log(message):
    syslog.openlog('play-peer-ban')
    syslog.syslog(syslog.LOG_NOTICE, message)


def address(text, never):
    """The address in text, or SystemExit: a single IPv4 or IPv6 address, never one of ours."""
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        raise SystemExit('play-peer-ban: not an address: %r' % text[:60])
    if ip.is_loopback or any(ip in ipaddress.ip_network(n, strict=False) for n in never):
        raise SystemExit('play-peer-ban: refusing to ban %s (one of the servers, the VIP or loopback)' % ip)
    return ip


def seconds(text):
    if not text.isdigit() or not 1 <= int(text) <= MAX_SECONDS:
        raise SystemExit('play-peer-ban: not a ban time in seconds (1 to %d): %r' % (MAX_SECONDS, text[:20]))
    return int(text)


def nft(*words):
    return subprocess.run(['nft', *words], capture_output=True, text=True, timeout=10)


def ban_here(ip, secs):
    setname = 'v4' if ip.version == 4 else 'v6'
    nft('delete', 'element', 'inet', TABLE, setname, '{ %s }' % ip)
    done = nft('add', 'element', 'inet', TABLE, setname, '{ %s timeout %ds }' % (ip, secs))
    if done.returncode != 0:
        raise SystemExit('play-peer-ban: nft: %s' % done.stderr.strip())


def unban_here(ip):
    nft('delete', 'element', 'inet', TABLE, 'v4' if ip.version == 4 else 'v6', '{ %s }' % ip)


def ssh(cfg, words, timeout):
    return subprocess.run(
        ['ssh', '-n', '-T', '-i', cfg['key'], '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=3',
         '-o', 'StrictHostKeyChecking=accept-new', '-o', 'UserKnownHostsFile=' + cfg['knownHosts'],
         '-o', 'ServerAliveInterval=2', '-o', 'ServerAliveCountMax=1',
         'root@' + cfg['peer'], ' '.join(words)],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)


def send(cfg, words):
    # Checked here too: a bad request fails fail2ban's action loudly instead of the peer's silently.
    ip = address(words[1], cfg['never'])
    if words[0] == 'ban':
        seconds(words[2])
    elif words[0] != 'unban':
        raise SystemExit('play-peer-ban: send ban IP SECONDS | send unban IP')
    if os.fork() > 0:
        return  # fail2ban goes on at once; the child tells the peer.
    os.setsid()
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    try:
        done = ssh(cfg, [words[0], str(ip)] + words[2:3], SSH_TIMEOUT)
        if done.returncode != 0:
            log('%s %s on the peer %s failed: %s' % (words[0], ip, cfg['peer'], (done.stderr or done.stdout).strip()[:200]))
    except subprocess.TimeoutExpired:
        log('%s %s on the peer %s: no answer within %d s' % (words[0], ip, cfg['peer'], SSH_TIMEOUT))
    os._exit(0)


def banned_here():
    """The addresses fail2ban bans on this server now, in any jail."""
    done = subprocess.run(['fail2ban-client', 'banned'], capture_output=True, text=True, timeout=10)
    if done.returncode != 0:
        return []
    import ast
    found = []
    for jail in ast.literal_eval(done.stdout.strip() or '[]'):
        for ips in jail.values():
            found.extend(ips)
    return found


def receive(cfg):
    words = os.environ.get('SSH_ORIGINAL_COMMAND', '').split()
    if words[:1] == ['ban'] and len(words) == 3:
        ban_here(address(words[1], cfg['never']), seconds(words[2]))
    elif words[:1] == ['unban'] and len(words) == 2:
        unban_here(address(words[1], cfg['never']))
    elif words == ['list']:
        print('\n'.join(banned_here()))
    else:
        raise SystemExit('play-peer-ban: unknown request %r' % ' '.join(words)[:80])


def pull(cfg):
    if os.fork() > 0:
        return  # fail2ban starts at once; the child asks the peer.
    os.setsid()
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    try:
        pull_now(cfg)
    finally:
        os._exit(0)


def pull_now(cfg):
    try:
        done = ssh(cfg, ['list'], SSH_TIMEOUT)
    except subprocess.TimeoutExpired:
        log('pull from the peer %s: no answer within %d s' % (cfg['peer'], SSH_TIMEOUT))
        return
    if done.returncode != 0:
        log('pull from the peer %s failed: %s' % (cfg['peer'], done.stderr.strip()[:200]))
        return
    for line in done.stdout.split():
        try:
            ban_here(address(line, cfg['never']), cfg['banSeconds'])
        except SystemExit as e:
            log(str(e))


def main(argv):
    cfg = config()
    if argv[:1] == ['send'] and len(argv) in (3, 4):
        send(cfg, argv[1:])
    elif argv == ['receive']:
        receive(cfg)
    elif argv == ['pull']:
        pull(cfg)
    else:
        raise SystemExit(__doc__)


if __name__ == '__main__':
    main(sys.argv[1:])
