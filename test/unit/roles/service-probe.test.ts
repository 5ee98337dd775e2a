import { execFileSync, spawn } from 'node:child_process';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  probeInput,
  SERVICE_PROBE_SOURCE,
  type ProbeCheck,
  type ProbeResult,
} from '../../../roles/common/service-probe.ts';
import { secret } from '../../../src/secret.ts';

/** Runs the real probe program (python3) with a request on stdin: its exit code, results, stderr and wall time. */
function probe(
  request: Record<string, unknown>,
): Promise<{ code: number | null; results: ProbeResult[]; lines: ProbeResult[]; stderr: string; wallMs: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn('python3', ['-I', SERVICE_PROBE_SOURCE], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const lines = stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as ProbeResult & { results?: ProbeResult[] });
      resolve({ code, results: lines[0]?.results ?? [], lines, stderr, wallMs: performance.now() - started });
    });
    child.stdin.end(typeof request.raw === 'string' ? request.raw : probeInput(request as never));
  });
}

const servers: (Server | UdpSocket)[] = [];
const sockets = new Set<Socket>();

/** A TCP server on 127.0.0.1 that treats each connection with `handle`; resolves to its port. */
function tcp(
  handle: (socket: Socket) => void,
  make: (h: (s: Socket) => void) => Server = (h) => createServer(h),
): Promise<number> {
  const server = make((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    handle(socket);
  });
  servers.push(server);
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)),
  );
}

/** Answers each line the client sends with `reply(line)` (nothing when it returns undefined). */
function lines(socket: Socket, reply: (line: string) => string | undefined) {
  let buffer = '';
  socket.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    for (let at = buffer.indexOf('\n'); at >= 0; at = buffer.indexOf('\n')) {
      const line = buffer.slice(0, at).replace(/\r$/, '');
      buffer = buffer.slice(at + 1);
      const answer = reply(line);
      if (answer !== undefined) socket.write(answer);
    }
  });
}

const smtp = (socket: Socket) => {
  socket.write('220 fake.test ESMTP\r\n');
  lines(socket, (line) =>
    /^EHLO/i.test(line)
      ? '250-fake.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n'
      : /^QUIT/i.test(line)
        ? '221 bye\r\n'
        : '500 what\r\n',
  );
};

const PASSWORD = 'Imap-S3cret"\\x';
const imap = (socket: Socket) => {
  socket.write('* OK fake IMAP ready\r\n');
  lines(socket, (line) => {
    const [tag, command] = line.split(' ');
    if (command === 'CAPABILITY') return `* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\n${tag} OK done\r\n`;
    if (command === 'LOGIN') {
      // The probe quotes the password as an IMAP string; a server that echoes what it got must not reveal it.
      const quoted = `"${PASSWORD.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
      return line.endsWith(` ${quoted}`)
        ? `${tag} OK logged in\r\n`
        : `${tag} NO [AUTHENTICATIONFAILED] bad login: ${line}\r\n`;
    }
    if (command === 'LOGOUT') return `* BYE\r\n${tag} OK bye\r\n`;
    return `${tag} BAD what\r\n`;
  });
};

let dir: string;
let key: string;
let cert: string;
const tlsServer = (h: (s: Socket) => void) => createTlsServer({ key, cert }, h) as unknown as Server;

let ports: Record<string, number>;
let dnsPort: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'play-probe-'));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=fake.test',
      '-keyout',
      join(dir, 'k'),
      '-out',
      join(dir, 'c'),
    ],
    { stdio: 'ignore' },
  );
  key = readFileSync(join(dir, 'k'), 'utf8');
  cert = readFileSync(join(dir, 'c'), 'utf8');
  const page =
    (body: string, status = '200 OK', close = true) =>
    (socket: Socket) =>
      lines(socket, (line) => {
        if (line !== '') return undefined;
        const answer = `HTTP/1.1 ${status}\r\nContent-Type: text/html\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
        socket.write(answer);
        if (close) socket.end();
        return undefined;
      });
  ports = {
    smtp: await tcp(smtp),
    smtps: await tcp(smtp, tlsServer),
    imap: await tcp(imap),
    imaps: await tcp(imap, tlsServer),
    silent: await tcp(() => undefined),
    // A server that trickles one byte of a banner every 200 ms, forever: no per-read timeout ends this.
    trickle: await tcp((socket) => {
      const timer = setInterval(() => socket.write('2'), 200);
      socket.on('close', () => clearInterval(timer));
    }),
    slam: await tcp((socket) => socket.destroy()),
    refusing: await tcp((socket) => socket.end('554 5.7.1 go away\r\n')),
    garbage: await tcp((socket) => socket.end('HTTP/1.1 400 Bad Request\r\n\r\n')),
    endless: await tcp((socket) => socket.write('2'.repeat(200_000))),
    mute: await tcp((socket) => socket.write('220 fake.test ESMTP\r\n')),
    page: await tcp(page('<form><input id="rcmloginuser" name="_user"></form>'), tlsServer),
    blank: await tcp(page('<p>It works</p>'), tlsServer),
    broken: await tcp(page('Service Unavailable', '503 Service Unavailable'), tlsServer),
    lingering: await tcp(page('<input id="rcmloginuser">', '200 OK', false), tlsServer),
    ssh: await tcp((socket) => socket.write('SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n')),
  };
  const closed = createServer();
  ports.closed = await new Promise<number>((resolve) =>
    closed.listen(0, '127.0.0.1', () => resolve((closed.address() as { port: number }).port)),
  );
  await new Promise((r) => closed.close(r));

  // A DNS server: an answer for known.test, NXDOMAIN for anything else, and silence for silent.test.
  const dns = createSocket('udp4');
  servers.push(dns);
  dns.on('message', (query, peer) => {
    let at = 12;
    const labels: string[] = [];
    while (query[at] !== 0) {
      labels.push(query.subarray(at + 1, at + 1 + query[at]).toString());
      at += query[at] + 1;
    }
    const name = labels.join('.');
    if (name === 'silent.test') return;
    const question = query.subarray(12, at + 5);
    const known = name === 'known.test';
    const header = Buffer.from([query[0], query[1], 0x84, known ? 0x00 : 0x03, 0, 1, 0, known ? 1 : 0, 0, 0, 0, 0]);
    const answer = known ? Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 198, 18, 30, 254]) : Buffer.alloc(0);
    dns.send(Buffer.concat([header, question, answer]), peer.port, peer.address);
  });
  dnsPort = await new Promise((resolve) => dns.bind(0, '127.0.0.1', () => resolve(dns.address().port)));
});

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(() => r(undefined)))));
  rmSync(dir, { recursive: true, force: true });
});

const at = (port: keyof typeof ports | number) => ({
  host: '127.0.0.1',
  port: typeof port === 'number' ? port : ports[port],
});

describe('the service probe (roles/common/files/service-probe.py)', () => {
  it('speaks each protocol: an SMTP banner and EHLO (plain and TLS), IMAP CAPABILITY and a login, a web page, a DNS answer, a first line', async () => {
    const { code, results } = await probe({
      timeout: 5,
      checks: [
        { kind: 'smtp', label: 'smtp', ...at('smtp') },
        { kind: 'smtp', label: 'smtps', ...at('smtps'), tls: true },
        { kind: 'imap', label: 'imap', ...at('imap') },
        { kind: 'imap', label: 'imaps login', ...at('imaps'), tls: true, user: 'guru.mtk', password: secret(PASSWORD) },
        { kind: 'https', label: 'webmail', ...at('page'), servername: 'mail.fake.test', expect: 'rcmloginuser' },
        { kind: 'dns', label: 'dns', host: '127.0.0.1', port: dnsPort, name: 'known.test' },
        { kind: 'banner', label: 'ssh', ...at('ssh'), expect: 'SSH-2.0-' },
      ],
    });
    expect(results.map((r) => [r.label, r.ok, r.detail])).toEqual([
      ['smtp', true, '220 fake.test ESMTP; EHLO 250 with STARTTLS'],
      ['smtps', true, '220 fake.test ESMTP; EHLO 250 with STARTTLS'],
      ['imap', true, '* OK greeting; CAPABILITY with STARTTLS, LOGINDISABLED'],
      ['imaps login', true, '* OK greeting; CAPABILITY; LOGIN as guru.mtk'],
      ['webmail', true, "HTTP/1.1 200 OK, the page has 'rcmloginuser'"],
      ['dns', true, 'known.test A: 1 answer, authoritative'],
      ['ssh', true, 'SSH-2.0-OpenSSH_9.2p1 Debian-2'],
    ]);
    expect(code).toBe(0);
    for (const r of results) expect(r.ms).toBeGreaterThan(0);
  });

  it('names the step that failed, whatever the server does; each ends by its deadline, all of them side by side', async () => {
    const checks: ProbeCheck[] = [
      { kind: 'smtp', label: 'accepts and says nothing', ...at('silent') },
      { kind: 'smtp', label: 'trickles a banner', ...at('trickle') },
      { kind: 'smtp', label: 'drops at once', ...at('slam') },
      { kind: 'smtp', label: 'refuses', ...at('refusing') },
      { kind: 'smtp', label: 'speaks HTTP', ...at('garbage') },
      { kind: 'smtp', label: 'a line without end', ...at('endless') },
      { kind: 'smtp', label: 'banner, then nothing', ...at('mute') },
      { kind: 'smtp', label: 'TLS to a silent server', ...at('silent'), tls: true },
      { kind: 'smtp', label: 'closed port', ...at('closed') },
      { kind: 'imap', label: 'wrong password', ...at('imap'), user: 'kepsek', password: 'Wr0ng-Passw0rd' },
      { kind: 'https', label: 'no login form', ...at('blank'), expect: 'rcmloginuser' },
      { kind: 'https', label: '503', ...at('broken') },
      { kind: 'dns', label: 'nxdomain', host: '127.0.0.1', port: dnsPort, name: 'nowhere.test' },
      { kind: 'dns', label: 'no answer', host: '127.0.0.1', port: dnsPort, name: 'silent.test' },
      { kind: 'banner', label: 'not ssh', ...at('smtp'), expect: 'SSH-2.0-' },
    ];
    const { code, results, wallMs } = await probe({ timeout: 1, checks });
    expect(code).toBe(1);
    const detail = Object.fromEntries(results.map((r) => [r.label, r.ok ? 'ok' : r.detail]));
    expect(detail).toEqual({
      'accepts and says nothing': 'banner: no answer within the deadline',
      'trickles a banner': expect.stringMatching(/^banner: no answer within the deadline \(got 2222/),
      'drops at once': 'banner: the server closed the connection',
      refuses: 'banner: 554 5.7.1 go away',
      'speaks HTTP': 'banner: not an SMTP reply: HTTP/1.1 400 Bad Request',
      'a line without end': 'banner: a line longer than 65536 bytes',
      'banner, then nothing': 'EHLO: no answer within the deadline',
      'TLS to a silent server': 'TLS handshake: no answer within the deadline',
      'closed port': 'connect: Connection refused',
      'wrong password': expect.stringMatching(
        /^LOGIN as kepsek: NO \[AUTHENTICATIONFAILED\] bad login: p2 LOGIN "kepsek" "\*{8}"$/,
      ),
      'no login form': "page: status 200 but no 'rcmloginuser' in it",
      503: 'response: HTTP/1.1 503 Service Unavailable',
      nxdomain: 'query nowhere.test A: NXDOMAIN, 0 answers',
      'no answer': 'query silent.test A: no answer within the deadline',
      'not ssh': 'banner: 220 fake.test ESMTP, not SSH-2.0-...',
    });
    // Every result names where it looked.
    for (const r of results) expect(r.host).toBe('127.0.0.1');
    expect(results.find((r) => r.label === 'closed port')?.port).toBe(ports.closed);
    // One deadline per probe, all at once: the whole run is about one deadline, never the sum of fifteen.
    for (const r of results) expect(r.ms).toBeLessThan(1500);
    expect(wallMs).toBeLessThan(5000);
  });

  it('a page that arrives whole counts even when the server keeps the connection open', async () => {
    const { results } = await probe({
      timeout: 1,
      checks: [{ kind: 'https', ...at('lingering'), expect: 'rcmloginuser' }],
    });
    expect(results[0]).toMatchObject({ ok: true, detail: "HTTP/1.1 200 OK, the page has 'rcmloginuser'" });
  });

  it('never shows the password it was given, not even when the server echoes it', async () => {
    const password = 'Echo-Me-Back-123';
    const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve) => {
      const child = spawn('python3', ['-I', SERVICE_PROBE_SOURCE]);
      let out = '';
      let err = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (err += c.toString()));
      child.on('close', () => resolve({ stdout: out, stderr: err }));
      child.stdin.end(
        JSON.stringify({ timeout: 2, checks: [{ kind: 'imap', ...at('imap'), user: 'kepsek', password }] }),
      );
    });
    expect(stdout).toContain('NO [AUTHENTICATIONFAILED]');
    expect(stdout + stderr).not.toContain(password);
  });

  it('keeps answering while clients flood the same server: 60 probes at once all pass', async () => {
    const { code, results } = await probe({
      timeout: 5,
      checks: Array.from({ length: 60 }, () => ({ kind: 'smtp', ...at('smtp') })),
    });
    expect(results.filter((r) => !r.ok)).toEqual([]);
    expect(code).toBe(0);
  });

  it('repeats each check every `every` seconds without waiting for the last one, one JSON line per probe', async () => {
    const { code, lines } = await probe({
      timeout: 0.5,
      every: 0.1,
      for: 1,
      checks: [
        { kind: 'smtp', label: 'good', ...at('smtp') },
        { kind: 'smtp', label: 'stalled', ...at('silent') },
      ],
    });
    const good = lines.filter((l) => l.label === 'good');
    const stalled = lines.filter((l) => l.label === 'stalled');
    // Ten starts each, though every stalled probe takes five intervals.
    expect(good).toHaveLength(10);
    expect(stalled).toHaveLength(10);
    expect(good.every((l) => l.ok)).toBe(true);
    expect(stalled.every((l) => !l.ok && l.detail === 'banner: no answer within the deadline')).toBe(true);
    const starts = good.map((l) => l.at!).sort();
    expect(starts.at(-1)! - starts[0]).toBeCloseTo(0.9, 1);
    expect(code).toBe(1);
  });

  it('SIGTERM stops the repeating probe: no new probe starts, and the ones under way still finish and print', async () => {
    const child = spawn('python3', ['-I', SERVICE_PROBE_SOURCE], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stdin.end(JSON.stringify({ timeout: 1, every: 0.1, for: 60, checks: [{ kind: 'smtp', ...at('silent') }] }));
    // Signalled once the first probe has printed (its deadline passed): by then about ten more are under way,
    // however slowly python started on a busy machine.
    await vi.waitFor(() => expect(stdout, 'the first probe to print').toContain('\n'), {
      timeout: 20_000,
      interval: 20,
    });
    const printedBefore = stdout.split('\n').filter(Boolean).length;
    const signalledAt = Date.now() / 1000;
    const stoppedAt = performance.now();
    child.kill('SIGTERM');
    const code = await new Promise((resolve) => child.on('close', resolve));
    const printed = stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as ProbeResult);
    // The ones under way when the signal came each printed once their deadline passed; none started after it.
    expect(
      printed.length - printedBefore,
      'probes under way at the signal that printed afterwards',
    ).toBeGreaterThanOrEqual(3);
    expect(
      printed.filter((r) => r.at! > signalledAt + 0.05),
      'probes started after the signal',
    ).toEqual([]);
    expect(new Set(printed.map((r) => r.at)).size, 'each probe printed once').toBe(printed.length);
    expect(printed.every((r) => !r.ok && r.detail === 'banner: no answer within the deadline')).toBe(true);
    expect(code).toBe(1);
    expect(performance.now() - stoppedAt).toBeLessThan(5000);
  });

  it('refuses a request it cannot read with exit 2 and one clear line', async () => {
    for (const [raw, message] of [
      ['not json', /^service-probe: /],
      ['{"checks": []}', /the request needs a non-empty list "checks"/],
      [
        '{"checks": [{"kind": "gopher", "host": "x"}]}',
        /checks\[0\]: kind must be one of banner, dhcp, dns, https, imap, smtp/,
      ],
      ['{"checks": [{"kind": "dns", "host": "127.0.0.1"}]}', /checks\[0\] \(dns\): "name" is required/],
      [
        '{"timeout": 0, "checks": [{"kind": "smtp", "host": "127.0.0.1"}]}',
        /"timeout" must be a number of seconds from 0 to 60/,
      ],
    ] as const) {
      const { code, stderr, lines } = await probe({ raw });
      expect(code, raw).toBe(2);
      expect(stderr.trim().split('\n')).toHaveLength(1);
      expect(stderr).toMatch(message);
      expect(lines).toEqual([]);
    }
  });
});
