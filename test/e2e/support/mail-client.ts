import { randomBytes } from 'node:crypto';
import { SMKNH_ACCOUNTS } from '../../../roles/school/index.ts';
import { labSecret } from '../../lab/lab-vault.ts';
import { fromClientAsync } from './client.ts';

/** The names of the lab school's accounts. */
export const ACCOUNTS: readonly string[] = SMKNH_ACCOUNTS.map((a) => a.name);

/** A lab account's password, read from the lab's vault at test time (never written anywhere). */
export function password(account: string): string {
  return labSecret(`account_${account}`);
}

/** Removes every account password (and its base64 form, as in SMTP AUTH LOGIN) from a text shown in a failure. */
export function scrub(text: string): string {
  let out = text;
  for (const account of ACCOUNTS) {
    const secret = password(account);
    out = out.replaceAll(secret, '<password>').replaceAll(Buffer.from(secret).toString('base64'), '<password-base64>');
  }
  return out;
}

/** What a mail client run in lab-client did, with every account password scrubbed from its output. */
export interface MailClientResult {
  readonly code: number | null;
  /** stdout and stderr together. */
  readonly output: string;
  readonly stdout: string;
}

/** Runs a real client program in lab-client (198.18.N.50); passwords never reach a failure message. */
export async function client(
  args: readonly string[],
  options: { stdin?: string; timeoutMs?: number } = {},
): Promise<MailClientResult> {
  const { code, stdout, stderr } = await fromClientAsync(args, { input: options.stdin, timeoutMs: options.timeoutMs });
  return { code, stdout: scrub(stdout), output: scrub(stdout + stderr) };
}

/** swaks against a lab server; the password never appears in its transcript (-ahp) and DATA is summarized. */
export function swaks(server: string, args: readonly string[]): Promise<MailClientResult> {
  return client([
    'swaks',
    '--server',
    server,
    '--helo',
    'client.lab.test',
    '--suppress-data',
    '--auth-hide-password',
    ...args,
  ]);
}

/** swaks arguments to log in on submission (587) with STARTTLS, or on smtps (465) with implicit TLS. */
export function login(account: string, port: 587 | 465 = 587): string[] {
  return [
    '--port',
    String(port),
    port === 465 ? '--tls-on-connect' : '--tls',
    '--auth',
    'LOGIN',
    '--auth-user',
    account,
    '--auth-password',
    password(account),
  ];
}

// A small IMAP/SMTP client for what swaks and openssl do not do (IMAP logins and searches, SMTP VRFY):
// Python's imaplib and smtplib, run in the client namespace; the request (with the password) comes on stdin.
const PY_CLIENT = String.raw`
import email, hashlib, imaplib, json, smtplib, ssl, sys, time
req = json.load(sys.stdin)
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
out = {}
if req['op'] == 'imap-plain':
    m = imaplib.IMAP4(req['host'], 143)
    out['before'] = [c for c in m.capabilities]
    try:
        m.login(req['user'], req['password']); out['loginBeforeTls'] = 'ok'
    except Exception as e:
        out['loginBeforeTls'] = 'refused: ' + str(e)
    m.starttls(ssl_context=ctx)
    out['after'] = [c for c in m.capabilities]
    out['loginAfterTls'] = m.login(req['user'], req['password'])[0]
    m.logout()
elif req['op'] == 'imaps-find':
    m = imaplib.IMAP4_SSL(req['host'], 993, ssl_context=ctx)
    out['login'] = m.login(req['user'], req['password'])[0]
    deadline = time.time() + req.get('wait', 30)
    uids = []
    while True:
        m.select('INBOX', readonly=True)
        # imaplib sends arguments as they are: quote every value (keys are the odd-indexed ones).
        args = [c if i % 2 == 0 else '"' + c.replace('\\', '\\\\').replace('"', '\\"') + '"' for i, c in enumerate(req['criteria'])]
        typ, data = m.uid('SEARCH', *args)
        uids = data[0].split() if data and data[0] else []
        if uids or time.time() > deadline: break
        time.sleep(0.5)
    out['messages'] = []
    for uid in uids:
        typ, data = m.uid('FETCH', uid, '(RFC822)')
        msg = email.message_from_bytes(data[0][1])
        parts = []
        for part in msg.walk():
            if part.get_filename():
                payload = part.get_payload(decode=True)
                parts.append({'filename': part.get_filename(), 'size': len(payload), 'sha256': hashlib.sha256(payload).hexdigest()})
        body = msg.as_string()
        out['messages'].append({'uid': uid.decode(), 'subject': msg['Subject'], 'from': msg['From'], 'attachments': parts, 'text': body[:20000]})
    m.logout()
elif req['op'] == 'send-many':
    # Like a mail client that retries: each message is sent until the server accepts it (250 after DATA),
    # one every 'pace' seconds (or, with 'interval', one starting every 'interval' seconds); 'to' may be a list,
    # taken in turn; with 'attach_every' every such message carries 'attach_bytes' random bytes. What it answers:
    # per message the recipient, the accepting time and the attempts it took.
    import base64, os
    out['sent'] = []
    recipients = req['to'] if isinstance(req['to'], list) else [req['to']]
    started = time.time()
    for i in range(req['count']):
        if req.get('interval'):
            time.sleep(max(0, started + i * req['interval'] - time.time()))
        # With 'stop_file', the sending ends once that file exists (a run of unknown length, such as an upgrade).
        if req.get('stop_file') and os.path.exists(req['stop_file']): break
        subject = '%s %03d' % (req['subject'], i)
        to = recipients[i % len(recipients)]
        body = 'message %d\r\n' % i
        headers = 'From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s.%03d@lab.test>\r\n' % (req['from'], to, subject, req['subject'].replace(' ', '-'), i)
        if req.get('attach_every') and i % req['attach_every'] == 0:
            payload = base64.encodebytes(os.urandom(req.get('attach_bytes', 100000))).decode().replace('\n', '\r\n')
            headers += 'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n'
            body = '--b\r\nContent-Type: text/plain\r\n\r\n%s--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="lampiran-%d.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\n%s--b--\r\n' % (body, i, payload)
        attempts = 0
        while True:
            attempts += 1
            began = time.time()
            try:
                s = smtplib.SMTP(req['host'], 587, timeout=5)
                s.starttls(context=ctx); s.login(req['user'], req['password'])
                s.sendmail(req['from'], [to], headers + '\r\n' + body)
                accepted = time.time()
                try: s.quit()
                except Exception: pass
                break
            except Exception as e:
                if attempts >= 200: raise
                time.sleep(0.1)
        # 'took': the accepting attempt, from connecting to the 250 after DATA.
        out['sent'].append({'subject': subject, 'to': to, 'at': accepted, 'took': round(accepted - began, 3), 'attempts': attempts})
        if not req.get('interval'):
            time.sleep(req.get('pace', 0.1))
elif req['op'] == 'send-burst':
    # As an outside server delivers a burst: one SMTP session on port 25 (no AUTH), 'count' messages one after
    # the other in it, each accepted (250 after DATA) before the next; 'pace' seconds between them.
    out['sent'] = []
    s = smtplib.SMTP(req['host'], 25, timeout=30)
    s.ehlo('mx.dinas.test')
    for i in range(req['count']):
        subject = '%s %03d' % (req['subject'], i)
        headers = 'From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s.%03d@dinas.test>\r\n' % (req['from'], req['to'], subject, req['subject'].replace(' ', '-'), i)
        s.sendmail(req['from'], [req['to']], headers + '\r\nmessage %d\r\n' % i)
        out['sent'].append({'subject': subject, 'at': time.time()})
        time.sleep(req.get('pace', 0))
    s.quit()
elif req['op'] == 'replication-window':
    # The moment a message is on one server alone: each message is sent to the server (587, AUTH), and the
    # recipient asks the peer over IMAPS with NOOP every 10 ms (each NOOP makes Dovecot look at the mailbox at
    # once; IDLE would add its own half-second batching); the time from the 250 to its EXISTS is the window.
    peer = imaplib.IMAP4_SSL(req['peer'], 993, ssl_context=ctx)
    peer.login(req['to_user'], req['to_password'])
    count = int(peer.select('INBOX')[1][0])
    out['ms'] = []
    for i in range(req['count']):
        s = smtplib.SMTP(req['host'], 587, timeout=10)
        s.starttls(context=ctx); s.login(req['user'], req['password'])
        s.sendmail(req['from'], [req['to']], 'From: %s\r\nTo: %s\r\nSubject: %s %03d\r\n\r\nwindow\r\n' % (req['from'], req['to'], req['subject'], i))
        accepted = time.time()
        s.quit()
        while True:
            peer.noop()
            exists = [int(n) for n in peer.untagged_responses.pop('EXISTS', [])]
            if exists and max(exists) > count:
                count = max(exists)
                break
            if time.time() - accepted > 30: raise Exception('message %d never reached the peer' % i)
            time.sleep(0.01)
        out['ms'].append(round((time.time() - accepted) * 1000, 1))
        time.sleep(req.get('pace', 0.3))
    peer.logout()
elif req['op'] == 'imaps-subjects':
    m = imaplib.IMAP4_SSL(req['host'], 993, ssl_context=ctx)
    m.login(req['user'], req['password'])
    m.select('INBOX', readonly=True)
    typ, data = m.uid('SEARCH', 'SUBJECT', '"' + req['subject'] + '"')
    uids = data[0].split() if data and data[0] else []
    out['subjects'] = []
    for uid in uids:
        typ, data = m.uid('FETCH', uid, '(BODY.PEEK[HEADER.FIELDS (SUBJECT)])')
        out['subjects'].append(email.message_from_bytes(data[0][1])['Subject'])
    m.logout()
elif req['op'] == 'idle-watch':
    # A mail program left open: IMAPS login at the host, SELECT INBOX, IDLE. Every new message's EXISTS is noted;
    # a dropped session is logged in again at once (every 0.5 s until it works), as mail programs do. Ends when
    # 'stop_file' exists. Answers the drops (when, and when logged in again) and the EXISTS seen.
    import os, socket
    out['drops'] = []; out['exists'] = []; out['sessions'] = 0
    def session():
        m = imaplib.IMAP4_SSL(req['host'], 993, ssl_context=ctx, timeout=10)
        m.login(req['user'], req['password']); m.select('INBOX')
        m.send(b'i1 IDLE\r\n')
        if not m.readline().startswith(b'+'): raise Exception('IDLE refused')
        m.sock.settimeout(1.0)
        return m
    m = None
    while not os.path.exists(req['stop_file']):
        if m is None:
            try:
                m = session(); out['sessions'] += 1
                if out['drops'] and out['drops'][-1].get('back') is None: out['drops'][-1]['back'] = time.time()
            except Exception:
                time.sleep(0.5); continue
        try:
            line = m.readline()
            if not line: raise Exception('closed by the server')
            if line.endswith(b' EXISTS\r\n'): out['exists'].append(time.time())
        except socket.timeout:
            continue
        except Exception as e:
            out['drops'].append({'at': time.time(), 'why': str(e) or type(e).__name__, 'back': None})
            try: m.shutdown()
            except Exception: pass
            m = None
    if m is not None:
        try: m.send(b'DONE\r\n'); m.logout()
        except Exception: pass
elif req['op'] == 'vrfy':
    s = smtplib.SMTP(req['host'], req['port'], timeout=20)
    s.ehlo('client.lab.test')
    if req.get('starttls'):
        s.starttls(context=ctx); s.ehlo('client.lab.test')
    code, text = s.verify('root')
    out = {'code': code, 'text': text.decode()}
    s.quit()
print(json.dumps(out))
`;

/** Runs one request of the Python client in the client namespace and parses its answer. */
export async function py<T>(request: Record<string, unknown>, options: { timeoutMs?: number } = {}): Promise<T> {
  const result = await client(['/usr/bin/python3', '-c', PY_CLIENT], {
    stdin: JSON.stringify(request),
    timeoutMs: options.timeoutMs,
  });
  if (result.code !== 0) throw new Error(`python client ${String(request.op)} exited ${result.code}: ${result.output}`);
  return JSON.parse(result.stdout) as T;
}

export interface FoundMessage {
  uid: string;
  subject: string;
  from: string;
  attachments: { filename: string; size: number; sha256: string }[];
  text: string;
}

/**
 * The messages of an account's INBOX matching IMAP SEARCH criteria (pairs of key and value, e.g.
 * `['SUBJECT', 'Rapor x']`), read over IMAPS (993); waits up to `wait` seconds for delivery. The password is the lab
 * school's unless `secret` gives another school's.
 */
export async function inbox(
  server: string,
  account: string,
  criteria: string[],
  wait = 30,
  secret = password(account),
): Promise<FoundMessage[]> {
  const answer = await py<{ login: string; messages: FoundMessage[] }>({
    op: 'imaps-find',
    host: server,
    user: account,
    password: secret,
    criteria,
    wait,
  });
  if (answer.login !== 'OK') throw new Error(`IMAPS login of ${account} at ${server}: ${answer.login}`);
  return answer.messages;
}

/** A short random token, to make a subject unique to one test. */
export const token = (): string => randomBytes(6).toString('hex');
