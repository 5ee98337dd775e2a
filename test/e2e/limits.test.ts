import { beforeAll, describe, expect, it } from 'vitest';
import { raw, sh } from '../../src/connection/sh.ts';
import { LAB_CLIENT, LAB_HOSTS, LAB_PLATFORM, LAB_SENDING_LIMIT, LAB_SMALL_QUOTA, LAB_VIP } from '../lab/config.ts';
import { postfixUnit } from '../../roles/postfix/config-set.ts';
import { RATE_LIMIT_TEXT } from '../../roles/postfix/index.ts';
import { REPLICATOR } from '../../roles/dovecot/replicator-status.ts';
import { launchBrowser, screenshot } from './support/browser.ts';
import { fromClient } from './support/client.ts';
import { webmailLogin } from './support/webmail.ts';
import { stdoutOf } from './support/hosts.ts';
import { client, inbox, login, password, swaks, token } from './support/mail-client.ts';
import { freshLab } from './support/lab.ts';
import { play } from './support/play.ts';
import { until } from './support/wait.ts';

const LAB = ['-i', 'inventory/lab.ts'];
const DOMAIN = 'smknh.sch.id';
const [PRIMARY, BACKUP] = LAB_HOSTS;
const FULL = LAB_SMALL_QUOTA.account;

/** A message from another school's server on port 25 (swaks in lab-client), with a subject when given. */
function fromOutside(server: string, to: string, subject?: string) {
  return swaks(server, [
    '--port',
    '25',
    '--from',
    'kurikulum@dinas.test',
    '--to',
    to,
    ...(subject === undefined ? [] : ['--header', `Subject: ${subject}`]),
  ]);
}

interface Row {
  check: string;
  host?: string;
  ok: boolean;
  detail: string;
}

/** play verify's rows of one check, per server. */
async function verifyRows(check: string): Promise<Row[]> {
  const result = await play(['verify', 'playbooks/site.ts', ...LAB, '--json']);
  return (JSON.parse(result.stdout) as { rows: Row[] }).rows.filter((r) => r.check === check);
}

/** An account's storage use on a server, in kilobytes, as Dovecot counts it for the quota. */
async function quotaKb(host: string, account: string): Promise<number> {
  const table = await stdoutOf(host, sh`doveadm -f tab quota get -u ${account}`);
  const storage = table.split('\n').find((line) => line.split('\t')[1] === 'STORAGE');
  return Number(storage?.split('\t')[2]);
}

// GETQUOTAROOT INBOX over IMAPS, as Roundcube asks for the quota it shows.
const QUOTA_ROOT = `
import imaplib, json, ssl, sys
req = json.load(sys.stdin)
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4_SSL(req['host'], 993, ssl_context=ctx)
m.login(req['user'], req['password'])
typ, data = m.getquotaroot('INBOX')
m.logout()
print(json.dumps([d.decode() if isinstance(d, bytes) else str(d) for part in data for d in part]))
`;

// A hostile flood on port 25: CLIENTS connections at once from one address, each sending SIZE-byte messages without
// declaring their size (MAIL FROM with no SIZE=), one after the other, for SECONDS. Prints each reply's count.
const FLOOD = String.raw`
import json, smtplib, sys, threading, time
host, source, rcpt, size, clients, seconds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
line = 'x' * 998 + '\r\n'
body = ('From: <banjir@flood.test>\r\nTo: <%s>\r\nSubject: banjir\r\n\r\n' % rcpt) + line * (size // len(line))
replies = {}
lock = threading.Lock()
def seen(what):
    with lock:
        replies[what] = replies.get(what, 0) + 1
def flood():
    end = time.time() + seconds
    while time.time() < end:
        try:
            s = smtplib.SMTP(host, 25, timeout=60, source_address=(source, 0))
            s.ehlo('flood.test')
            code, _ = s.mail('banjir@flood.test')
            if code != 250:
                seen('MAIL %d' % code); s.close(); time.sleep(0.2); continue
            code, _ = s.rcpt(rcpt)
            if code != 250:
                seen('RCPT %d' % code); s.close(); time.sleep(0.2); continue
            code, _ = s.data(body)
            seen('DATA %d' % code)
            s.close()
        except smtplib.SMTPConnectError as e:
            seen('connect %d' % e.smtp_code); time.sleep(0.2)
        except smtplib.SMTPDataError as e:
            seen('DATA %d' % e.smtp_code)
        except (smtplib.SMTPException, OSError) as e:
            seen(type(e).__name__); time.sleep(0.2)
threads = [threading.Thread(target=flood) for _ in range(clients)]
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps(replies))
`;

describe('limits: quotas, message size, floods and a full spool refuse mail clearly and lose none', () => {
  beforeAll(() => freshLab({ from: 'site' }), 1_500_000);

  it(`quota: ${FULL} (${LAB_SMALL_QUOTA.quota} of its own) filled past its quota: play verify names it in red, IMAP and the webmail show the quota; mail to it is refused at RCPT with 552 5.2.2 on 25 and 587 (nothing queued); emptied, it gets mail again`, async () => {
    const t = token();
    // 16 MB of random bytes in base64: about 21.6 MB, 103% of 20 MiB (a mailbox can go over its quota: a restore, or
    // replication of what the other server took). doveadm does not enforce quotas, as a restore;
    // and, as a restore, it asks for the account's replication (Dovecot 2.4 announces no doveadm change by itself).
    await stdoutOf(
      PRIMARY.name,
      sh`{ printf 'From: <arsip@${DOMAIN}>\nSubject: arsip ${t}\n\n'; head -c 16000000 /dev/urandom | base64 -w 76; } | doveadm save -u ${FULL} -m INBOX && ${raw(REPLICATOR)} replicate -f ${FULL}`,
    );
    for (const host of [PRIMARY.name, BACKUP.name])
      await until(
        `${FULL} over its quota on ${host}`,
        async () => (await quotaKb(host, FULL)) > LAB_SMALL_QUOTA.bytes / 1024,
        60_000,
      );
    for (const row of await verifyRows('quota'))
      expect(row, row.host).toMatchObject({
        ok: false,
        detail: expect.stringMatching(new RegExp(`^${FULL} 10\\d% of 20 MiB: at 90% or more`)),
      });
    const quota = await client(['/usr/bin/python3', '-c', QUOTA_ROOT], {
      stdin: JSON.stringify({ host: LAB_VIP, user: FULL, password: password(FULL) }),
    });
    expect(quota.code, quota.output).toBe(0);
    expect((JSON.parse(quota.stdout) as string[]).join('\n')).toMatch(/"User quota" \(STORAGE \d+ 20480\)/);
    // What the teacher sees: the webmail's quota widget, full.
    const lab = await launchBrowser({ hosts: { [`mail.${DOMAIN}`]: LAB_VIP } });
    try {
      const page = await lab.newSession();
      await webmailLogin(page, `https://mail.${DOMAIN}/`, FULL, password(FULL));
      await expect
        .poll(async () => (await page.textContent('#quotadisplay')) ?? '', { timeout: 30_000 })
        .toMatch(/10\d ?%/);
      await screenshot(page, 'quota-full');
    } finally {
      await lab.close();
    }

    const outside = await fromOutside(LAB_VIP, `${FULL}@${DOMAIN}`);
    expect(outside.output).toMatch(/<[*~]\* +552 5\.2\.2 .*Mailbox is full/);
    const teacher = await swaks(LAB_VIP, [...login('guru1'), '--from', `guru1@${DOMAIN}`, '--to', `${FULL}@${DOMAIN}`]);
    expect(teacher.output).toMatch(/<[*~]\* +552 5\.2\.2 .*Mailbox is full/);
    // Refused while the sender was there: nothing waits in a queue to bounce later.
    for (const host of [PRIMARY.name, BACKUP.name])
      expect((await stdoutOf(host, sh`postqueue -j | grep -c ${FULL} || true`)).trim(), host).toBe('0');

    await stdoutOf(
      PRIMARY.name,
      sh`doveadm expunge -u ${FULL} mailbox INBOX subject ${`arsip ${t}`} && ${raw(REPLICATOR)} replicate -f ${FULL}`,
    );
    for (const host of [PRIMARY.name, BACKUP.name])
      await until(`${FULL} emptied on ${host}`, async () => (await quotaKb(host, FULL)) < 1024, 60_000);
    const again = await fromOutside(LAB_VIP, `${FULL}@${DOMAIN}`, `ruang lagi ${t}`);
    expect(again.code, again.output).toBe(0);
    expect(await inbox(LAB_VIP, FULL, ['SUBJECT', `ruang lagi ${t}`])).toHaveLength(1);
    for (const row of await verifyRows('quota')) expect(row, row.host).toMatchObject({ ok: true });
  });

  const LIMITED = LAB_SENDING_LIMIT.account;
  it(`sending limits per login: ${LIMITED} (${LAB_SENDING_LIMIT.recipients} recipients an hour of its own) sends to 6 on 587 and 4 on 465, then is deferred (450 4.7.1) on either port, also after the limiter restarts or is killed; guru1 still sends; a frozen limiter holds no one up and play verify names it`, async () => {
    const t = token();
    const addresses = (names: string[]) => names.map((n) => `${n}@${DOMAIN}`).join(',');
    const send = (account: string, to: string, subject: string, port: 587 | 465 = 587) =>
      swaks(LAB_VIP, [
        ...login(account, port),
        '--from',
        `${account}@${DOMAIN}`,
        '--to',
        to,
        '--header',
        `Subject: ${subject}`,
      ]);
    const deferred = new RegExp(`<[*~]\\* +450 4\\.7\\.1 .*${RATE_LIMIT_TEXT}`);
    const limiter = (signal: string) => stdoutOf(PRIMARY.name, sh`systemctl kill -s ${signal} policyd-rate-limit`);

    // Counted per login across 587 and 465: the postmaster's role addresses are recipients too.
    const six = await send(
      LIMITED,
      addresses(['kepsek', 'guru1', 'guru2', 'postmaster', 'abuse', 'hostmaster']),
      `enam ${t}`,
    );
    expect(six.code, six.output).toBe(0);
    const four = await send(LIMITED, addresses(['kepsek', 'guru1', 'webmaster', 'root']), `empat ${t}`, 465);
    expect(four.code, four.output).toBe(0);
    for (const port of [587, 465] as const) {
      const over = await send(LIMITED, `kepsek@${DOMAIN}`, `lebih ${port} ${t}`, port);
      expect(over.output, `port ${port}`).toMatch(deferred);
    }
    // Refused while the client was there: nothing queued to go out later.
    expect((await stdoutOf(PRIMARY.name, sh`postqueue -j | grep -c ${`lebih`} || true`)).trim()).toBe('0');
    expect(await inbox(LAB_VIP, 'kepsek', ['SUBJECT', `lebih`, 'SUBJECT', t], 2)).toHaveLength(0);
    // Another teacher is not limited by guru3's count.
    const other = await send('guru1', `kepsek@${DOMAIN}`, `guru1 ${t}`);
    expect(other.code, other.output).toBe(0);

    // The count is on disk: a restart, and a kill (systemd starts it again; no stale pid file stops it), keep it.
    await stdoutOf(PRIMARY.name, sh`systemctl restart policyd-rate-limit`);
    expect((await send(LIMITED, `kepsek@${DOMAIN}`, `setelah restart ${t}`)).output).toMatch(deferred);
    await limiter('KILL');
    await until(
      'policyd-rate-limit started again after SIGKILL',
      async () => (await send(LIMITED, `kepsek@${DOMAIN}`, `setelah kill ${t}`)).output.match(deferred) !== null,
      30_000,
    );

    // Frozen (SIGSTOP: its socket still accepts): postfix waits 1 s for it, then lets mail through.
    await limiter('STOP');
    try {
      const started = performance.now();
      const frozen = await send('guru1', `kepsek@${DOMAIN}`, `beku ${t}`);
      const seconds = (performance.now() - started) / 1000;
      expect(frozen.code, frozen.output).toBe(0);
      expect(seconds, 'a message while the limiter is frozen').toBeLessThan(10);
      // play verify says so: nobody's sending is limited on the primary meanwhile.
      const rows = await verifyRows('sending limits');
      expect(rows.find((r) => r.host === PRIMARY.name)).toMatchObject({
        ok: false,
        detail: "policyd-rate-limit: no answer: timed out; no login's sending is limited",
      });
      expect(rows.find((r) => r.host === BACKUP.name)).toMatchObject({ ok: true });
    } finally {
      await limiter('CONT');
    }
    for (const row of await verifyRows('sending limits')) expect(row, row.host).toMatchObject({ ok: true });
    // Delivered, each once per recipient (kepsek also reads the role addresses, so guru1's inbox is the one counted).
    for (const subject of [`enam ${t}`, `empat ${t}`])
      expect(await inbox(LAB_VIP, 'guru1', ['SUBJECT', subject]), subject).toHaveLength(1);
    for (const subject of [`guru1 ${t}`, `beku ${t}`])
      expect(await inbox(LAB_VIP, 'kepsek', ['SUBJECT', subject]), subject).toHaveLength(1);
  });

  it('a message over 25 MiB is refused (552 5.3.4) and the limit is announced in EHLO', async () => {
    const ehlo = await swaks(LAB_VIP, ['--port', '25', '--quit-after', 'EHLO']);
    expect(ehlo.output).toMatch(/<- +250-SIZE 26214400/);
    const big = await client(
      [
        '/usr/bin/python3',
        '-c',
        FLOOD,
        LAB_VIP,
        LAB_CLIENT.address,
        `kepsek@${DOMAIN}`,
        String(26 * 2 ** 20),
        '1',
        '0.1',
      ],
      { timeoutMs: 120_000 },
    );
    expect(big.code, big.output).toBe(0);
    expect(JSON.parse(big.stdout)).toEqual({ 'DATA 552': 1 });
  });

  it('a flood on 25: 20 clients at once sending 30 MB messages for 60 s are throttled (rate limits, size) before 1 GB lands; mail from others still flows', async () => {
    const flooder = LAB_CLIENT.address.replace(/\.\d+$/, '.63');
    fromClient('ip', ['addr', 'add', `${flooder}/24`, 'dev', 'eth0']);
    const before = { primary: await quotaKb(PRIMARY.name, 'kepsek'), backup: await quotaKb(BACKUP.name, 'kepsek') };
    let replies: Record<string, number>;
    try {
      const flood = await client(
        ['/usr/bin/python3', '-c', FLOOD, LAB_VIP, flooder, `kepsek@${DOMAIN}`, String(30_000_000), '20', '60'],
        { timeoutMs: 300_000 },
      );
      expect(flood.code, flood.output).toBe(0);
      replies = JSON.parse(flood.stdout) as Record<string, number>;
    } finally {
      fromClient('ip', ['addr', 'del', `${flooder}/24`, 'dev', 'eth0']);
    }
    console.log(`flood replies: ${JSON.stringify(replies)}`);
    // Every message that got to DATA was refused for its size; the rest were refused before it (anvil's rates:
    // 450 4.7.1 for messages, 421 for connections).
    expect(Object.keys(replies).filter((reply) => reply.startsWith('DATA') && reply !== 'DATA 552')).toEqual([]);
    expect(replies['MAIL 450'] ?? 0, 'refused by the message rate').toBeGreaterThan(0);
    expect(replies['DATA 552'] ?? 0).toBeLessThanOrEqual(60);
    const landed = {
      primary: (await quotaKb(PRIMARY.name, 'kepsek')) - before.primary,
      backup: (await quotaKb(BACKUP.name, 'kepsek')) - before.backup,
    };
    expect(landed.primary * 1024, 'bytes that landed in kepsek on the primary').toBeLessThan(1e9);
    expect(landed.backup * 1024, 'bytes that landed in kepsek on the backup').toBeLessThan(1e9);
    // Nobody else is held up: an honest server's message (another address) is taken and delivered at once.
    const subject = `setelah banjir ${token()}`;
    const honest = await fromOutside(LAB_VIP, `kepsek@${DOMAIN}`, subject);
    expect(honest.code, honest.output).toBe(0);
    expect(await inbox(LAB_VIP, 'kepsek', ['SUBJECT', subject])).toHaveLength(1);
  });

  it('a full spool disk (a small tmpfs): new mail gets 452 4.3.1 while it is under queue_minfree, postfix keeps answering, and mail flows again once there is room', async () => {
    const unit = postfixUnit(LAB_PLATFORM);
    const spool = '/var/spool/postfix';
    // The spool moved onto a tmpfs of queue_minfree (512 MiB) + 100 MiB, with what it held (Dovecot's sockets are
    // made again when it starts).
    await stdoutOf(
      PRIMARY.name,
      sh`systemctl stop ${unit} dovecot && rm -rf /root/spool && cp -a ${spool} /root/spool && mount -t tmpfs -o size=612m,mode=0755 tmpfs ${spool} && cp -a /root/spool/. ${spool}/ && systemctl start dovecot ${unit}`,
    );
    try {
      const send = (subject: string) => fromOutside(PRIMARY.address, `kepsek@${DOMAIN}`, subject);
      const t = token();
      await until('postfix answering on the tmpfs spool', async () => (await send(`sebelum ${t}`)).code === 0, 30_000);
      // 300 MiB left: under queue_minfree.
      await stdoutOf(
        PRIMARY.name,
        sh`free=$(df -B1 --output=avail ${spool} | tail -n 1); fallocate -l $((free - 300 * 1024 * 1024)) ${spool}/isi`,
      );
      const full = await send(`penuh ${t}`);
      expect(full.output).toMatch(/<\*\* +452 4\.3\.1 Insufficient system storage/);
      const banner = await swaks(PRIMARY.address, ['--port', '25', '--quit-after', 'EHLO']);
      expect(banner.output).toMatch(/<- +220 /);
      await stdoutOf(PRIMARY.name, sh`rm ${`${spool}/isi`}`);
      const room = await send(`lega ${t}`);
      expect(room.code, room.output).toBe(0);
      for (const subject of [`sebelum ${t}`, `lega ${t}`])
        expect(await inbox(PRIMARY.address, 'kepsek', ['SUBJECT', subject])).toHaveLength(1);
      expect(await inbox(PRIMARY.address, 'kepsek', ['SUBJECT', `penuh ${t}`], 0)).toHaveLength(0);
    } finally {
      await stdoutOf(
        PRIMARY.name,
        sh`systemctl stop ${unit} dovecot; umount ${spool}; rm -rf /root/spool; systemctl start dovecot ${unit}`,
      );
    }
  });
});
