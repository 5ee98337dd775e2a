import { join } from 'node:path';
import { DEBIAN_12, DEBIAN_13, type Platform } from 'play';
import { SMKNH_ACCOUNTS, type SchoolSite } from '../../roles/school/inventory.ts';

/**
 * Which lab: `PLAY_LAB` (default 30) picks the subnet 198.18.N.0/24 and the names of everything the lab makes,
 * so several labs can run side by side (e.g. one per developer task). Lab 30 is the one the README describes.
 */
export const LAB_NUMBER = labNumber(process.env.PLAY_LAB);

function labNumber(value: string | undefined): number {
  const number = Number(value ?? 30);
  if (!Number.isInteger(number) || number < 30 || number > 99)
    throw new Error(`PLAY_LAB must be an integer from 30 to 99, got ${value}`);
  return number;
}

const suffix = LAB_NUMBER === 30 ? '' : `-${LAB_NUMBER}`;
const subnet = `198.18.${LAB_NUMBER}`;

/**
 * The Debian release the lab's servers run: `PLAY_LAB_DEBIAN` is 12 (bookworm) or 13 (trixie). Each host boots a
 * real, minimal install of that release (see debian-root.ts), never this machine's own root.
 */
export const DEBIAN_RELEASES = { 12: 'bookworm', 13: 'trixie' } as const;
export type DebianMajor = keyof typeof DEBIAN_RELEASES;
/** The release a lab boots when PLAY_LAB_DEBIAN is not set. */
export const DEFAULT_DEBIAN: DebianMajor = 13;
export const LAB_DEBIAN: DebianMajor = debianMajor(process.env.PLAY_LAB_DEBIAN);

/** The lab servers' release as the roles see it (what their /etc/os-release says). */
export const LAB_PLATFORM: Platform = LAB_DEBIAN === 12 ? DEBIAN_12 : DEBIAN_13;

function debianMajor(value: string | undefined): DebianMajor {
  if (value === undefined || value === '') return DEFAULT_DEBIAN;
  const major = Number(value);
  if (!(major in DEBIAN_RELEASES))
    throw new Error(`PLAY_LAB_DEBIAN must be one of ${Object.keys(DEBIAN_RELEASES).join(', ')}, got ${value}`);
  return major as DebianMajor;
}

/**
 * What the lab keeps between runs, outside any checkout and shared by every lab on this machine: the releases'
 * roots and the apt proxy's downloads (`PLAY_LAB_CACHE` moves it). `npm run lab:down` leaves it; deleting it
 * only costs the next lab:up a rebuild (about 40 s a release) and the downloads.
 */
export const CACHE_DIR = process.env.PLAY_LAB_CACHE ?? '/var/cache/play-lab';

/** The port the apt proxy listens on, at the controller's address on the bridge. */
export const APT_PROXY_PORT = 3142;

/** Where the lab keeps everything it makes (git-ignored): overlays, keys, pid files, logs. */
export const STATE_DIR = join(import.meta.dirname, `.state${suffix}`);

/** The lab's bridge in the machine's own namespace, and the controller's address on it. */
export const BRIDGE = `playlab${LAB_NUMBER === 30 ? 0 : LAB_NUMBER}`;
export const CONTROLLER_ADDRESS = `${subnet}.10`;
export const PREFIX_LENGTH = 24;

/** A booted Debian host of the lab. */
export interface LabHost {
  readonly name: string;
  readonly address: string;
  /** The network namespace it lives in. */
  readonly netns: string;
  /** The veth end on the bridge, in the machine's namespace (at most 15 characters). */
  readonly veth: string;
}

/** The two servers. */
export const LAB_HOSTS: readonly LabHost[] = [
  {
    name: 'primary',
    address: `${subnet}.1`,
    netns: `playlab${suffix}-primary`,
    veth: `plv${LAB_NUMBER === 30 ? '' : LAB_NUMBER}-primary`,
  },
  {
    name: 'backup',
    address: `${subnet}.2`,
    netns: `playlab${suffix}-backup`,
    veth: `plv${LAB_NUMBER === 30 ? '' : LAB_NUMBER}-backup`,
  },
];

/** The client: a bare network namespace (no systemd) for client-side checks. */
export const LAB_CLIENT = {
  name: 'lab-client',
  address: `${subnet}.50`,
  netns: `lab-client${suffix}`,
  veth: `plv${LAB_NUMBER === 30 ? '' : LAB_NUMBER}-client`,
} as const;

/** The school's virtual IP in the lab. */
export const LAB_VIP = `${subnet}.254`;

/** The lab account whose quota a test fills, and that quota. */
export const LAB_SMALL_QUOTA = { account: 'guru4', quota: '20M', bytes: 20 * 2 ** 20 } as const;

/** The port of the lab's off-site sftp server on lab-client (not 22: the servers must keep the URL's port). */
export const OFFSITE_PORT = 2222;

/** Where the off-site server keeps what it is sent (a folder of the lab's state, gone with `lab:down`). */
export const OFFSITE_DIR = join(STATE_DIR, 'offsite');

/**
 * The school's off-site repository in the lab (test/lab/offsite.ts): restic's URL of a repository on lab-client's
 * sftp server, relative to the folder its sftp starts in ({@link OFFSITE_DIR}).
 */
export const OFFSITE_REPOSITORY = `sftp://root@${LAB_CLIENT.address}:${OFFSITE_PORT}/restic`;

/** The lab account with a sending limit of its own a test reaches (recipients in an hour), and that limit. */
export const LAB_SENDING_LIMIT = { account: 'guru3', recipients: 10, seconds: 3_600 } as const;

/** The paper's school (SMK Nurul Huda) on the lab's subnet: what inventory/lab.ts deploys and the lab's vault serves. */
export const LAB_SITE: SchoolSite = {
  schoolName: 'SMK Nurul Huda',
  domain: 'smknh.sch.id',
  lanInterface: 'eth0',
  lanNetwork: `${subnet}.0/24`,
  primaryAddress: LAB_HOSTS[0].address,
  backupAddress: LAB_HOSTS[1].address,
  vip: LAB_VIP,
  router: CONTROLLER_ADDRESS,
  dhcpRange: { start: `${subnet}.100`, end: `${subnet}.200` },
  // guru4 has a quota of its own, small enough for a test to fill, and guru3 a sending limit a test reaches (the
  // others keep the school's defaults).
  accounts: SMKNH_ACCOUNTS.map((a) =>
    a.name === LAB_SMALL_QUOTA.account
      ? { ...a, quota: LAB_SMALL_QUOTA.quota }
      : a.name === LAB_SENDING_LIMIT.account
        ? { ...a, sendingLimits: [{ recipients: LAB_SENDING_LIMIT.recipients, seconds: LAB_SENDING_LIMIT.seconds }] }
        : a,
  ),
  // The lab client is the school's monitoring too: its probes (every 100 ms in some tests) are not rate limited;
  // nor is .62, the second address mail.test's misbehaving clients use (they test hold-ups, not rates). The flood
  // of limits.test comes from .63, which is limited.
  rateLimitExceptions: [LAB_CLIENT.address, LAB_CLIENT.address.replace(/\.\d+$/, '.62')],
  // Both servers also back up off-site: to an sftp server on lab-client, on a port of its own.
  backup: { offsite: { repository: OFFSITE_REPOSITORY } },
};

/**
 * The lab's vault, encrypted like a school's (made by lab:up through the same code as `play init`: every secret of
 * the school's catalog, with a TLS certificate from the lab's CA), and the file holding its passphrase.
 */
export const LAB_VAULT = join(STATE_DIR, 'lab.vault');
export const LAB_VAULT_PASSWORD_FILE = join(STATE_DIR, 'vault-password');

/**
 * The lab's certificate authority, standing in for a public one: it issues the school's certificate (with a CRL
 * URL, as public CAs do), and the scanners and clients in the lab trust it. Kept with the vault.
 */
export const LAB_CA_CERTIFICATE = join(STATE_DIR, 'lab-ca.pem');
export const LAB_CA_KEY = join(STATE_DIR, 'lab-ca.key');

/** The lab's private key for root on the hosts, and the known_hosts file holding the hosts' keys. */
export const LAB_KEY = join(STATE_DIR, 'id_ed25519');
export const LAB_KNOWN_HOSTS = join(STATE_DIR, 'known_hosts');

/** What the machine needs to run the lab and its client-side checks. */
export const MACHINE_PACKAGES = [
  'systemd-container',
  'mmdebstrap',
  'apt-cacher-ng',
  'openssh-server',
  'openssh-client',
  'iproute2',
  'dnsutils',
  'swaks',
  'isc-dhcp-client',
  'curl',
  'openssl',
  'chromium',
  'tcpdump',
  'python3-dkim',
  'python3-dnspython',
  'nmap',
  'testssl.sh',
];

/**
 * Debian packages the roles install on the hosts, per release. A root is built with none of them; building it
 * downloads them once through the apt proxy, so its cache holds them before any test installs them.
 */
export const HOST_PACKAGES: Readonly<Record<DebianMajor, readonly string[]>> = {
  12: [
    'apache2',
    'bind9',
    'bind9-utils',
    'isc-dhcp-server',
    'postfix',
    'dovecot-core',
    'dovecot-imapd',
    'dovecot-lmtpd',
    'roundcube',
    'roundcube-sqlite3',
    'roundcube-plugins',
    'sqlite3',
    'php8.2-fpm',
    'php-gd',
    'php-zip',
    'keepalived',
    'ssl-cert',
    'ca-certificates',
    'nftables',
    'python3-milter',
    'fail2ban',
    'python3-systemd',
    'opendkim',
    'opendkim-tools',
    'kea-dhcp4-server',
    'policyd-rate-limit',
  ],
  13: [
    'apache2',
    'bind9',
    'bind9-utils',
    'isc-dhcp-server',
    'postfix',
    'dovecot-core',
    'dovecot-imapd',
    'dovecot-lmtpd',
    'roundcube',
    'roundcube-sqlite3',
    'roundcube-plugins',
    'sqlite3',
    'php8.4-fpm',
    'php-gd',
    'php-zip',
    'keepalived',
    'ssl-cert',
    'ca-certificates',
    'nftables',
    'python3-milter',
    'fail2ban',
    'python3-systemd',
    'opendkim',
    'opendkim-tools',
    'kea-dhcp4-server',
    'stunnel4',
    'policyd-rate-limit',
  ],
};

/**
 * Units of a Debian server that the lab's hosts must not start: apt's daily timers would race the roles' installs
 * for dpkg's lock, and the others only cost time and memory in a container.
 */
export const MASKED_UNITS = [
  'apt-daily.timer',
  'apt-daily-upgrade.timer',
  'e2scrub_all.timer',
  'e2scrub_reap.service',
  'fstrim.timer',
  'man-db.timer',
  'dpkg-db-backup.timer',
  'getty@tty1.service',
  'console-getty.service',
];

/** Paths of one host's files under the state folder. */
export function hostPaths(name: string) {
  const dir = join(STATE_DIR, 'hosts', name);
  return {
    dir,
    upper: join(dir, 'upper'),
    work: join(dir, 'work'),
    root: join(dir, 'root'),
    pidFile: join(dir, 'nspawn.pid'),
    console: join(dir, 'console.log'),
  };
}
