import { createHash, X509Certificate } from 'node:crypto';
import { statSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { sh } from '../../src/connection/sh.ts';
import inventory from '../../inventory/lab.ts';
import { LAB_HOSTS, LAB_PLATFORM } from '../lab/config.ts';
import { phpVersion } from '../../roles/roundcube/index.ts';
import { labSecret } from '../lab/lab-vault.ts';
import { launchBrowser, screenshot } from './support/browser.ts';
import { fromClient } from './support/client.ts';
import { stdoutOf } from './support/hosts.ts';
import { curlAt, httpsHandshake } from './support/web-client.ts';
import { freshLab } from './support/lab.ts';
import { play, playJson } from './support/play.ts';

const WEB = 'test/e2e/playbooks/web.ts';
const { domain, schoolName } = inventory.groups!.servers.vars as { domain: string; schoolName: string };
const MAIL = `mail.${domain}`;
const [PRIMARY, BACKUP] = LAB_HOSTS;

const curl = (address: string, args: readonly string[]) => curlAt(address, MAIL, args);
const handshake = (address: string, version: 'tls1_1' | 'tls1_2') => httpsHandshake(address, MAIL, version);

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe('the webmail site (roles apache and roundcube) on the lab', () => {
  beforeAll(() => freshLab({ from: 'packages' }));

  it('takes both pre-staged hosts to the webmail; a second run changes nothing and --check finds nothing to do', async () => {
    const first = await playJson([WEB]);
    expect(first.code, first.stderr + first.stdout).toBe(0);
    for (const host of ['primary', 'backup'])
      expect(first.report.hosts[host]).toMatchObject({ failed: 0, unreachable: 0 });
    const second = await playJson([WEB]);
    expect(second.code, second.stderr + second.stdout).toBe(0);
    for (const host of ['primary', 'backup']) {
      expect(second.report.hosts[host]).toMatchObject({ changed: 0, failed: 0, unreachable: 0 });
      expect(second.report.hosts[host].commands).toBeLessThanOrEqual(2);
    }
    const check = await play([WEB, '--check', '--detailed-exitcode']);
    expect(check.code, check.stdout).toBe(0);
  });

  it('answers HTTP with a 301 to https://mail.<domain>/ (any name, any path)', () => {
    for (const { address } of LAB_HOSTS) {
      expect(curl(address, ['-o', '/dev/null', '-w', '%{http_code} %{redirect_url}', `http://${MAIL}/`])).toBe(
        `301 https://${MAIL}/`,
      );
      expect(
        curl(address, [
          '-o',
          '/dev/null',
          '-w',
          '%{http_code} %{redirect_url}',
          '-H',
          `Host: www.${domain}`,
          `http://${address}/?_task=mail`,
        ]),
      ).toBe(`301 https://${MAIL}/?_task=mail`);
    }
  });

  it("serves Roundcube's login page over HTTPS at the root, with the school's name, over HTTP/2", () => {
    for (const { address } of LAB_HOSTS) {
      const out = curl(address, ['-k', '--http2', '-w', '\n%{http_code} %{http_version}', `https://${MAIL}/`]);
      const status = out.slice(out.lastIndexOf('\n') + 1);
      expect(status).toBe('200 2');
      expect(out).toContain(`<title>${schoolName} :: `);
      expect(out).toMatch(/<form[^>]+name="login-form"/);
      expect(out).toContain('name="_user" id="rcmloginuser"');
      expect(out).not.toMatch(/DATABASE ERROR|SERVICE CURRENTLY NOT AVAILABLE/);
    }
  });

  it("presents the school's certificate (the vault's) on both servers, and refuses TLS 1.1 while 1.2 works", () => {
    const vaultCertificate = new X509Certificate(labSecret('tls_certificate'));
    for (const { address } of LAB_HOSTS) {
      const tls12 = handshake(address, 'tls1_2');
      expect(tls12.code, tls12.output).toBe(0);
      expect(tls12.output).toMatch(/Protocol\s*: TLSv1\.2/);
      const served = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(tls12.output)?.[0];
      expect(served && new X509Certificate(served).fingerprint256).toBe(vaultCertificate.fingerprint256);

      const tls11 = handshake(address, 'tls1_1');
      expect(tls11.code).not.toBe(0);
      expect(tls11.output).toMatch(/alert protocol version|unsupported protocol|no protocols available/i);
    }
  });

  it('does not serve the Roundcube installer', () => {
    for (const { address } of LAB_HOSTS) {
      const status = curl(address, ['-k', '-o', '/dev/null', '-w', '%{http_code}', `https://${MAIL}/installer/`]);
      expect(['403', '404']).toContain(status);
    }
  });

  it('has the Debian default site disabled: a bare IP gets the mail site, never the default page', async () => {
    for (const { name, address } of LAB_HOSTS) {
      const https = fromClient('curl', ['-sSk', '--max-time', '20', `https://${address}/`]);
      expect(https.stdout).toContain(`<title>${schoolName} :: `);
      expect(https.stdout).not.toContain('Apache2 Debian Default Page');
      const http = fromClient('curl', [
        '-sS',
        '--max-time',
        '20',
        '-o',
        '/dev/null',
        '-w',
        '%{http_code} %{redirect_url}',
        `http://${address}/`,
      ]);
      expect(http.stdout).toBe(`301 https://${MAIL}/`);
      expect((await stdoutOf(name, sh`ls /etc/apache2/sites-enabled`)).trim()).toBe('mail.conf');
    }
  });

  it("has the same des_key on both servers: the vault's, not one Debian generated", async () => {
    const desKeyLine = sh`grep -E ${"^\\$config\\['des_key'\\] *="} /etc/roundcube/config.inc.php`;
    const [primaryLine, backupLine] = await Promise.all([
      stdoutOf(PRIMARY.name, desKeyLine),
      stdoutOf(BACKUP.name, desKeyLine),
    ]);
    const vaultKey = labSecret('roundcube_des_key');
    // Only hashes are compared, so a failure never prints the key.
    expect(sha256(primaryLine) === sha256(backupLine)).toBe(true);
    expect(sha256(primaryLine) === sha256(`$config['des_key'] = '${vaultKey}';\n`)).toBe(true);
    expect(await stdoutOf(PRIMARY.name, sh`stat -c '%a %U:%G' /etc/roundcube/config.inc.php`)).toBe(
      '640 root:www-data\n',
    );
  });

  it("gives Roundcube TLS settings that verify the server's certificate under the mail host name", async () => {
    // IMAP and SMTP are not there yet (another role): check the very options Roundcube uses against this
    // server's HTTPS, which presents the same certificate; a wrong peer name must fail.
    const probe = (peer: string) =>
      sh`php -r ${`include "/etc/roundcube/config.inc.php"; $o = $config["imap_conn_options"]; $o["ssl"]["peer_name"] = $argv[1]; $s = @stream_socket_client("ssl://localhost:443", $e, $m, 5, STREAM_CLIENT_CONNECT, stream_context_create($o)); echo $s ? "verified" : "refused";`} ${peer}`;
    for (const { name } of LAB_HOSTS) {
      expect(
        await stdoutOf(name, sh`grep -E ${"^\\$config\\['(imap|smtp)_host'\\]"} /etc/roundcube/config.inc.php`),
      ).toBe(`$config['imap_host'] = 'ssl://localhost:993';\n$config['smtp_host'] = 'tls://localhost:587';\n`);
      expect(await stdoutOf(name, probe(MAIL))).toBe('verified');
      expect(await stdoutOf(name, probe('not-the-mail-host.example'))).toBe('refused');
    }
  });

  it("lets php-fpm take attachments up to 17 MB (messages up to 24 MB, under postfix's 25 MiB)", async () => {
    const settings = await stdoutOf(
      PRIMARY.name,
      sh`${`php-fpm${phpVersion(LAB_PLATFORM)}`} -i | grep -E '^(upload_max_filesize|post_max_size) '`,
    );
    expect(settings).toContain('upload_max_filesize => 17M => 17M');
    expect(settings).toContain('post_max_size => 24M => 24M');
  });

  it('repairs a hand-broken mail site: the new one is checked in place of the broken one, then apache reloads', async () => {
    await stdoutOf(BACKUP.name, sh`echo 'NoSuchDirective on' >> /etc/apache2/sites-available/mail.conf`);
    const reloads = async () =>
      (await stdoutOf(BACKUP.name, sh`journalctl -u apache2 -o cat | grep -c '^Reloaded' || true`)).trim();
    const before = await reloads();
    const fix = await playJson([WEB]);
    expect(fix.code, fix.stdout + fix.stderr).toBe(0);
    expect(fix.report.hosts.primary.changed).toBe(0);
    // The site is a config set: checked, renamed in, reloaded and probed by the set itself.
    expect(fix.report.tasks.filter((t) => t.status === 'changed').map((t) => `${t.host}: ${t.task}`)).toEqual([
      'backup: config set /etc/apache2',
    ]);
    expect(Number(await reloads())).toBe(Number(before) + 1);
    expect(await stdoutOf(BACKUP.name, sh`apache2ctl configtest 2>&1`)).toContain('Syntax OK');
  });

  it("shows the Roundcube login form with the school's name in a real browser (screenshot in test/artifacts/)", async () => {
    const lab = await launchBrowser({ hosts: { [MAIL]: PRIMARY.address } });
    try {
      const page = await lab.context.newPage();
      const response = await page.goto(`https://${MAIL}/`, { waitUntil: 'networkidle' });
      expect(response?.status()).toBe(200);
      expect(await page.title()).toContain(schoolName);
      await expect.poll(() => page.locator('#rcmloginuser').isVisible()).toBe(true);
      expect(await page.locator('#rcmloginpwd').isVisible()).toBe(true);
      expect(await page.locator('#rcmloginsubmit').isVisible()).toBe(true);
      const path = await screenshot(page, 'web-login');
      expect(statSync(path).size).toBeGreaterThan(10_000);
    } finally {
      await lab.close();
    }
  });
});
