import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sh } from '../../src/connection/sh.ts';
import { LAB_CLIENT, LAB_HOSTS } from '../lab/config.ts';
import { onHost } from '../lab/faults.ts';
import { stdoutOf } from './support/hosts.ts';
import { ACCOUNTS, client, inbox, login, password, py, scrub, swaks, token } from './support/mail-client.ts';
import { freshLab } from './support/lab.ts';
import { play, playJson } from './support/play.ts';

const PLAYBOOK = 'test/e2e/playbooks/mail.ts';
const DOMAIN = 'smknh.sch.id';
const SCHOOL = 'SMK Nurul Huda';
const SERVERS = LAB_HOSTS.map((h) => ({ name: h.name, address: h.address }));
const [PRIMARY] = SERVERS;

describe('the mail core (tls, users, postfix, dovecot) on the lab hosts', () => {
  let work: string;

  beforeAll(async () => {
    await freshLab();
    work = mkdtempSync(join(tmpdir(), 'play-mail-e2e-'));
    const started = Date.now();
    const first = await playJson([PLAYBOOK]);
    console.log(`mail core, first converge of both bare hosts: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(first.code, scrub(first.stderr + first.stdout)).toBe(0);
    for (const host of ['primary', 'backup']) expect(first.report.hosts[host]).toMatchObject({ failed: 0, unreachable: 0 });
  });

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('a second run changes nothing on either host, and --check then reports nothing to change', async () => {
    const started = Date.now();
    const second = await playJson([PLAYBOOK]);
    console.log(`mail core, second run: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(second.code, second.stdout).toBe(0);
    for (const host of ['primary', 'backup']) expect(second.report.hosts[host]).toMatchObject({ changed: 0, failed: 0, unreachable: 0 });
    const check = await play([PLAYBOOK, '--check', '--detailed-exitcode']);
    expect(check.code, check.stdout).toBe(0);
  });

  it('users: the school accounts with SHA-512-crypt passwords, no shell, a private Maildir; Dovecot knows only them', async () => {
    for (const { name: host } of SERVERS) {
      for (const account of ACCOUNTS) {
        const [hash, shell] = (await stdoutOf(host, sh`getent shadow ${account} | cut -d: -f2; getent passwd ${account} | cut -d: -f7`)).trim().split('\n');
        expect(hash).toMatch(/^\$6\$/);
        expect(shell).toBe('/usr/sbin/nologin');
        const stats = await stdoutOf(host, sh`cd ${`/home/${account}/Maildir`} && stat -c '%n %U %G %a' . cur new tmp`);
        expect(stats.trim().split('\n')).toEqual(['.', 'cur', 'new', 'tmp'].map((d) => `${d} ${account} ${account} 700`));
      }
      // The user list Dovecot iterates (replication will too) is exactly the school's accounts.
      expect((await stdoutOf(host, sh`doveadm user '*'`)).trim().split('\n').sort()).toEqual([...ACCOUNTS].sort());
      expect((await onHost(host, sh`doveadm user root`)).exitCode).not.toBe(0);
      expect(await stdoutOf(host, sh`doveconf -h ssl ssl_min_protocol disable_plaintext_auth mail_location`)).toBe('required\nTLSv1.2\nyes\nmaildir:~/Maildir\n');
      expect(await stdoutOf(host, sh`stat -c '%a %U %G' ${`/etc/ssl/certs/${DOMAIN}-mail.pem`} ${`/etc/ssl/private/${DOMAIN}-mail.key`}`)).toBe('644 root root\n640 root ssl-cert\n');
    }
  });

  for (const server of SERVERS) {
    it(`mail on ${server.name} (${server.address}): guru1 sends kepsek an attachment on 587 (STARTTLS + AUTH); kepsek reads it intact over IMAPS; the reply (on 465) reaches guru1`, async () => {
      const attachment = randomBytes(200_000);
      const file = join(work, `report-${server.name}.bin`);
      writeFileSync(file, attachment);
      const subject = `Rapor ${token()}`;
      const sent = await client([
        'swaks', '--server', server.address, '--helo', 'client.lab.test', '--suppress-data', '--auth-hide-password', ...login('guru1'),
        '--from', `guru1@${DOMAIN}`, '--to', `kepsek@${DOMAIN}`, '--header', `Subject: ${subject}`, '--body', 'Lampiran rapor.', '--attach', `@${file}`,
      ]);
      expect(sent.code, sent.output).toBe(0);
      expect(sent.output).toMatch(/<~ +235 /);
      expect(sent.output).toMatch(/<~ +250 2\.0\.0 Ok: queued/);

      const [received] = await inbox(server.address, 'kepsek', ['SUBJECT', subject]);
      expect(received, 'the message reached kepsek').toBeDefined();
      expect(received.from).toContain(`guru1@${DOMAIN}`);
      expect(received.attachments).toEqual([{ filename: `report-${server.name}.bin`, size: attachment.length, sha256: createHash('sha256').update(attachment).digest('hex') }]);
      expect(await stdoutOf(server.name, sh`ls /home/kepsek/Maildir/new /home/kepsek/Maildir/cur | grep -c ${server.name} || true`)).not.toBe('0\n');

      const reply = await swaks(server.address, [...login('kepsek', 465), '--from', `kepsek@${DOMAIN}`, '--to', `guru1@${DOMAIN}`, '--header', `Subject: Re: ${subject}`, '--body', 'Diterima, terima kasih.']);
      expect(reply.code, reply.output).toBe(0);
      expect(reply.output).toMatch(/<~ +235 /);
      const [answer] = await inbox(server.address, 'guru1', ['SUBJECT', `Re: ${subject}`]);
      expect(answer, 'the reply reached guru1').toBeDefined();
      expect(answer.from).toContain(`kepsek@${DOMAIN}`);
      expect(answer.text).toContain('Diterima, terima kasih.');
    });
  }

  it('a message sent again with the same Message-ID (its sender never got the 250) is stored once; a new Message-ID is stored', async () => {
    const subject = `Sent again ${token()}`;
    const first = `<${token()}@client.lab.test>`;
    for (const messageId of [first, first, `<${token()}@client.lab.test>`]) {
      const sent = await swaks(PRIMARY.address, [...login('guru1'), '--from', `guru1@${DOMAIN}`, '--to', `kepsek@${DOMAIN}`, '--header', `Subject: ${subject}`, '--header', `Message-Id: ${messageId}`]);
      expect(sent.code, sent.output).toBe(0);
      expect(sent.output).toMatch(/<~ +250 2\.0\.0 Ok: queued/);
    }
    // The milter stores before the 250: all three answers are in, so what the INBOX holds now is final.
    expect(await inbox(PRIMARY.address, 'kepsek', ['SUBJECT', subject])).toHaveLength(2);
    expect(await stdoutOf(PRIMARY.name, sh`journalctl -b -u deliver-before-accept --no-pager -o cat | grep -cF ${`message-id ${first} already in the mailbox`}`)).toBe('1\n');
    // Only postfix may ask the helper, and it answers no more than yes or no.
    expect(await stdoutOf(PRIMARY.name, sh`stat -c '%U %a' /run/mailbox-has-message.sock`)).toBe('postfix 600\n');
    const ask = `import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect('/run/mailbox-has-message.sock'); s.sendall(sys.argv[1].encode() + b'\\n')
print(s.makefile().readline().strip())`;
    const asked = (question: string) => stdoutOf(PRIMARY.name, sh`setpriv --reuid postfix --regid postfix --clear-groups python3 -c ${ask} ${question}`);
    expect(await asked(`kepsek ${first}`)).toBe('yes\n');
    expect(await asked(`guru2 ${first}`)).toBe('no\n');
    expect(await asked(`kepsek ${first} ; rm -rf /`)).toBe('invalid\n');
  });

  it('not an open relay: from outside to outside on port 25 → 554 5.7.1 Relay access denied (both servers)', async () => {
    for (const server of SERVERS) {
      const relay = await swaks(server.address, ['--port', '25', '--from', 'a@outside.test', '--to', 'b@outside.test']);
      expect(relay.code, relay.output).not.toBe(0);
      expect(relay.output).toMatch(/554 5\.7\.1 <b@outside\.test>: Relay access denied/);
      // Nor through STARTTLS without a login.
      const tlsRelay = await swaks(server.address, ['--port', '25', '--tls', '--from', 'a@outside.test', '--to', 'b@outside.test']);
      expect(tlsRelay.output).toMatch(/554 5\.7\.1 <b@outside\.test>: Relay access denied/);
    }
  });

  it('AUTH only after TLS: no AUTH in EHLO on 25 or 587 before STARTTLS (none on 25 at all); 587 STARTTLS + AUTH → 235', async () => {
    for (const server of SERVERS) {
      for (const port of ['25', '587']) {
        const plain = await swaks(server.address, ['--port', port, '--quit-after', 'EHLO']);
        expect(plain.output).toMatch(/250-STARTTLS/);
        expect(plain.output).not.toMatch(/AUTH/);
      }
      const port25Tls = await swaks(server.address, ['--port', '25', '--tls', '--quit-after', 'HELO']);
      expect(port25Tls.output).toMatch(/<~ +250/);
      expect(port25Tls.output).not.toMatch(/AUTH/);
      const noTls = await swaks(server.address, ['--port', '587', '--auth', 'LOGIN', '--auth-user', 'guru1', '--auth-password', password('guru1'), '--quit-after', 'AUTH']);
      expect(noTls.code).not.toBe(0);
      expect(noTls.output).not.toMatch(/ 235 /);
      const ok = await swaks(server.address, [...login('guru1'), '--quit-after', 'AUTH']);
      expect(ok.code, ok.output).toBe(0);
      expect(ok.output).toMatch(/<~ +250[- ]AUTH PLAIN LOGIN/);
      expect(ok.output).toMatch(/<~ +235 2\.7\.0 Authentication successful/);
      const wrong = await client(['swaks', '--server', server.address, '--suppress-data', '--auth-hide-password', '--port', '587', '--tls', '--auth', 'LOGIN', '--auth-user', 'guru1', '--auth-password', 'wrong-password', '--quit-after', 'AUTH']);
      expect(wrong.output).toMatch(/<~\*? +535 /);
    }
  });

  it('no plaintext IMAP login: LOGINDISABLED on 143 before STARTTLS and LOGIN refused; after STARTTLS login works', async () => {
    for (const server of SERVERS) {
      const answer = await py<{ before: string[]; loginBeforeTls: string; after: string[]; loginAfterTls: string }>({ op: 'imap-plain', host: server.address, user: 'guru1', password: password('guru1') });
      expect(answer.before).toContain('LOGINDISABLED');
      expect(answer.before).toContain('STARTTLS');
      expect(answer.loginBeforeTls).toMatch(/^refused/);
      expect(answer.after).not.toContain('LOGINDISABLED');
      expect(answer.loginAfterTls).toBe('OK');
      // IMAPS on 993 works (inbox() logs in there).
      expect(Array.isArray(await inbox(server.address, 'guru1', ['SUBJECT', 'no such subject'], 0))).toBe(true);
    }
  });

  it('TLS 1.2 minimum: TLS 1.1 is refused and TLS 1.2 accepted on 993, 465, 587, 25 and 143', async () => {
    const endpoints: { port: number; starttls?: string }[] = [{ port: 993 }, { port: 465 }, { port: 587, starttls: 'smtp' }, { port: 25, starttls: 'smtp' }, { port: 143, starttls: 'imap' }];
    for (const server of SERVERS) {
      for (const { port, starttls } of endpoints) {
        const base = ['openssl', 's_client', '-connect', `${server.address}:${port}`, ...(starttls ? ['-starttls', starttls] : [])];
        // SECLEVEL=0 so the client really offers TLS 1.1 (OpenSSL 3 refuses it itself otherwise): a refusal is the server's.
        const old = await client([...base, '-tls1_1', '-cipher', 'DEFAULT@SECLEVEL=0'], { timeoutMs: 20_000 });
        expect(old.code, `${server.address}:${port} TLS 1.1\n${old.output}`).not.toBe(0);
        expect(old.output).not.toMatch(/^New, TLSv1/m);
        const current = await client([...base, '-tls1_2'], { timeoutMs: 20_000 });
        expect(current.code, `${server.address}:${port} TLS 1.2\n${current.output}`).toBe(0);
        expect(current.output).toMatch(/^New, TLSv1\.2, Cipher is /m);
        expect(current.output).toContain(`CN = mail.${DOMAIN}`);
      }
    }
  });

  it('the sender must match the login: guru1 using kepsek@ → 553, on 587 and 465', async () => {
    for (const server of SERVERS) {
      for (const port of [587, 465] as const) {
        const forged = await swaks(server.address, [...login('guru1', port), '--from', `kepsek@${DOMAIN}`, '--to', `guru2@${DOMAIN}`]);
        expect(forged.code).not.toBe(0);
        expect(forged.output).toMatch(/553 5\.7\.1 <kepsek@smknh\.sch\.id>: Sender address rejected: not owned by user guru1/);
      }
      // Nobody may use a school address on port 25 without logging in.
      const spoofed = await swaks(server.address, ['--port', '25', '--from', `kepsek@${DOMAIN}`, '--to', `guru2@${DOMAIN}`]);
      expect(spoofed.output).toMatch(/553 5\.7\.1 <kepsek@smknh\.sch\.id>: Sender address rejected/);
    }
  });

  it('no user enumeration: VRFY root → 502 on 25 and on 587', async () => {
    for (const server of SERVERS) {
      expect(await py({ op: 'vrfy', host: server.address, port: 25 })).toEqual({ code: 502, text: '5.5.1 VRFY command is disabled' });
      expect(await py({ op: 'vrfy', host: server.address, port: 587, starttls: true })).toEqual({ code: 502, text: '5.5.1 VRFY command is disabled' });
    }
  });

  it('mail to another domain is refused at once with a clear text (no relay host set), on both servers', async () => {
    for (const server of SERVERS) {
      const sent = await swaks(server.address, [...login('guru1'), '--from', `guru1@${DOMAIN}`, '--to', 'someone@outside.test']);
      expect(sent.code).not.toBe(0);
      // Postfix resolves the recipient to the error transport and refuses it at RCPT with the transport's text,
      // so the sender (or Roundcube) sees the reason immediately instead of a later bounce.
      expect(sent.output).toMatch(new RegExp(`550 5\\.7\\.1 <someone@outside\\.test>: Recipient address rejected: mail to other domains is disabled at ${SCHOOL}`));
      expect(await stdoutOf(server.name, sh`postconf -h default_transport relayhost`)).toBe(`error:5.7.1 mail to other domains is disabled at ${SCHOOL}\n\n`);
    }
  });

  it('with relayHost set, mail to another domain leaves through the relay host (a sink on the lab client)', async () => {
    const sink = spawn('ip', ['netns', 'exec', LAB_CLIENT.netns, '/usr/bin/python3', '-W', 'ignore', '-u', '-m', 'smtpd', '-n', '-c', 'DebuggingServer', `${LAB_CLIENT.address}:2525`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let received = '';
    sink.stdout.on('data', (c: Buffer) => (received += c.toString()));
    try {
      const relayed = await playJson([PLAYBOOK], { PLAY_E2E_RELAY_HOST: `[${LAB_CLIENT.address}]:2525` });
      expect(relayed.code, relayed.stdout).toBe(0);
      expect(await stdoutOf('primary', sh`postconf -h relayhost default_transport`)).toBe(`[${LAB_CLIENT.address}]:2525\nsmtp\n`);
      const subject = `Keluar ${token()}`;
      const sent = await swaks(PRIMARY.address, [...login('guru1'), '--from', `guru1@${DOMAIN}`, '--to', 'someone@outside.test', '--header', `Subject: ${subject}`]);
      expect(sent.code, sent.output).toBe(0);
      const deadline = Date.now() + 30_000;
      while (!received.includes(subject) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
      expect(received).toContain(`Subject: ${subject}`);
      expect(received).toMatch(/X-Peer: '?198\.18\.\d+\.1'?/);
    } finally {
      sink.kill();
      const restored = await playJson([PLAYBOOK]);
      expect(restored.code, restored.stdout).toBe(0);
    }
    expect(await stdoutOf('primary', sh`postconf -h relayhost`)).toBe('\n');
  });

  it('nothing is bound to a single address (the VIP included): every mail port listens on all addresses', async () => {
    for (const { name } of SERVERS) {
      const listeners = (await stdoutOf(name, sh`ss -Hltn`)).trim().split('\n').map((l) => l.split(/\s+/)[3]);
      for (const port of [25, 465, 587, 143, 993]) {
        const bound = listeners.filter((a) => a.endsWith(`:${port}`));
        expect(bound.length, `${name}: port ${port}`).toBeGreaterThan(0);
        for (const address of bound) expect(['0.0.0.0', '*', '[::]']).toContain(address.slice(0, address.lastIndexOf(':')));
      }
    }
  });

  it('an account listed as absent is removed: its login and its place in Dovecot\'s user list are gone', async () => {
    const created = await playJson([PLAYBOOK], { PLAY_E2E_EXTRA_ACCOUNT: 'present' });
    expect(created.code, created.stdout).toBe(0);
    for (const host of ['primary', 'backup']) {
      expect(await stdoutOf(host, sh`getent passwd alumni1 | cut -d: -f6,7`)).toBe('/home/alumni1:/usr/sbin/nologin\n');
      expect(await stdoutOf(host, sh`doveadm user '*'`)).toContain('alumni1');
    }
    const removed = await playJson([PLAYBOOK], { PLAY_E2E_EXTRA_ACCOUNT: 'absent' });
    expect(removed.code, removed.stdout).toBe(0);
    for (const host of ['primary', 'backup']) {
      expect((await onHost(host, sh`getent passwd alumni1`)).exitCode).toBe(2);
      expect(await stdoutOf(host, sh`doveadm user '*'`)).not.toContain('alumni1');
      // Its mail is kept for the school to archive (removeAbsentHomes is false by default).
      expect(await stdoutOf(host, sh`test -d /home/alumni1/Maildir && echo kept`)).toBe('kept\n');
    }
    const rcpt = await swaks(PRIMARY.address, ['--port', '25', '--from', 'a@outside.test', '--to', `alumni1@${DOMAIN}`]);
    expect(rcpt.output).toMatch(/550 5\.1\.1 <alumni1@smknh\.sch\.id>: Recipient address rejected/);
    const back = await playJson([PLAYBOOK]);
    expect(back.code).toBe(0);
  });
  // Drift of main.cf is proven on the whole site: site.test.ts.
});
