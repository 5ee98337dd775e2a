import { writeFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { sh } from '../../src/connection/sh.ts';
import inventory from '../../inventory/lab.ts';
import type { ProbeResult } from '../../roles/common/service-probe.ts';
import { LAB_VIP } from '../lab/config.ts';
import { launchBrowser } from '../e2e/support/browser.ts';
import { holdsVip, stdoutOf } from '../e2e/support/hosts.ts';
import { onHost } from '../lab/faults.ts';
import { probeFromClient } from '../e2e/support/probe.ts';
import { freshLab } from '../e2e/support/lab.ts';
import { ACCOUNTS, password, py, scrub, token } from '../e2e/support/mail-client.ts';
import { play, playJson } from '../e2e/support/play.ts';
import { watchFromClient } from '../e2e/support/probe.ts';
import { until } from '../e2e/support/wait.ts';
import { webmailAddContact, webmailContactNames, webmailLogin } from '../e2e/support/webmail.ts';

const UPGRADE = ['playbooks/upgrade.ts', '-i', 'inventory/lab.ts'];
const SITE = ['playbooks/site.ts', '-i', 'inventory/lab.ts'];
const { domain } = inventory.groups!.servers.vars as { domain: string };
const WEBMAIL = `https://mail.${domain}/`;
const SERVERS = ['primary', 'backup'] as const;

/** Every stretch (ms) from a failed probe's start until a later probe answered, with when it began (Unix ms). */
function gaps(results: readonly ProbeResult[]): { ms: number; at: number }[] {
  const started = (r: ProbeResult) => (r.at ?? 0) * 1000;
  const found: { ms: number; at: number }[] = [];
  let since: number | undefined;
  for (const r of [...results].sort((a, b) => started(a) - started(b))) {
    if (!r.ok) since ??= started(r);
    else if (since !== undefined) {
      found.push({ ms: Math.round(started(r) + r.ms - since), at: since });
      since = undefined;
    }
  }
  return found;
}

/** The Message-IDs of the messages whose subject holds `subject` in an account's INBOX on a server, as Dovecot has them. */
async function messageIds(host: string, account: string, subject: string): Promise<string[]> {
  const out = await stdoutOf(
    host,
    sh`doveadm fetch -u ${account} hdr.message-id mailbox INBOX header subject ${subject} 2>/dev/null || true`,
  );
  return out
    .split('\n')
    .filter((l) => l.startsWith('hdr.message-id:'))
    .map((l) => l.slice('hdr.message-id:'.length).trim());
}

/** An account's address book at the VIP, in the browser. */
async function contactsAtVip(account: string, add?: { firstName: string; surname: string }): Promise<string[]> {
  const lab = await launchBrowser({ hosts: { [`mail.${domain}`]: LAB_VIP } });
  try {
    const page = await lab.newSession();
    await webmailLogin(page, WEBMAIL, account, password(account));
    if (add) await webmailAddContact(page, WEBMAIL, { ...add, email: `${add.firstName}@example.org` });
    return await webmailContactNames(page, WEBMAIL);
  } finally {
    await lab.close();
  }
}

describe('npx play upgrade: a Debian 12 pair to Debian 13 while the school mails', () => {
  beforeAll(async () => {
    if (process.env.PLAY_LAB_DEBIAN !== '12')
      throw new Error('the upgrade test starts from Debian 12: PLAY_LAB_DEBIAN=12');
    await freshLab({ from: 'site' });
  });

  /** Nothing of the upgrade has happened on either server: no move began, keepalived as deployed, the VIP on the primary. */
  async function untouched(): Promise<void> {
    for (const host of SERVERS) {
      expect(await stdoutOf(host, sh`grep ^VERSION_ID= /etc/os-release`), host).toBe('VERSION_ID="12"\n');
      expect((await onHost(host, sh`test -e /var/lib/play/release-upgrade`)).exitCode, host).not.toBe(0);
      expect(await stdoutOf(host, sh`systemctl is-enabled keepalived; systemctl is-active keepalived`), host).toBe(
        'enabled\nactive\n',
      );
    }
    expect(await holdsVip('primary')).toBe(true);
    const [smtp] = await probeFromClient({ timeout: 2, checks: [{ kind: 'smtp', host: LAB_VIP, port: 25 }] });
    expect(smtp.ok, smtp.detail).toBe(true);
  }

  it('a preflight that fails (a small disk where apt downloads, a held package): exit 1, each problem named, nothing changed', async () => {
    await stdoutOf(
      'backup',
      sh`mount -t tmpfs -o size=50m tmpfs /var/cache/apt/archives && apt-mark hold dovecot-core`,
    );
    try {
      const run = await play(UPGRADE);
      expect(run.code, run.stdout).toBe(1);
      expect(run.stdout).toContain('backup cannot move to Debian 13 yet (nothing was changed): only');
      expect(run.stdout).toMatch(/only \d+ MB free in \/var\/cache\/apt\/archives \(the upgrade needs 2000 MB\)/);
      expect(run.stdout).toContain('held packages would block the upgrade: dovecot-core');
      expect(run.stdout).toMatch(/primary \| ok \| ready for Debian 13/);
      expect(run.stdout).toMatch(/STOPPED in play \[preflight\]/);
      expect((await onHost('backup', sh`test -e /var/lib/play/backed-up-before-trixie`)).exitCode).not.toBe(0);
      await untouched();
    } finally {
      await stdoutOf('backup', sh`apt-mark unhold dovecot-core; umount /var/cache/apt/archives`);
    }
  });

  it("the backup server's apt fails: the run stops naming the server, the step and the log; the primary keeps the VIP and serves", async () => {
    await stdoutOf(
      'backup',
      sh`echo 'DPkg::Pre-Invoke { "echo play-test: dpkg refused >&2; false"; };' > /etc/apt/apt.conf.d/99play-test-fail`,
    );
    try {
      const run = await play(UPGRADE);
      expect(run.code, run.stdout).toBe(1);
      expect(run.stdout).toContain('backup › apt to Debian 13');
      expect(run.stdout).toContain('the move to Debian 13 failed: apt did not finish');
      expect(run.stdout).toContain('the whole output is in /var/log/play/release-upgrade.log on this server');
      expect(run.stdout).toMatch(/STOPPED in play \[backup: to Debian 13\]: backup failed.*primary not touched/);
      expect(await stdoutOf('primary', sh`grep ^VERSION_ID= /etc/os-release`)).toBe('VERSION_ID="12"\n');
      expect(await holdsVip('primary')).toBe(true);
      const [smtp] = await probeFromClient({ timeout: 2, checks: [{ kind: 'smtp', host: LAB_VIP, port: 25 }] });
      expect(smtp.ok, smtp.detail).toBe(true);
    } finally {
      await stdoutOf('backup', sh`rm -f /etc/apt/apt.conf.d/99play-test-fail`);
    }
  });

  it('the controller killed while the backup server is mid-upgrade: the apt steps go on without it', async () => {
    let kill: (() => void) | undefined;
    const killed = play(UPGRADE, { onStdout: (_, k) => (kill = k) });
    await until(
      "the backup server's apt steps running",
      async () =>
        (await onHost('backup', sh`p=$(cat /var/lib/play/release-upgrade/running) && kill -0 "$p"`)).exitCode === 0,
      600_000,
      { intervalMs: 1000 },
    );
    kill!();
    expect((await killed).code).toBeNull();
    // apt is not a child of the dead controller's session: it still runs on the server.
    await new Promise((r) => setTimeout(r, 5000));
    expect((await onHost('backup', sh`p=$(cat /var/lib/play/release-upgrade/running) && kill -0 "$p"`)).exitCode).toBe(
      0,
    );
  });

  it('the next run resumes and upgrades both servers one at a time: no message lost or doubled, the VIP answers throughout, the webmail data stays', async () => {
    const run = token();
    const stop = `/tmp/play-upgrade-test-${run}.stop`;
    const contact = { firstName: `Upgrade${run.slice(0, 6)}`, surname: 'Kontak' };
    expect(await contactsAtVip('guru3', contact)).toContain(`${contact.firstName} ${contact.surname}`);

    // The school at work: banners and IMAPS logins at the VIP every 200 ms, a message a second, a mail program idling.
    const probes = watchFromClient(
      [
        { kind: 'smtp', label: 'smtp vip', host: LAB_VIP, port: 25 },
        {
          kind: 'imap',
          label: 'imaps vip',
          host: LAB_VIP,
          port: 993,
          tls: true,
          user: 'kepsek',
          password: password('kepsek'),
        },
      ],
      { every: 0.2, timeout: 2, forSeconds: 7200 },
    );
    const subject = `Upgrade ${run}`;
    const sending = py<{ sent: { subject: string; to: string; at: number; attempts: number }[] }>(
      {
        op: 'send-many',
        host: LAB_VIP,
        user: 'guru1',
        password: password('guru1'),
        from: `guru1@${domain}`,
        to: ACCOUNTS.map((a) => `${a}@${domain}`),
        subject,
        count: 7200,
        interval: 1,
        stop_file: stop,
      },
      { timeoutMs: 7_500_000 },
    );
    const idling = py<{
      drops: { at: number; why: string; back: number | null }[];
      exists: number[];
      sessions: number;
    }>(
      { op: 'idle-watch', host: LAB_VIP, user: 'guru2', password: password('guru2'), stop_file: stop },
      { timeoutMs: 7_500_000 },
    );

    let shown = 0;
    const upgraded = await play(UPGRADE, {
      onStdout: (text) => {
        process.stdout.write(text.slice(shown));
        shown = text.length;
      },
    });
    writeFileSync(stop, '');
    const { sent } = await sending;
    const idle = await idling;
    const results = await probes.stop();
    expect(upgraded.code, scrub(upgraded.stdout + upgraded.stderr)).toBe(0);

    for (const host of SERVERS)
      expect(await stdoutOf(host, sh`grep ^VERSION_ID= /etc/os-release`), host).toBe('VERSION_ID="13"\n');

    // Every accepted message once on each server, none lost and none twice.
    const expected = new Map<string, number>();
    for (const m of sent) expected.set(m.to.split('@')[0], (expected.get(m.to.split('@')[0]) ?? 0) + 1);
    for (const host of SERVERS)
      for (const account of ACCOUNTS) {
        let ids: string[] = [];
        await until(
          `${account}'s ${expected.get(account) ?? 0} messages on ${host}`,
          async () => {
            ids = await messageIds(host, account, subject);
            return ids.length >= (expected.get(account) ?? 0);
          },
          180_000,
          { intervalMs: 2000 },
        ).catch(() => undefined);
        expect(new Set(ids).size, `${account} on ${host}: lost`).toBe(expected.get(account) ?? 0);
        expect(ids.length, `${account} on ${host}: twice`).toBe(new Set(ids).size);
      }

    const smtp = gaps(results.filter((r) => r.label === 'smtp vip'));
    const imaps = gaps(results.filter((r) => r.label === 'imaps vip'));
    const figures = {
      upgradeSeconds: Math.round((Date.now() - results[0].at! * 1000) / 1000),
      messagesSent: sent.length,
      retriedSends: sent.filter((m) => m.attempts > 1).length,
      smtpGapsMs: smtp.map((g) => g.ms),
      imapsGapsMs: imaps.map((g) => g.ms),
      idle: {
        sessions: idle.sessions,
        drops: idle.drops.map((d) => ({
          why: d.why,
          backAfterMs: d.back === null ? null : Math.round((d.back - d.at) * 1000),
        })),
        exists: idle.exists.length,
      },
    };
    console.log(`upgrade figures: ${JSON.stringify(figures)}`);
    for (const gap of smtp)
      expect(gap.ms, `SMTP banner gap at ${new Date(gap.at).toISOString()}`).toBeLessThanOrEqual(2000);
    for (const drop of idle.drops) expect(drop.back, `IDLE session dropped (${drop.why}) and not back`).not.toBeNull();
    expect(idle.exists.length).toBeGreaterThan(0);

    // The site as deployed on Debian 13: nothing left to change, and healthy.
    const again = await playJson(SITE);
    expect(again.code, scrub(again.stdout)).toBe(0);
    for (const host of SERVERS) expect(again.report.hosts[host].changed, host).toBe(0);
    const verify = await play(['verify', ...SITE]);
    expect(verify.code, verify.stdout).toBe(0);
    expect(await contactsAtVip('guru3')).toContain(`${contact.firstName} ${contact.surname}`);
  });
});
