import { join } from 'node:path';
import { command, copy, defineRole, directory, file, line, packages, service, template, user } from 'play';
import { DEBIAN_13, SecretType, sh, Type, type Platform, type Secret } from 'play';
import { sshPublicKeyLine } from 'play/vault';
import { presentAccounts, SchoolVars, Account } from '../common/school.ts';
import { SCHOOL_RELEASES } from '../common/releases.ts';
import { REPLICATOR } from '../dovecot/replicator-status.ts';
import { dovecotRelease, EXPUNGED_MAILBOX } from '../dovecot/index.ts';
import { homeOf } from '../users/index.ts';
import { hostRepositoryUrl } from './repository-url.ts';
import { sftpCommand, sftpDestination } from './sftp.ts';

/** The helper that runs the backups and restores (files/play-backup.py). */
export const BACKUP_HELPER = '/usr/local/sbin/play-backup';
/** Its settings, the repositories' password, the key it logs in to the other server with, and that server's key. */
export const BACKUP_DIR = '/etc/play-backup';
export const BACKUP_CONFIG = `${BACKUP_DIR}/config.json`;
export const BACKUP_PASSWORD_FILE = `${BACKUP_DIR}/password`;
export const BACKUP_SSH_KEY = `${BACKUP_DIR}/ssh.key`;
export const BACKUP_KNOWN_HOSTS = `${BACKUP_DIR}/known_hosts`;
/** The user the other server stores its backups as, and where they are (one repository per server). */
export const BACKUP_USER = 'play-backup';
export const BACKUP_STORE = '/var/backups/play';
/** The folder `play restore -e from=expunged` puts an account's expunged mail back into (Dovecot does not record where it was). */
export const RESTORED_FOLDER = 'Restored';
/** The units of the nightly run. */
export const BACKUP_SERVICE = 'play-backup.service';
export const BACKUP_TIMER = 'play-backup.timer';
/** What the helper writes after each run (`play-backup status` prints it): play verify reads it. */
export const BACKUP_STATUS = '/var/lib/play-backup/status.json';

const SFTP_SERVER = '/usr/lib/openssh/sftp-server';
/** Roundcube's MariaDB database (roles/roundcube), dumped by root over the local socket. */
const ROUNDCUBE_DATABASE = 'roundcube';
/** The dump command; the helper adds `--single-transaction --databases <database>`. */
const ROUNDCUBE_DUMP = ['mariadb-dump', '--default-character-set=utf8mb4'];
/** What cannot be made again from the vault and the inventory besides the mail and Roundcube's data. */
const EXTRA_PATHS = ['/etc/dkimkeys'];

/** An off-site repository: restic's URL (sftp:, rest:, s3:, b2: …) and the environment its backend needs. */
const Offsite = Type.Object(
  {
    repository: Type.Union([Type.String({ pattern: '^(sftp|rest|s3|b2|azure|gs|swift|rclone):' }), SecretType()], {
      description: "restic's repository URL (a Secret when it holds a password, as rest: URLs may)",
    }),
    env: Type.Optional(
      Type.Record(Type.String({ pattern: '^[A-Z][A-Z0-9_]*$' }), SecretType(), {
        description: "the backend's credentials, e.g. AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for s3:",
        additionalProperties: false,
      }),
    ),
  },
  { additionalProperties: false },
);

/**
 * How the restore drill reads the restored canary over IMAP: Dovecot's own imap in a preauth session on stdin and
 * stdout, on the scratch Maildir (`{maildir}`), with the release's setting names and no mail plugins (nothing of
 * the scratch copy may reach replication).
 */
export function drillImapCommand(platform: Platform | undefined): string[] {
  const mail =
    dovecotRelease(platform ?? DEBIAN_13).version === '2.3'
      ? ['-o', 'mail_location=maildir:{maildir}']
      : ['-o', 'mail_driver=maildir', '-o', 'mail_path={maildir}'];
  // Dovecot gives root no mail access: the session runs as nobody, who owns the copy it reads.
  return ['doveadm', 'exec', 'imap', ...mail, '-o', 'mail_plugins=', '-o', 'mail_uid=nobody', '-o', 'mail_gid=nogroup'];
}

/**
 * Backups of what the school keeps, with restic (Debian's package), encrypted with a password from the vault, to
 * the other server (over sftp, as an unprivileged user limited to sftp from that server's address) and, when the
 * inventory names one, to an off-site repository. Every present account's Maildir, Roundcube's database (an online
 * copy) and the DKIM key; nightly by a timer, no service stopped; retention from the inventory; a rolling
 * `restic check --read-data-subset` reads all data within `backupCheckDays`. The helper's status feeds `play
 * verify`; `npx play backup` runs it now and `npx play restore -e account=NAME` puts mail back (README.md).
 */
export default defineRole({
  name: 'backup',
  dir: import.meta.dirname,
  platforms: SCHOOL_RELEASES,
  schema: Type.Composite([
    Type.Pick(SchoolVars, ['schoolName', 'haRole', 'peerAddress']),
    Type.Object({
      accounts: Type.Array(Account),
      backupPassword: SecretType(),
      backupSshKey: SecretType(),
      backupOffsite: Type.Optional(Offsite),
      backupRetention: Type.Object(
        {
          daily: Type.Integer({ minimum: 1, maximum: 366 }),
          weekly: Type.Integer({ minimum: 0, maximum: 520 }),
          monthly: Type.Integer({ minimum: 0, maximum: 240 }),
        },
        { additionalProperties: false },
      ),
      backupSchedule: Type.String({
        pattern: '^[0-9*:/,. -]+$|^(daily|hourly|weekly)$',
        description: "systemd's OnCalendar, e.g. '*-*-* 01:30:00'",
      }),
      backupCheckDays: Type.Integer({ minimum: 1, maximum: 365 }),
    }),
  ]),
  defaults: {
    backupRetention: { daily: 7, weekly: 4, monthly: 12 },
    backupSchedule: '*-*-* 01:30:00',
    backupCheckDays: 30,
  },
  check: (vars) => {
    // Revealed outside the try: a vault that cannot give it (listing with no vault) is not a bad key.
    const key = vars.backupSshKey.reveal();
    try {
      sshPublicKeyLine(key, BACKUP_USER);
      return [];
    } catch {
      return [{ path: 'vars.backupSshKey', message: 'must be an ECDSA P-256 private key in PEM (as play init makes)' }];
    }
  },
  tasks: ({ vars, platform }) => {
    const peerRepository = {
      name: 'peer',
      // Only this server writes it: a lock left by a killed run is removed whatever restic thinks of it.
      exclusive: true,
      url: `sftp:${BACKUP_USER}@${vars.peerAddress}:${BACKUP_STORE}/${vars.haRole}`,
      // A dead or hung peer is given up within 30 s; its host key is recorded at first contact.
      sftpCommand: sftpCommand({ target: `${BACKUP_USER}@${vars.peerAddress}` }, BACKUP_SSH_KEY, BACKUP_KNOWN_HOSTS),
    };
    const offsite = vars.backupOffsite;
    const repositories: Record<string, unknown>[] = [peerRepository];
    if (offsite) {
      const url = hostRepositoryUrl(
        typeof offsite.repository === 'string' ? offsite.repository : offsite.repository.reveal(),
        vars.haRole,
      );
      const env = Object.fromEntries(Object.entries(offsite.env ?? {}).map(([k, v]) => [k, (v as Secret).reveal()]));
      repositories.push({
        name: 'offsite',
        url,
        env,
        // This server's own (hostRepositoryUrl): only it writes there.
        exclusive: true,
        // An sftp: repository is reached with the same key, its host key recorded at first contact.
        ...(url.startsWith('sftp:')
          ? { sftpCommand: sftpCommand(sftpDestination(url), BACKUP_SSH_KEY, BACKUP_KNOWN_HOSTS) }
          : {}),
      });
    }
    const config = {
      host: vars.haRole,
      passwordFile: BACKUP_PASSWORD_FILE,
      accounts: presentAccounts(vars.accounts).map((a) => ({ name: a.name, maildir: `${homeOf(a.name)}/Maildir` })),
      paths: EXTRA_PATHS,
      roundcubeDatabase: ROUNDCUBE_DATABASE,
      roundcubeDump: ROUNDCUBE_DUMP,
      retention: vars.backupRetention,
      checkDays: vars.backupCheckDays,
      repositories,
      replicate: `${REPLICATOR} replicate -f`,
      subscribe: 'doveadm mailbox subscribe -u',
      imapCommand: drillImapCommand(platform),
      imapUser: 'nobody',
      expungedMailbox: EXPUNGED_MAILBOX,
      restoredFolder: RESTORED_FOLDER,
    };
    const units = { schoolName: vars.schoolName, helper: BACKUP_HELPER, timeoutSeconds: 6 * 3600 };
    return [
      packages({ names: ['restic', 'openssh-client', 'openssh-sftp-server'], installRecommends: false }),
      directory({ path: BACKUP_DIR, owner: 'root', group: 'root', mode: '0700' }),
      directory({ path: '/var/lib/play-backup', owner: 'root', group: 'root', mode: '0700' }),
      file({ path: BACKUP_PASSWORD_FILE, content: vars.backupPassword, owner: 'root', group: 'root', mode: '0600' }),
      file({
        path: BACKUP_SSH_KEY,
        content: vars.backupSshKey,
        owner: 'root',
        group: 'root',
        mode: '0600',
        validate: (p) => sh`ssh-keygen -y -f ${p} >/dev/null`,
      }),
      // The repository URLs may hold credentials (an off-site rest: URL): root only.
      file({
        path: BACKUP_CONFIG,
        content: `${JSON.stringify(config, null, 1)}\n`,
        owner: 'root',
        group: 'root',
        mode: '0600',
        validate: (p) => sh`python3 -c 'import json, sys; json.load(open(sys.argv[1]))' ${p}`,
      }),
      copy({
        src: 'play-backup.py',
        dest: BACKUP_HELPER,
        owner: 'root',
        group: 'root',
        mode: '0755',
        validate: (p) => sh`python3 -c 'import ast, sys; ast.parse(open(sys.argv[1]).read())' ${p}`,
      }),
      // Where the other server's backups land: its own user, which may use sftp and nothing else.
      user({ name: BACKUP_USER, system: true, home: BACKUP_STORE, shell: '/bin/sh', createHome: false }),
      directory({ path: BACKUP_STORE, owner: BACKUP_USER, group: BACKUP_USER, mode: '0700' }),
      directory({ path: join(BACKUP_STORE, '.ssh'), owner: BACKUP_USER, group: BACKUP_USER, mode: '0700' }),
      line({
        path: join(BACKUP_STORE, '.ssh', 'authorized_keys'),
        line: () =>
          `restrict,from="${vars.peerAddress}",command="${SFTP_SERVER}" ${sshPublicKeyLine(vars.backupSshKey.reveal(), BACKUP_USER)}`,
        regexp: new RegExp(` ${BACKUP_USER}$`),
        create: true,
        owner: BACKUP_USER,
        group: BACKUP_USER,
        mode: '0600',
      }),
      template({
        src: 'sshd-backup.conf.ejs',
        dest: '/etc/ssh/sshd_config.d/10-play-backup.conf',
        mode: '0644',
        vars: { schoolName: vars.schoolName, peerAddress: vars.peerAddress, user: BACKUP_USER },
        validate: (p) =>
          sh`(d=$(mktemp -d) && mkdir "$d/conf.d" && cp /etc/ssh/sshd_config.d/*.conf "$d/conf.d/" 2>/dev/null; cp ${p} "$d/conf.d/10-play-backup.conf" && sed "s#/etc/ssh/sshd_config\\.d/#$d/conf.d/#g" /etc/ssh/sshd_config > "$d/sshd_config" && sshd -t -f "$d/sshd_config"; r=$?; rm -rf "$d"; exit $r)`,
        notify: 'reload ssh for backups',
      }),
      template({
        src: 'play-backup.service.ejs',
        dest: `/etc/systemd/system/${BACKUP_SERVICE}`,
        mode: '0644',
        vars: units,
        notify: 'reload systemd for backups',
      }),
      template({
        src: 'play-backup.timer.ejs',
        dest: `/etc/systemd/system/${BACKUP_TIMER}`,
        mode: '0644',
        vars: { ...units, schedule: vars.backupSchedule },
        notify: ['reload systemd for backups', 'restart the backup timer'],
      }),
      service({ name: BACKUP_TIMER, state: 'started', enabled: true }),
    ];
  },
  handlers: () => [
    service({ taskName: 'reload ssh for backups', name: 'ssh', state: 'reloaded' }),
    command({ name: 'reload systemd for backups', cmd: sh`systemctl daemon-reload` }),
    service({ taskName: 'restart the backup timer', name: BACKUP_TIMER, state: 'restarted' }),
  ],
});
