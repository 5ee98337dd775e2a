import { command, defineRole, file, link, packages, SecretType, service, sh, template, Type } from 'play';
import { SchoolVars } from '../common/school.ts';
import { TLS12_CIPHERS } from '../tls/index.ts';

/** Where the school's shared certificate and key live (the same paths as the tls role's). */
export function certificatePaths(domain: string): { certificate: string; key: string } {
  return { certificate: `/etc/ssl/certs/${domain}-mail.pem`, key: `/etc/ssl/private/${domain}-mail.key` };
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
    Type.Object({
      tlsCertificate: SecretType(),
      tlsKey: SecretType(),
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
    if (!/-----BEGIN CERTIFICATE-----/.test(vars.tlsCertificate.reveal())) issues.push({ path: 'vars.tlsCertificate', message: 'must be a PEM certificate' });
    if (!/-----BEGIN ([A-Z]+ )?PRIVATE KEY-----/.test(vars.tlsKey.reveal())) issues.push({ path: 'vars.tlsKey', message: 'must be a PEM private key' });
    return issues;
  },
  tasks: ({ vars }) => {
    const paths = certificatePaths(vars.domain);
    const serverName = `mail.${vars.domain}`;
    return [
      packages({ names: ['apache2', 'ssl-cert'] }),
      // An MPM change needs a full restart; HTTP/2 needs event (Debian's default), never prefork.
      command({ cmd: sh`a2enmod -q mpm_event`, creates: '/etc/apache2/mods-enabled/mpm_event.load', notify: 'restart apache2' }),
      ...MODULES.map((module) =>
        command({ cmd: sh`a2enmod -q ${module}`, creates: `/etc/apache2/mods-enabled/${module}.load`, notify: 'reload apache2' }),
      ),
      ...(vars.manageCertificate
        ? [
            file({
              path: paths.certificate, content: vars.tlsCertificate, mode: '0644', owner: 'root', group: 'root',
              validate: (p) => sh`openssl x509 -noout -in ${p}`, notify: 'reload apache2',
            }),
            file({
              path: paths.key, content: vars.tlsKey, mode: '0640', owner: 'root', group: 'ssl-cert',
              validate: (p) => sh`openssl pkey -noout -in ${p}`, notify: 'reload apache2',
            }),
          ]
        : []),
      template({
        src: 'mail.conf.ejs',
        dest: '/etc/apache2/sites-available/mail.conf',
        mode: '0644',
        vars: {
          serverName,
          serverAliases: [`webmail.${vars.domain}`, `www.${vars.domain}`],
          certificatePath: paths.certificate,
          contentSecurityPolicy: CONTENT_SECURITY_POLICY,
          tls12Ciphers: TLS12_CIPHERS,
          keyPath: paths.key,
        },
        // `apache2ctl configtest` checks the installed config, and a site in sites-available is no part of it.
        // So it runs on a wrapper: a copy of apache2.conf without its `sites-enabled` include (an old or
        // hand-broken site must not refuse a good new one) plus `Include <temp file>`, passed to apache2ctl as
        // `-f` (APACHE_ARGUMENTS): the new site is checked against the real modules, ports and global settings.
        validate: (p) =>
          sh`(w=$(mktemp) && trap 'rm -f "$w"' EXIT && sed '/^IncludeOptional sites-enabled/d' /etc/apache2/apache2.conf > "$w" && printf 'Include "%s"\\n' ${p} >> "$w" && APACHE_ARGUMENTS="-f $w" apache2ctl configtest)`,
        notify: 'reload apache2',
      }),
      link({ path: '/etc/apache2/sites-enabled/mail.conf', target: '../sites-available/mail.conf', notify: 'reload apache2' }),
      link({ path: '/etc/apache2/sites-enabled/000-default.conf', state: 'absent', notify: 'reload apache2' }),
      service({ name: 'apache2', state: 'started', enabled: true }),
    ];
  },
  handlers: () => [
    service({ taskName: 'restart apache2', name: 'apache2', state: 'restarted' }),
    service({ taskName: 'reload apache2', name: 'apache2', state: 'reloaded' }),
  ],
});
