import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAIL_STACK_SERVICES, TRACK_PROBE_TIMEOUT, trackChecks } from '../../../roles/keepalived/index.ts';
import { renderTemplate } from '../../../src/render/template.ts';

describe('the keepalived role', () => {
  it('tracks the mail stack at the protocol level on 127.0.0.1: SMTP banner and EHLO, an IMAPS greeting, the mail site over HTTPS', () => {
    expect(trackChecks(MAIL_STACK_SERVICES, 'mail.smknh.sch.id')).toEqual([
      { kind: 'smtp', label: 'smtp 25', host: '127.0.0.1', port: 25 },
      { kind: 'imap', label: 'imaps 993', host: '127.0.0.1', port: 993, tls: true },
      { kind: 'https', label: 'https 443', host: '127.0.0.1', port: 443, servername: 'mail.smknh.sch.id', path: '/' },
    ]);
    expect(trackChecks([{ name: 'sshd', port: 22, protocol: 'banner', expect: 'SSH-2.0-' }], 'x')).toEqual([
      { kind: 'banner', label: 'sshd 22', host: '127.0.0.1', port: 22, expect: 'SSH-2.0-' },
    ]);
  });

  it('its track script is valid bash that hands the probe its request on stdin', () => {
    const request = JSON.stringify({
      timeout: TRACK_PROBE_TIMEOUT,
      syslog: 'keepalived-check',
      checks: trackChecks(MAIL_STACK_SERVICES, 'mail.x'),
    });
    const template = join(import.meta.dirname, '../../../roles/keepalived/templates/check-services.sh.ejs');
    const script = renderTemplate(template, {
      trackServices: MAIL_STACK_SERVICES,
      probePath: '/usr/local/lib/play/service-probe',
      timeout: TRACK_PROBE_TIMEOUT,
      request,
    });
    expect(spawnSync('bash', ['-n'], { input: script }).status).toBe(0);
    expect(script).toContain(
      `exec /usr/bin/python3 -I /usr/local/lib/play/service-probe >/dev/null <<'REQUEST'\n${request}\nREQUEST\n`,
    );
  });
});
