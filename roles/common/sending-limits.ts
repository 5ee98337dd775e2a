import type { HealthRow } from 'play';
import { RATE_LIMIT_SOCKET_PATH } from '../postfix/index.ts';

/** What policyd-rate-limit answers a request it does not count (a VRFY), when its database works. */
export const RATE_LIMITER_ANSWER = 'action=dunno';

/**
 * The shell that asks policyd-rate-limit, on its socket, about a VRFY (counted by no limit, but answered only once
 * the daemon has its database) and prints its answer's first line, or why there is none (within 2 s).
 */
export function rateLimiterProbeScript(socket = RATE_LIMIT_SOCKET_PATH): string {
  return `python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(2)
try:
    s.connect(sys.argv[1])
    s.sendall(b"request=smtpd_access_policy\\nprotocol_state=VRFY\\n\\n")
    print(s.recv(200).decode().strip().split("\\n")[0] or "no answer: the connection was closed")
except OSError as e:
    print("no answer: %s" % (e,))
' '${socket}'`;
}

/**
 * The server's sending-limits row: red when policyd-rate-limit does not answer as it should, since postfix then
 * lets every login send without limit (mail still flows).
 *
 * @example
 * rateLimiterRow('primary', 'action=dunno') // { check: 'sending limits', ok: true, detail: 'policyd-rate-limit answers', … }
 */
export function rateLimiterRow(host: string, answer: string): HealthRow {
  const check = 'sending limits';
  if (answer === RATE_LIMITER_ANSWER) return { check, host, ok: true, detail: 'policyd-rate-limit answers' };
  return {
    check,
    host,
    ok: false,
    detail: `policyd-rate-limit: ${answer.slice(0, 100) || 'no answer'}; no login's sending is limited`,
  };
}
