import { command, copy, defineRole, directory, link, packages, service, sh, template } from 'play';
import { type Platform, SecretType, Type } from 'play';
import { Account, SchoolVars } from '../common/school.ts';
import { SCHOOL_RELEASES } from '../common/releases.ts';
import { ROUNDCUBE_DSN, roundcubeDatabaseTasks } from './database.ts';

/** A PHP single-quoted string literal holding `value` exactly. */
export function phpString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** The plugin that passes the browser's address to Dovecot (files/play_client_ip.php), always on. */
export const CLIENT_IP_PLUGIN = 'play_client_ip';
const CLIENT_IP_PLUGIN_SOURCE = new URL('./files/play_client_ip.php', import.meta.url).pathname;

/**
 * The PHP whose php-fpm serves Roundcube on each release: 8.2 on Debian 12, 8.4 on Debian 13 (Debian 13 has no
 * php8.2-fpm). The package `phpN-fpm`, its unit, its apache conf and `/etc/php/N/fpm/conf.d/` follow from it.
 *
 * @example
 * phpVersion(DEBIAN_13); // '8.4'
 */
export function phpVersion(platform: Platform): string {
  return platform.major <= 12 ? '8.2' : '8.4';
}

/** php-fpm's unit (and package) on a release, e.g. `php8.4-fpm`. */
export const phpFpm = (platform: Platform) => `php${phpVersion(platform)}-fpm`;

/** The handler that reloads php-fpm, whatever its version. */
const RELOAD_PHP_FPM = 'reload php-fpm';

/** base64 makes an attachment about 4/3 larger (plus line breaks): what fits in a message of a given size. */
const BASE64_GROWTH = 1.37;

/**
 * Debian's Roundcube (1.6) with its data in MariaDB (role mariadb, replicated both ways; dbconfig-common off),
 * served by apache2 (role apache) through
 * php-fpm: mod_php would force mpm_prefork, under which apache's HTTP/2 is inactive. IMAP (993) and SMTP
 * submission (587, STARTTLS) go to this server itself with the certificate verified against the mail host's
 * name; the same des_key on both servers; the installer off; the school's name as product name.
 */
export default defineRole({
  name: 'roundcube',
  platforms: SCHOOL_RELEASES,
  dir: import.meta.dirname,
  schema: Type.Composite([
    Type.Pick(SchoolVars, ['schoolName', 'domain', 'haRole']),
    Type.Object({
      /** The school's accounts: each gets its webmail user and identity before its first login. */
      accounts: Type.Array(Account),
      roundcubeDesKey: SecretType(),
      imapHost: Type.String({ minLength: 1 }),
      smtpHost: Type.String({ minLength: 1 }),
      /** The certificate of IMAP/SMTP is self-signed (the school's own): trust exactly that file. */
      tlsSelfSigned: Type.Boolean(),
      plugins: Type.Array(Type.String({ pattern: '^[a-z0-9_]+$' })),
      /** The biggest message Roundcube sends, in MB (keep it at or below postfix's message_size_limit). */
      maxMessageSize: Type.Integer({ minimum: 1, maximum: 1024 }),
    }),
  ]),
  defaults: {
    imapHost: 'ssl://localhost:993',
    smtpHost: 'tls://localhost:587',
    tlsSelfSigned: true,
    plugins: ['archive', 'zipdownload'],
    // Below postfix's 25 MiB: what Roundcube counts as the message is an estimate, headers come on top.
    maxMessageSize: 24,
  },
  check(vars) {
    const key = vars.roundcubeDesKey.reveal();
    return key.length === 24 && !/['\\\s]/.test(key)
      ? []
      : [{ path: 'vars.roundcubeDesKey', message: 'must be 24 characters without quotes, backslashes or spaces' }];
  },
  tasks: ({ vars, platform }) => {
    const fpm = phpFpm(platform);
    return [
      packages({
        // php-gd scales images (thumbnails, contact photos), php-zip is what the zipdownload plugin needs; the other recommends (spell checkers, the old
        // skins) are not used: spell checking is off and the skin is elastic.
        names: [fpm, 'roundcube', 'roundcube-mysql', 'roundcube-plugins', 'php-gd', 'php-zip'],
        installRecommends: false,
        // dbconfig-common's questions, asked by roundcube-core's config script (`roundcube/…`): no database of
        // dbconfig-common's; play makes the MariaDB database and writes the DSN (./database.ts). The webserver
        // questions are answered "none": the apache role's site serves Roundcube and handlers do the reloads.
        preseed: [
          { package: 'roundcube-core', question: 'roundcube/dbconfig-install', type: 'boolean', value: 'false' },
          { package: 'roundcube-core', question: 'roundcube/database-type', type: 'select', value: 'mysql' },
          { package: 'roundcube-core', question: 'roundcube/reconfigure-webserver', type: 'multiselect', value: '' },
          { package: 'roundcube-core', question: 'roundcube/restart-webserver', type: 'boolean', value: 'false' },
        ],
      }),
      // PHP through php-fpm: apache hands .php files to its socket (Debian's phpN-fpm conf).
      command({
        cmd: sh`a2enmod -q proxy_fcgi setenvif`,
        creates: '/etc/apache2/mods-enabled/proxy_fcgi.load',
        notify: 'reload apache2',
      }),
      command({
        cmd: sh`a2enconf -q ${fpm}`,
        creates: `/etc/apache2/conf-enabled/${fpm}.conf`,
        notify: 'reload apache2',
      }),
      // Roundcube only at the root of the mail site: no /roundcube alias or directory config of the package.
      link({ path: '/etc/apache2/conf-enabled/roundcube.conf', state: 'absent', notify: 'reload apache2' }),
      template({
        src: 'roundcube.ini.ejs',
        dest: `/etc/php/${phpVersion(platform)}/fpm/conf.d/90-roundcube.ini`,
        mode: '0644',
        vars: { attachmentMaxSize: Math.floor(vars.maxMessageSize / BASE64_GROWTH), postMaxSize: vars.maxMessageSize },
        // php-fpm reads every conf.d file at start: a file that does not parse would keep it from starting.
        validate: (p) => sh`php -n -r 'exit(parse_ini_file($argv[1]) === false ? 1 : 0);' ${p}`,
        notify: RELOAD_PHP_FPM,
      }),
      directory({ path: `/var/lib/roundcube/plugins/${CLIENT_IP_PLUGIN}`, mode: '0755', owner: 'root', group: 'root' }),
      copy({
        src: CLIENT_IP_PLUGIN_SOURCE,
        dest: `/var/lib/roundcube/plugins/${CLIENT_IP_PLUGIN}/${CLIENT_IP_PLUGIN}.php`,
        mode: '0644',
        owner: 'root',
        group: 'root',
        validate: (p) => sh`php -l ${p}`,
      }),
      // The database (and, once, the SQLite data of an earlier deploy) before the config that points Roundcube at it.
      ...roundcubeDatabaseTasks(vars.haRole, { accounts: vars.accounts, domain: vars.domain, imapHost: vars.imapHost }),
      template({
        src: 'config.inc.php.ejs',
        dest: '/etc/roundcube/config.inc.php',
        mode: '0640',
        owner: 'root',
        group: 'www-data',
        vars: {
          phpString,
          peerName: `mail.${vars.domain}`,
          caFile: vars.tlsSelfSigned ? `/etc/ssl/certs/${vars.domain}-mail.pem` : '',
          maxMessageSize: `${vars.maxMessageSize}M`,
          plugins: [...new Set([...vars.plugins, CLIENT_IP_PLUGIN])],
          dsn: ROUNDCUBE_DSN,
        },
        // PHP reads the file on every request: nothing to reload. `php -l` checks the syntax; loading it
        // checks that it builds a $config with a 24-character des_key.
        validate: (p) =>
          sh`php -l ${p} && php -r 'include $argv[1]; exit(is_array($config) && strlen($config["des_key"]) === 24 ? 0 : 1);' ${p}`,
      }),
      service({ name: fpm, state: 'started', enabled: true }),
    ];
  },
  handlers: ({ platform }) => [
    service({ taskName: 'reload apache2', name: 'apache2', state: 'reloaded' }),
    service({ taskName: RELOAD_PHP_FPM, name: phpFpm(platform), state: 'reloaded' }),
  ],
});
