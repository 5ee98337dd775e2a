import { command, configSet, defineRole, link, packages, service, sh, Type, type ShellCommand } from 'play';
import { SchoolVars } from '../common/school.ts';
import { TLS12_CIPHERS, TlsFilesVars } from '../tls/index.ts';
import { certificateAndKeyFiles } from '../common/certificate-files.ts';

/** Where the school's shared certificate and key live (the same paths as the tls role's). */
export function certificatePaths(domain: string): { certificate: string; key: string } {
  return { certificate: `/etc/ssl/certs/${domain}-mail.pem`, key: `/etc/ssl/private/${domain}-mail.key` };
}

/** Apache's configuration folder: the tree its config set stages whole. */
export const APACHE_DIR = '/etc/apache2';

/** Apache answers an HTTPS request for the site on loopback port 443 (TLS with its name, then a status line). */
export function httpsAnswerProbe(serverName: string): ShellCommand {
  return sh`printf 'HEAD / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' ${serverName} | timeout 5 openssl s_client -quiet -connect 127.0.0.1:443 -servername ${serverName} 2>/dev/null | head -n 1 | grep -Eq '^HTTP/1\.1 [0-9]{3} '`;
}

/** The modules the mail site needs, enabled with a2enmod (its dependencies too, e.g. socache_shmcb for ssl). */
const MODULES = ['ssl', 'http2', 'rewrite', 'headers'];

/** The Content-Security-Policy of the mail site: what Roundcube 1.6 (elastic) needs, nothing more (see mail.conf). */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  // Roundcube runs what its AJAX answers carry through eval() (app.js: eval(response.exec)): the message list needs it.
  "script-src 'self' 'unsafe-inline' 'unsafe-eval'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "frame-src 'self' blob:",
  "frame-ancestors 'self'",
  "form-action 'self'",
  "base-uri 'self'",
  "object-src 'none'",
].join('; ');

/**
 * The school's mail site on apache2: HTTP only redirects (301) to HTTPS on `mail.<domain>`; HTTPS with the
 * school's certificate, TLS 1.2 minimum and HTTP/2 serves Roundcube at the root. The Debian default site is
 * disabled and the mail site enabled (`sites-enabled` links, what a2dissite/a2ensite do). mpm_event is kept:
 * HTTP/2 is inactive under mpm_prefork, which is why PHP runs through php-fpm (role roundcube), not mod_php.
 */
export default defineRole({
  name: 'apache',
  dir: import.meta.dirname,
  schema: Type.Composite([
    Type.Pick(SchoolVars, ['domain']),
    TlsFilesVars,
    Type.Object({
      /** Write the certificate and key here (the tls role writes the same files, identically). */
      manageCertificate: Type.Boolean(),
      documentRoot: Type.String({ pattern: '^/' }),
      /** Strict-Transport-Security max-age in seconds; 0 sends no header. */
      hstsMaxAge: Type.Integer({ minimum: 0 }),
    }),
  ]),
  defaults: { manageCertificate: true, documentRoot: '/var/lib/roundcube/public_html', hstsMaxAge: 15_552_000 },
  check(vars) {
    const issues: { path: string; message: string }[] = [];
    if (!/-----BEGIN CERTIFICATE-----/.test(vars.tlsCertificate.reveal()))
      issues.push({ path: 'vars.tlsCertificate', message: 'must be a PEM certificate' });
    if (!/-----BEGIN ([A-Z]+ )?PRIVATE KEY-----/.test(vars.tlsKey.reveal()))
      issues.push({ path: 'vars.tlsKey', message: 'must be a PEM private key' });
    return issues;
  },
  tasks: ({ vars }) => {
    const paths = certificatePaths(vars.domain);
    const serverName = `mail.${vars.domain}`;
    return [
      packages({ names: ['apache2', 'ssl-cert'] }),
      // An MPM change needs a full restart; HTTP/2 needs event (Debian's default), never prefork. PHP runs in php-fpm:
      // mod_php, which needs prefork, is disabled first where a package enabled it (apt took libapache2-mod-php8.4
      // for Roundcube's php dependency when a Debian 12 server moved to 13, and it enabled prefork).
      command({
        cmd: sh`for m in /etc/apache2/mods-enabled/php*.load /etc/apache2/mods-enabled/mpm_prefork.load /etc/apache2/mods-enabled/mpm_worker.load; do [ -e "$m" ] && a2dismod -q -f "$(basename "$m" .load)"; done; a2enmod -q mpm_event`,
        creates: '/etc/apache2/mods-enabled/mpm_event.load',
        notify: 'restart apache2',
      }),
      ...MODULES.map((module) =>
        command({
          cmd: sh`a2enmod -q ${module}`,
          creates: `/etc/apache2/mods-enabled/${module}.load`,
          notify: 'reload apache2',
        }),
      ),
      ...(vars.manageCertificate
        ? [
            ...certificateAndKeyFiles({
              certificate: {
                path: paths.certificate,
                content: vars.tlsCertificate,
                mode: '0644',
                owner: 'root',
                group: 'root',
              },
              key: { path: paths.key, content: vars.tlsKey, mode: '0640', owner: 'root', group: 'ssl-cert' },
              notify: 'reload apache2',
            }),
          ]
        : []),
      link({
        path: '/etc/apache2/sites-enabled/mail.conf',
        target: '../sites-available/mail.conf',
        notify: 'reload apache2',
      }),
      link({ path: '/etc/apache2/sites-enabled/000-default.conf', state: 'absent', notify: 'reload apache2' }),
      // The mail site is a config set of the whole of /etc/apache2 (its links are made just before, so the set's
      // reload is the one that enables it): checked in place by `apache2ctl configtest`, reloaded (apache2ctl
      // graceful), probed with an HTTPS request for the site, and rolled back if apache does not take it. A
      // hand-broken live copy of the site does not refuse a good new one: the staged copy replaces it.
      configSet({
        tree: APACHE_DIR,
        files: [
          {
            path: `${APACHE_DIR}/sites-available/mail.conf`,
            src: 'mail.conf.ejs',
            mode: '0644',
            vars: {
              serverName,
              serverAliases: [`webmail.${vars.domain}`, `www.${vars.domain}`],
              certificatePath: paths.certificate,
              contentSecurityPolicy: CONTENT_SECURITY_POLICY,
              tls12Ciphers: TLS12_CIPHERS,
              keyPath: paths.key,
            },
          },
        ],
        checkInPlace: true,
        validate: () => sh`apache2ctl configtest`,
        activate: sh`systemctl reload-or-restart apache2`,
        health: httpsAnswerProbe(serverName),
        healthSeconds: 10,
      }),
      service({ name: 'apache2', state: 'started', enabled: true }),
    ];
  },
  handlers: () => [
    service({ taskName: 'restart apache2', name: 'apache2', state: 'restarted' }),
    service({ taskName: 'reload apache2', name: 'apache2', state: 'reloaded' }),
  ],
});
