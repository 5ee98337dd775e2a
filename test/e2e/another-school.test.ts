import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readVault } from '../../src/vault.ts';
import { CONTROLLER_ADDRESS, LAB_CLIENT, LAB_HOSTS, LAB_KEY, LAB_KNOWN_HOSTS } from '../lab/config.ts';
import { sh } from '../../src/connection/sh.ts';
import { launchBrowser, screenshot } from './support/browser.ts';
import { eachLabHostSays, keepalivedStory } from './support/failover.ts';
import { freshLab } from './support/lab.ts';
import { client, inbox, token } from './support/mail-client.ts';
import { REPO } from './support/play.ts';
import { webmailLogin } from './support/webmail.ts';

// The README's "Another school" section, run for real: play packed and installed from its tarball into a folder
// outside the repository, `play init` with another school's values, and that school's project deployed to a fresh
// lab with nothing but the commands the README gives.
const [PRIMARY, BACKUP] = LAB_HOSTS;
const subnet = PRIMARY.address.replace(/\.\d+$/, '');
const SCHOOL = 'SMK Bakti Nusantara';
const DOMAIN = 'smkbakti.sch.id';
const VIP = `${subnet}.200`;
const ACCOUNTS = ['kepala', 'guru.bahasa', 'tata-usaha', 'bk_01', 'guru-mtk', 'staf_tu'];
const MAIL = `mail.${DOMAIN}`;
const DEPLOY_TIMEOUT_MS = 1_500_000;

/** What one command in the school's folder did. */
interface CommandResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function inFolder(
  cwd: string,
  command: string,
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd,
      env: { ...process.env, CI: 'true', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('another school: play installed from its tarball, `play init`, and that school deployed on the lab', () => {
  let work: string;
  let project: string;
  let passphraseFile: string;
  let secrets: Record<string, string>;
  const env = () => ({ PLAY_VAULT_PASSWORD_FILE: passphraseFile });
  /** Every secret of the school's vault (and its base64 form) replaced, for failure messages. */
  const scrub = (text: string) =>
    Object.values(secrets ?? {}).reduce(
      (out, value) =>
        out.replaceAll(value, '<secret>').replaceAll(Buffer.from(value).toString('base64'), '<secret-base64>'),
      text,
    );

  /** What each server's postfix, Dovecot and fail2ban logged in the last two minutes about the LAN client, a ban or a fault. */
  const serversSawClient = () =>
    eachLabHostSays(
      sh`journalctl -o short-precise --no-pager --since -120s | grep -E 'postfix|dovecot|fail2ban|play-peer-ban' | grep -F -e ${LAB_CLIENT.address} -e ban -e fatal -e panic -e warning | tail -n 40`,
      ' (journal)',
    );

  beforeAll(async () => {
    // Servers with the site's packages already installed (pre-staged by site.test): Debian's installs are proven
    // there and by Debian 12's site deploy, so this file spends its time on what the school's own project does.
    await freshLab({ from: 'packages' });
    work = mkdtempSync(join(tmpdir(), 'play-another-school-'));
    passphraseFile = join(work, 'vault-passphrase');
    writeFileSync(passphraseFile, `${token()}${token()}\n`, { mode: 0o600 });
  }, 600_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('npm pack; npm install of the tarball in a folder outside the repository; npx play init writes the project and its encrypted vault', async () => {
    execFileSync('npm', ['pack', '--pack-destination', work], { cwd: REPO, stdio: 'ignore' });
    const tarball = join(work, readdirSync(work).find((n) => n.endsWith('.tgz'))!);
    execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], {
      cwd: work,
      stdio: 'ignore',
    });

    const init = await inFolder(work, 'npx', [
      'play',
      'init',
      'smkbakti',
      '--school',
      SCHOOL,
      '--domain',
      DOMAIN,
      '--lan',
      `${subnet}.0/24`,
      '--interface',
      'eth0',
      '--primary',
      PRIMARY.address,
      '--backup',
      BACKUP.address,
      '--vip',
      VIP,
      '--router',
      CONTROLLER_ADDRESS,
      '--dhcp-range',
      `${subnet}.120-${subnet}.180`,
      '--accounts',
      `kepala=Kepala Sekolah,${ACCOUNTS.slice(1).join(',')}`,
      '--ssh-key',
      LAB_KEY,
      '--known-hosts',
      LAB_KNOWN_HOSTS,
      '--vault-password-file',
      passphraseFile,
    ]);
    expect(init.code, init.stderr + init.stdout).toBe(0);
    project = join(work, 'smkbakti');
    for (const file of [
      'package.json',
      'tsconfig.json',
      'inventory/smkbakti.ts',
      'inventory/smkbakti.vault',
      'playbooks/site.ts',
      '.gitignore',
      'README.md',
    ]) {
      expect(statSync(join(project, file)).isFile(), file).toBe(true);
    }
    const vaultText = readFileSync(join(project, 'inventory/smkbakti.vault'), 'utf8');
    secrets = readVault(
      join(project, 'inventory/smkbakti.vault'),
      readFileSync(passphraseFile, 'utf8').replace(/\n$/, ''),
    );
    for (const account of ACCOUNTS) expect(secrets[`account_${account}`], account).toMatch(/^\S{16}$/);
    // Encrypted: no secret is in the committed file.
    for (const value of Object.values(secrets)) expect(vaultText.includes(value)).toBe(false);
    expect(init.stdout + init.stderr).not.toContain(secrets.account_kepala);

    // The school's project depends on play: installed from the same tarball (no registry copy of it is asked for).
    execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], {
      cwd: project,
      stdio: 'ignore',
    });
  }, 600_000);

  it(
    'npx play site deploys it on the pre-staged lab servers with the passphrase from a file',
    async () => {
      const site = await inFolder(project, 'npx', ['play', 'site', '--json'], env());
      let report: { hosts: Record<string, { changed: number; failed: number; unreachable: number }> };
      try {
        report = JSON.parse(site.stdout);
      } catch {
        throw new Error(`no JSON report (exit ${site.code}):\n${scrub(site.stdout)}\n${scrub(site.stderr)}`);
      }
      expect(site.code, scrub(site.stdout + site.stderr)).toBe(0);
      for (const host of ['primary', 'backup']) {
        expect(report.hosts[host]).toMatchObject({ failed: 0, unreachable: 0 });
        expect(report.hosts[host].changed).toBeGreaterThan(50);
      }
    },
    DEPLOY_TIMEOUT_MS,
  );

  it('mail between two of its accounts at the VIP: guru.bahasa sends on 587 (STARTTLS + AUTH); kepala reads it over IMAPS, then bk_01 answers tata-usaha', async () => {
    const send = async (from: string, to: string, subject: string) => {
      const sent = await client([
        'swaks',
        '--server',
        VIP,
        '--port',
        '587',
        '--tls',
        '--helo',
        'client.lab.test',
        '--suppress-data',
        '--auth-hide-password',
        '--auth',
        'LOGIN',
        '--auth-user',
        from,
        '--auth-password',
        secrets[`account_${from}`],
        '--from',
        `${from}@${DOMAIN}`,
        '--to',
        `${to}@${DOMAIN}`,
        '--header',
        `Subject: ${subject}`,
        '--body',
        `Salam dari ${from}.`,
      ]);
      // A refused or cut session says what the servers saw: where the VIP was, and what postfix, Dovecot's auth
      // and fail2ban logged for this client in the last two minutes.
      const servers = sent.code === 0 ? '' : `\n${await keepalivedStory()}\n${await serversSawClient()}`;
      expect(sent.code, scrub(sent.output + servers)).toBe(0);
      expect(sent.output).toMatch(/<~ +250 2\.0\.0 Ok: queued/);
      const [received] = await inbox(VIP, to, ['SUBJECT', subject], 60, secrets[`account_${to}`]);
      expect(received, `${to} got the message from ${from}`).toBeDefined();
      expect(received.from).toContain(`${from}@${DOMAIN}`);
      expect(received.text).toContain(`Salam dari ${from}.`);
    };
    await send('guru.bahasa', 'kepala', `Rapat ${token()}`);
    await send('bk_01', 'tata-usaha', `Data siswa ${token()}`);
  });

  it("webmail in Chromium at the VIP shows that school's name and logs kepala in", async () => {
    const browser = await launchBrowser({ hosts: { [MAIL]: VIP } });
    try {
      const page = await browser.newSession();
      await page.goto(`https://${MAIL}/`);
      expect(await page.title()).toContain(SCHOOL);
      await webmailLogin(page, `https://${MAIL}/`, 'kepala', secrets.account_kepala);
      expect(await page.title()).toContain(SCHOOL);
      await screenshot(page, 'another-school-kepala-inbox');
    } finally {
      await browser.close();
    }
  });

  it(
    'npx play verify site is healthy; a second npx play site changes nothing',
    async () => {
      const verify = await inFolder(project, 'npx', ['play', 'verify', 'site'], env());
      expect(verify.code, scrub(verify.stdout + verify.stderr)).toBe(0);
      expect(verify.stdout).toMatch(/^healthy: \d+ checks ok$/m);
      expect(verify.stdout).toMatch(/^smtp 25 +vip +OK +220 mail\.smkbakti\.sch\.id ESMTP/m);
      const again = await inFolder(project, 'npx', ['play', 'site', '--json'], env());
      expect(again.code, scrub(again.stdout + again.stderr)).toBe(0);
      const report = JSON.parse(again.stdout) as { hosts: Record<string, { changed: number; failed: number }> };
      for (const host of ['primary', 'backup']) expect(report.hosts[host]).toMatchObject({ changed: 0, failed: 0 });
    },
    DEPLOY_TIMEOUT_MS,
  );
});
