import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import dovecot, {
  DOVECOT_STOP_SECONDS,
  KEEPALIVE_SYSCTL,
  MAILSYNC_UNIT,
  REPLICATION_BACKEND_SOCKET,
  REPLICATION_RETRY_TIMER,
  REPLICATION_TLS_CONFIG,
  REPLICATION_TLS_UNIT,
  STOP_DROP_IN,
  TCP_KEEPALIVE,
} from '../../../roles/dovecot/index.ts';
import { MAILSYNC } from '../../../roles/dovecot/replicator-status.ts';
import { DEBIAN_12, DEBIAN_13 } from '../../../src/model/platform.ts';
import { secret } from '../../../src/secret.ts';
import { FakeHost } from '../support/fake-host.ts';

const vars = {
  ...dovecot.defaults,
  schoolName: 'SMK Nurul Huda',
  domain: 'smknh.sch.id',
  accounts: [{ name: 'kepsek', fullName: 'Kepala Sekolah', state: 'present' }],
  replication: false,
} as Parameters<typeof dovecot.tasks>[0]['vars'];
const context = { host: 'primary', vars, inventory: { hosts: {} }, platform: DEBIAN_12 };

describe('the dovecot role', () => {
  it('bounds a stop at DOVECOT_STOP_SECONDS with a drop-in that systemd applies at once, before any task that restarts Dovecot', async () => {
    const names = dovecot.tasks(context).map((t) => t.name);
    const dropIn = names.indexOf(`file ${STOP_DROP_IN}`);
    expect(dropIn).toBeGreaterThanOrEqual(0);
    expect(names[dropIn + 1]).toBe('systemd applies the stop bound');
    expect(dropIn).toBeLessThan(names.findIndex((n) => n.startsWith('config set ')));
    const task = dovecot.tasks(context)[dropIn];
    // Reloaded unless systemd already shows the bound: the package may have been installed before or after.
    const bound = '[ "$(systemctl show -p TimeoutStopUSec --value dovecot.service)" = 10s ]';
    const applies = (yes: boolean) =>
      new FakeHost({ onCommand: (c) => (c.text === bound ? { exitCode: yes ? 0 : 1 } : undefined) });
    const reload = await applies(false).plan(dovecot.tasks(context)[dropIn + 1]);
    expect(reload.changed && reload.steps.map((s) => s.kind === 'exec' && s.command.text)).toEqual([
      'systemctl daemon-reload',
    ]);
    expect((await applies(true).plan(dovecot.tasks(context)[dropIn + 1])).changed).toBe(false);
    const plan = await new FakeHost().plan(task);
    expect(plan.changed && plan.steps[0].kind === 'write' && plan.steps[0].content.toString()).toMatch(
      new RegExp(`^\\[Service\\]\\nTimeoutStopSec=${DOVECOT_STOP_SECONDS}s$`, 'm'),
    );
  });

  it('reloads systemd before it restarts Dovecot, so a restart runs with the drop-in just written', () => {
    const handlers = dovecot.handlers!(context).map((t) => t.name);
    expect(handlers.indexOf('reload systemd')).toBeLessThan(handlers.indexOf('restart dovecot'));
  });

  it('with replication, sets the kernel TCP keepalive to notice a dead peer in about a minute, and applies it at once unless the kernel already has it', async () => {
    const replicating = {
      ...context,
      vars: {
        ...vars,
        replication: true,
        lanAddress: '198.18.30.1',
        peerAddress: '198.18.30.2',
        doveadmPassword: secret('pw'),
        replicationCertificate: secret('cert'),
        replicationKey: secret('key'),
      },
    };
    const tasks = dovecot.tasks(replicating);
    const names = tasks.map((t) => t.name);
    const at = names.indexOf(`file ${KEEPALIVE_SYSCTL}`);
    expect(at).toBeGreaterThanOrEqual(0);
    expect(names[at + 1]).toBe('the kernel applies the replication keepalive');
    expect(at).toBeLessThan(names.findIndex((n) => n.startsWith('config set ')));
    const plan = await new FakeHost().plan(tasks[at]);
    const content = plan.changed && plan.steps[0].kind === 'write' ? plan.steps[0].content.toString() : '';
    const settings = Object.fromEntries(
      [...content.matchAll(/^(net\.ipv4\.\S+) = (\d+)$/gm)].map((m) => [m[1], Number(m[2])]),
    );
    expect(settings).toEqual({
      'net.ipv4.tcp_keepalive_time': 30,
      'net.ipv4.tcp_keepalive_intvl': 10,
      'net.ipv4.tcp_keepalive_probes': 3,
    });
    // Real kernel settings (as this machine's kernel names them), and a dead peer noticed within about a minute.
    for (const key of Object.keys(settings))
      expect(existsSync(`/proc/sys/${key.replaceAll('.', '/')}`), key).toBe(true);
    expect(TCP_KEEPALIVE.time + TCP_KEEPALIVE.intvl * TCP_KEEPALIVE.probes).toBeLessThanOrEqual(60);
    const unless =
      "[ \"$(sysctl -n net.ipv4.tcp_keepalive_time net.ipv4.tcp_keepalive_intvl net.ipv4.tcp_keepalive_probes | tr '\\n' ' ')\" = '30 10 3 ' ]";
    const has = (yes: boolean) =>
      new FakeHost({ onCommand: (c) => (c.text === unless ? { exitCode: yes ? 0 : 1 } : undefined) });
    const apply = await has(false).plan(tasks[at + 1]);
    expect(apply.changed && apply.steps.map((s) => s.kind === 'exec' && s.command.text)).toEqual([
      `sysctl -q -p ${KEEPALIVE_SYSCTL}`,
    ]);
    expect((await has(true).plan(tasks[at + 1])).changed).toBe(false);
  });

  describe('on each release', () => {
    const replicating = (platform: typeof DEBIAN_12) => ({
      ...context,
      platform,
      vars: {
        ...vars,
        replication: true,
        lanAddress: '198.18.30.1',
        peerAddress: '198.18.30.2',
        doveadmPassword: secret('pw'),
        replicationCertificate: secret('cert'),
        replicationKey: secret('key'),
      },
    });
    /**
     * Every file of the role's config set as it renders them for a release (prepared as the engine does, before any
     * host), one after the other as they travel; dovecot.conf is the last.
     */
    const renderedSet = async (platform: typeof DEBIAN_12, changes: Partial<typeof vars> = {}) => {
      const context = { ...replicating(platform), vars: { ...replicating(platform).vars, ...changes } };
      const task = dovecot.tasks(context).find((t) => t.name.startsWith('config set '))!;
      const where = { host: 'primary', vars: context.vars, roleDir: dovecot.dir };
      await task.op.prepare?.(where);
      const host = new FakeHost();
      await host.gather(task.op.probes());
      const plan = await task.op.plan({ ...host.context(), ...where });
      // The set's files travel in its one command's stdin.
      const sent = plan.changed
        ? plan.steps.map((step) => (step.kind === 'exec' ? (step.stdin?.toString() ?? '') : '')).join('')
        : '';
      expect(sent).toContain('# Managed by play (role dovecot): the whole configuration');
      return sent;
    };
    /** dovecot.conf as the role's config set renders it for a release. */
    const renderedConf = async (platform: typeof DEBIAN_12) => {
      const sent = await renderedSet(platform);
      return sent.slice(sent.indexOf('# Managed by play (role dovecot): the whole configuration'));
    };

    it('Debian 12: the 2.3 configuration and its replicator, retried by the timer; no play-mailsync', async () => {
      const names = dovecot.tasks(replicating(DEBIAN_12)).map((t) => t.name);
      expect(names).toContain(`service ${REPLICATION_RETRY_TIMER}`);
      expect(names.some((n) => n.includes(MAILSYNC) || n.includes(MAILSYNC_UNIT))).toBe(false);
      const conf = await renderedConf(DEBIAN_12);
      expect(conf).toMatch(/^mail_location = maildir:~\/Maildir$/m);
      expect(conf).toMatch(/^mail_plugins = \$mail_plugins notify replication$/m);
    });

    it('Debian 13: the 2.4 configuration, and play-mailsync installed, its sockets and daemon started; no retry timer', async () => {
      const names = dovecot.tasks(replicating(DEBIAN_13)).map((t) => t.name);
      expect(names).toContain(`copy ${MAILSYNC}`);
      expect(names).toContain('service play-mailsync-events.socket');
      expect(names).toContain('service play-mailsync-control.socket');
      // The daemon starts after Dovecot has its configuration (its syncs read the TLS client settings from it).
      expect(names.indexOf(`service ${MAILSYNC_UNIT}`)).toBeGreaterThan(
        names.findIndex((n) => n.startsWith('config set ')),
      );
      expect(names).not.toContain(`service ${REPLICATION_RETRY_TIMER}`);
      const conf = await renderedConf(DEBIAN_13);
      // Dovecot 2.4 refuses a configuration whose first setting is not its version.
      expect(conf.split('\n').find((line) => line !== '' && !line.startsWith('#'))).toMatch(
        /^dovecot_config_version = 2\.4\./,
      );
      expect(conf).toMatch(/^event_exporter mailsync \{$/m);
      expect(conf).not.toMatch(/^(service (replicator|aggregator) \{|replication_)/m);
      expect(conf).not.toMatch(/^\s*(notify|replication) = yes$/m);
    });

    it.each([
      ['12', DEBIAN_12, 'userdb_quota_rule=*:storage=2G', 'userdb_quota_rule=*:storage=20M'],
      ['13', DEBIAN_13, 'userdb_quota_storage_size=2G', 'userdb_quota_storage_size=20M'],
    ])(
      "Debian %s: quotas from the user list (the school default, or the account's own), quota-status for postfix, lazy_expunge for imap only",
      async (_release, platform, school, own) => {
        const accounts = [
          { name: 'kepsek', fullName: 'Kepala Sekolah' },
          { name: 'guru4', fullName: 'Guru 4', quota: '20M' },
        ];
        const sent = await renderedSet(platform, { accounts });
        expect(sent).toContain(`kepsek::kepsek:kepsek::/home/kepsek::${school}\n`);
        expect(sent).toContain(`guru4::guru4:guru4::/home/guru4::${own}\n`);
        expect(sent).toMatch(
          /service quota-status \{\n {2}executable = quota-status -p postfix\n {2}unix_listener \/var\/spool\/postfix\/private\/quota-status \{/,
        );
        expect(sent).toContain('"552 5.2.2 Mailbox is full"');
        if (platform === DEBIAN_12) {
          // The global plugins come after the replication plugins; imap adds its own last.
          expect(sent.indexOf('mail_plugins = $mail_plugins quota')).toBeGreaterThan(
            sent.indexOf('mail_plugins = $mail_plugins notify replication'),
          );
          expect(sent).toMatch(
            /^protocol imap \{\n {2}mail_plugins = \$mail_plugins imap_quota lazy_expunge acl\n\}\n?$/m,
          );
          expect(sent).toContain('EXPUNGED owner rwstipekxa\n');
          expect(sent).toContain('quota = count:User quota:noenforcing');
        } else {
          expect(sent).toMatch(/mail_plugins \{\n {4}lazy_expunge = yes\n {4}acl = yes\n {2}\}/);
          expect(sent).toMatch(/^lazy_expunge_mailbox = EXPUNGED$/m);
          expect(sent).toMatch(/^protocol doveadm \{\n {2}quota_enforce = no\n\}$/m);
        }
      },
    );

    it("Debian 13: stunnel holds the replication port and refuses any client certificate but the replication one; Dovecot's doveadm server is behind it on a root-only socket that still asks for the secret", async () => {
      const tasks = dovecot.tasks(replicating(DEBIAN_13));
      const names = tasks.map((t) => t.name);
      expect(names).toContain('package stunnel4');
      const configSet = names.findIndex((n) => n.startsWith('config set '));
      // Started once dovecot.conf names the socket it connects to, and before play-mailsync's first syncs.
      expect(names.indexOf(`service ${REPLICATION_TLS_UNIT}`)).toBeGreaterThan(configSet);
      expect(names.indexOf(`service ${REPLICATION_TLS_UNIT}`)).toBeLessThan(names.indexOf(`service ${MAILSYNC_UNIT}`));
      const task = tasks.find((t) => t.name === `template ${REPLICATION_TLS_CONFIG}`)!;
      const where = { host: 'primary', vars: replicating(DEBIAN_13).vars, roleDir: dovecot.dir };
      await task.op.prepare?.(where);
      const host = new FakeHost();
      await host.gather(task.op.probes());
      const plan = await task.op.plan({ ...host.context(), ...where });
      const stunnel = plan.changed && plan.steps[0].kind === 'write' ? plan.steps[0].content.toString() : '';
      const settings = Object.fromEntries([...stunnel.matchAll(/^(\w+) = (.*)$/gm)].map((m) => [m[1], m[2]]));
      expect(settings).toMatchObject({
        foreground: 'yes',
        accept: '198.18.30.1:12345',
        connect: REPLICATION_BACKEND_SOCKET,
        verifyPeer: 'yes',
        sslVersionMin: 'TLSv1.3',
        cert: '/etc/dovecot/replication/certificate.pem',
        CAfile: '/etc/dovecot/replication/certificate.pem',
        key: '/etc/dovecot/replication/key.pem',
      });
      const conf = await renderedConf(DEBIAN_13);
      expect(conf).not.toMatch(/inet_listener replication/);
      const listener = /unix_listener (\S+) \{\n\s+mode = (\d+)\n\s+user = (\S+)\n\s+group = (\S+)\n/.exec(
        conf.slice(conf.indexOf('service doveadm {')),
      );
      // Not 0600: Dovecot takes a 0600 doveadm socket for pre-authenticated, and would not ask for the secret.
      expect(listener?.slice(1)).toEqual([REPLICATION_BACKEND_SOCKET.split('/').at(-1), '0660', 'root', 'root']);
    });

    it('refuses a replication sync timeout on Debian 13, where no replicator waits', () => {
      const withTimeout = { ...replicating(DEBIAN_13).vars, replicationSyncTimeout: 5 };
      expect(dovecot.check!(withTimeout, DEBIAN_13).map((i) => i.path)).toContain('vars.replicationSyncTimeout');
      expect(dovecot.check!(withTimeout, DEBIAN_12).map((i) => i.path)).not.toContain('vars.replicationSyncTimeout');
    });
  });
});
