import { describe, expect, it } from 'vitest';
import postfix, {
  RATE_LIMIT_CONFIG,
  RATE_LIMIT_DROP_IN,
  RATE_LIMIT_SOCKET,
  RATE_LIMIT_TEXT,
} from '../../../roles/postfix/index.ts';
import { DEBIAN_12, DEBIAN_13, type Platform } from '../../../src/model/platform.ts';
import { FakeHost } from '../support/fake-host.ts';

const vars = {
  ...postfix.defaults,
  schoolName: 'SMK Nurul Huda',
  domain: 'smknh.sch.id',
  accounts: [
    { name: 'kepsek', fullName: 'Kepala Sekolah' },
    { name: 'guru3', fullName: 'Guru 3', sendingLimits: [{ recipients: 10, seconds: 3600 }] },
    { name: 'guru4', fullName: 'Guru 4', sendingLimits: [] },
  ],
  lanAddress: '198.18.30.1',
  peerAddress: '198.18.30.2',
  vip: '198.18.30.254',
} as Parameters<typeof postfix.tasks>[0]['vars'];
const contextOn = (platform: Platform) => ({ host: 'primary', vars, inventory: { hosts: {} }, platform });

/** What a task would write first (a file or template). */
async function written(platform: Platform, name: string): Promise<string> {
  const context = contextOn(platform);
  const task = postfix.tasks(context).find((t) => t.name === name)!;
  const where = { host: 'primary', vars: context.vars, roleDir: postfix.dir };
  await task.op.prepare?.(where);
  const host = new FakeHost();
  await host.gather(task.op.probes());
  const plan = await task.op.plan({ ...host.context(), ...where });
  if (!plan.changed) throw new Error(`${name} writes nothing`);
  const step = plan.steps.find((s) => s.kind === 'write' || (s.kind === 'exec' && s.stdin));
  if (step?.kind === 'write') return step.content.toString();
  return step?.kind === 'exec' ? (step.stdin?.toString() ?? '') : '';
}

/** master.cf's lines of one service (its own line and its -o lines). */
function service(masterCf: string, name: string): string[] {
  const lines = masterCf.split('\n');
  const at = lines.findIndex((l) => l.startsWith(`${name} `));
  const rest = lines.slice(at + 1);
  return [
    lines[at],
    ...rest.slice(
      0,
      rest.findIndex((l) => !l.startsWith('  ')),
    ),
  ];
}

describe('the postfix role: sending limits per login (policyd-rate-limit)', () => {
  it("writes the school's limits, and the accounts' own ones (none is an empty list), as YAML the daemon reads", async () => {
    const yaml = await written(DEBIAN_13, `template ${RATE_LIMIT_CONFIG}`);
    expect(JSON.parse(yaml.match(/^limits: (.*)$/m)![1])).toEqual([
      [300, 3600],
      [1000, 86400],
    ]);
    expect(JSON.parse(yaml.match(/^limits_by_id: (.*)$/m)![1])).toEqual({ guru3: [[10, 3600]], guru4: [] });
    expect(yaml).toMatch(/^limit_by_sasl: True$/m);
    expect(yaml).toMatch(new RegExp(`^SOCKET: "/var/spool/postfix/${RATE_LIMIT_SOCKET}"$`, 'm'));
    expect(yaml).toContain(`fail_action: "defer_if_permit ${RATE_LIMIT_TEXT}"`);
    expect(yaml).toMatch(/^db_error_action: "dunno"$/m);
  });

  it('Debian 13 (policyd-rate-limit 1.2) counts at DATA; Debian 12 (1.0, no count_mode) at RCPT, after the quota check', async () => {
    const yaml13 = await written(DEBIAN_13, `template ${RATE_LIMIT_CONFIG}`);
    const yaml12 = await written(DEBIAN_12, `template ${RATE_LIMIT_CONFIG}`);
    expect(yaml13).toMatch(/^count_mode: 1$/m);
    expect(yaml12).not.toMatch(/count_mode/);
    const set13 = await written(DEBIAN_13, 'config set /etc/postfix');
    const set12 = await written(DEBIAN_12, 'config set /etc/postfix');
    for (const name of ['submission', 'smtps']) {
      expect(service(set13, name)).toContain('  -o smtpd_data_restrictions=$login_rate_check');
      expect(service(set13, name)).toContain(
        '  -o smtpd_recipient_restrictions=$quota_check,permit_sasl_authenticated,reject',
      );
      expect(service(set12, name)).toContain(
        '  -o smtpd_recipient_restrictions=$quota_check,$login_rate_check,permit_sasl_authenticated,reject',
      );
      expect(service(set12, name).join('\n')).not.toContain('smtpd_data_restrictions');
    }
    // Port 25 is limited per client, never per login.
    expect(service(set13, 'smtpd').join('\n')).not.toContain('login_rate_check');
    expect(set13).toMatch(
      /^login_rate_check = check_policy_service \{ unix:ratelimit\/policy, timeout=1s, try_limit=1, default_action=DUNNO \}$/m,
    );
  });

  it("587 and 465 have the TLS of main.cf (what security.test's testssl checks on 465 holds for 587): only STARTTLS's level and 465's wrapper are their own", async () => {
    const set = await written(DEBIAN_13, 'config set /etc/postfix');
    const ownTls = (name: string) => service(set, name).filter((line) => /^ +-o \w*tls/.test(line));
    expect(ownTls('submission')).toEqual(['  -o smtpd_tls_security_level=encrypt', '  -o smtpd_tls_auth_only=yes']);
    expect(ownTls('smtps')).toEqual(['  -o smtpd_tls_wrappermode=yes']);
  });

  it('the daemon runs its limits (handlers flushed) before postfix is pointed at it; systemd restarts it and clears its pid file', async () => {
    const names = postfix.tasks(contextOn(DEBIAN_13)).map((t) => t.name);
    const started = names.indexOf('service policyd-rate-limit');
    expect(names.indexOf(`template ${RATE_LIMIT_CONFIG}`)).toBeLessThan(started);
    expect(names[started + 1]).toBe('flush handlers');
    expect(started).toBeLessThan(names.indexOf('config set /etc/postfix'));
    const dropIn = await written(DEBIAN_13, `file ${RATE_LIMIT_DROP_IN}`);
    expect(dropIn).toMatch(/^Restart=always$/m);
    expect(dropIn).toMatch(/^RuntimeDirectory=policyd-rate-limit$/m);
    const handlers = postfix.handlers!(contextOn(DEBIAN_13)).map((t) => t.name);
    expect(handlers.indexOf('reload systemd for the rate limiter')).toBeLessThan(
      handlers.indexOf('restart policyd-rate-limit'),
    );
  });
});
