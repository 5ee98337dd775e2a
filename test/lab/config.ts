import { join } from 'node:path';
import { SMKNH_ACCOUNTS, type SchoolSite } from '../../roles/school/inventory.ts';

/**
 * Which lab: `PLAY_LAB` (default 30) picks the subnet 198.18.N.0/24 and the names of everything the lab makes,
 * so several labs can run side by side (e.g. one per developer task). Lab 30 is the one the README describes.
 */
export const LAB_NUMBER = labNumber(process.env.PLAY_LAB);

function labNumber(value: string | undefined): number {
  const number = Number(value ?? 30);
  if (!Number.isInteger(number) || number < 30 || number > 99) throw new Error(`PLAY_LAB must be an integer from 30 to 99, got ${value}`);
  return number;
}

const suffix = LAB_NUMBER === 30 ? '' : `-${LAB_NUMBER}`;
const subnet = `198.18.${LAB_NUMBER}`;

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
  { name: 'primary', address: `${subnet}.1`, netns: `playlab${suffix}-primary`, veth: `plv${LAB_NUMBER === 30 ? '' : LAB_NUMBER}-primary` },
  { name: 'backup', address: `${subnet}.2`, netns: `playlab${suffix}-backup`, veth: `plv${LAB_NUMBER === 30 ? '' : LAB_NUMBER}-backup` },
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
  accounts: SMKNH_ACCOUNTS,
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
  'systemd-container', 'openssh-server', 'openssh-client', 'iproute2', 'dnsutils', 'swaks', 'isc-dhcp-client', 'curl', 'openssl', 'chromium', 'tcpdump', 'python3-dkim', 'python3-dnspython', 'nmap', 'testssl.sh',
];

/**
 * Debian packages the roles install on the hosts, downloaded beforehand into the machine's apt cache (the
 * hosts see it through their lower layer and have no route to any registry).
 */
export const HOST_PACKAGES = [
  'apache2', 'bind9', 'bind9-utils', 'isc-dhcp-server', 'postfix', 'dovecot-core', 'dovecot-imapd', 'dovecot-lmtpd',
  'roundcube', 'roundcube-sqlite3', 'roundcube-plugins', 'sqlite3', 'php8.2-fpm', 'php-gd', 'php-zip', 'keepalived', 'ssl-cert', 'ca-certificates', 'nftables', 'python3-milter',
  'fail2ban', 'python3-systemd', 'opendkim', 'opendkim-tools',
];

/** Units of the machine's own root that the hosts must not start (they would only cost memory and time). */
export const MASKED_UNITS = [
  'postgresql.service', 'apt-daily.timer', 'apt-daily-upgrade.timer', 'e2scrub_all.timer', 'e2scrub_reap.service', 'fstrim.timer',
  'man-db.timer', 'dpkg-db-backup.timer', 'getty@tty1.service', 'console-getty.service', 'docker.service', 'containerd.service',
  'avahi-daemon.service', 'avahi-daemon.socket',
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
