#!/usr/bin/python3
# Managed by play (role dhcp): sends one command to kea-dhcp4 over its control socket (Python's standard library
# only; no kea-ctrl-agent, no socat on a minimal server).
#
#   kea-control ha-status                         the HA state as key=value lines, for `play verify`
#   kea-control COMMAND [ARGUMENTS_JSON]          Kea's answer as JSON, e.g.
#   kea-control lease4-get '{"ip-address": "198.18.30.150"}'
#
# ha-status prints dhcp_ha_mode, dhcp_ha_role, dhcp_ha_state, dhcp_ha_partner_role, dhcp_ha_partner_state,
# dhcp_ha_partner_reachable (yes/no), dhcp_ha_partner_age (s), dhcp_ha_sockets (ready, or what failed), or
# dhcp_ha_error when Kea cannot be asked. Exit 0 when Kea answered, 1 when it did not, 2 for a bad command line.
import json
import socket
import sys

SOCKET = '/run/kea/kea4-ctrl-socket'
TIMEOUT = 3


def ask(command, arguments=None):
    """Kea's answer to one command: it sends one JSON object and closes the connection."""
    request = {'command': command}
    if arguments is not None:
        request['arguments'] = arguments
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(TIMEOUT)
    try:
        sock.connect(SOCKET)
        sock.sendall(json.dumps(request).encode())
        data = b''
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
            try:
                return json.loads(data.decode())
            except ValueError:
                continue  # not the whole answer yet
        return json.loads(data.decode())
    finally:
        sock.close()


def clean(value):
    return str(value).replace('\n', ' ')


def ha_status():
    try:
        answer = ask('status-get')
    except (OSError, ValueError) as error:
        print('dhcp_ha_error=%s' % clean(getattr(error, 'strerror', None) or error))
        return 1
    if answer.get('result') != 0:
        print('dhcp_ha_error=status-get: %s' % clean(answer.get('text', 'result %s' % answer.get('result'))))
        return 1
    arguments = answer.get('arguments') or {}
    sockets = arguments.get('sockets') or {}
    errors = sockets.get('errors') or []
    print('dhcp_ha_sockets=%s' % (sockets.get('status', 'unknown') if not errors else clean('; '.join(errors))))
    relationships = arguments.get('high-availability') or []
    if not relationships:
        print('dhcp_ha_error=no HA relationship (is the HA hook loaded?)')
        return 0
    ha = relationships[0]
    servers = ha.get('ha-servers') or {}
    local, remote = servers.get('local') or {}, servers.get('remote') or {}
    print('dhcp_ha_mode=%s' % clean(ha.get('ha-mode', '')))
    print('dhcp_ha_role=%s' % clean(local.get('role', '')))
    print('dhcp_ha_state=%s' % clean(local.get('state', '')))
    print('dhcp_ha_partner_role=%s' % clean(remote.get('role', '')))
    print('dhcp_ha_partner_state=%s' % clean(remote.get('last-state', '')))
    # Kea's "in-touch" only says the partner was heard from once since start: reachable is what was heard lately.
    reachable = remote.get('last-state') not in (None, '', 'unavailable') and not remote.get('communication-interrupted')
    print('dhcp_ha_partner_reachable=%s' % ('yes' if reachable else 'no'))
    print('dhcp_ha_partner_age=%s' % clean(remote.get('age', '')))
    return 0


def main(argv):
    if len(argv) == 2 and argv[1] == 'ha-status':
        return ha_status()
    if len(argv) not in (2, 3) or argv[1].startswith('-'):
        sys.stderr.write('usage: kea-control ha-status | kea-control COMMAND [ARGUMENTS_JSON]\n')
        return 2
    try:
        arguments = json.loads(argv[2]) if len(argv) == 3 else None
    except ValueError as error:
        sys.stderr.write('kea-control: the arguments are not JSON: %s\n' % error)
        return 2
    try:
        answer = ask(argv[1], arguments)
    except (OSError, ValueError) as error:
        sys.stderr.write('kea-control: %s: %s\n' % (SOCKET, getattr(error, 'strerror', None) or error))
        return 1
    print(json.dumps(answer))
    return 0


if __name__ == '__main__':
    if len(sys.argv) > 1 and sys.argv[1] == '--socket':
        # For tests: another socket than the role's.
        SOCKET = sys.argv[2]
        del sys.argv[1:3]
    sys.exit(main(sys.argv))
