import { join } from 'node:path';

/** Where the lab keeps everything it makes (git-ignored): overlays, keys, pid files, logs. */
export const STATE_DIR = join(import.meta.dirname, '.state');

/** The lab's bridge in the machine's own namespace, and the controller's address on it. */
export const BRIDGE = 'playlab0';
export const CONTROLLER_ADDRESS = '198.18.30.10';
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
  { name: 'primary', address: '198.18.30.1', netns: 'playlab-primary', veth: 'plv-primary' },
  { name: 'backup', address: '198.18.30.2', netns: 'playlab-backup', veth: 'plv-backup' },
];

/** The client: a bare network namespace (no systemd) for client-side checks. */
export const LAB_CLIENT = { name: 'lab-client', address: '198.18.30.50', netns: 'lab-client', veth: 'plv-client' } as const;

/** The lab's private key for root on the hosts, and the known_hosts file holding the hosts' keys. */
export const LAB_KEY = join(STATE_DIR, 'id_ed25519');
export const LAB_KNOWN_HOSTS = join(STATE_DIR, 'known_hosts');

/** What the machine needs to run the lab and its client-side checks. */
export const MACHINE_PACKAGES = [
  'systemd-container', 'openssh-server', 'openssh-client', 'iproute2', 'dnsutils', 'swaks', 'isc-dhcp-client', 'curl', 'openssl', 'chromium',
];

/**
 * Debian packages the roles install on the hosts, downloaded beforehand into the machine's apt cache (the
 * hosts see it through their lower layer and have no route to any registry).
 */
export const HOST_PACKAGES = [
  'apache2', 'bind9', 'bind9-utils', 'isc-dhcp-server', 'postfix', 'dovecot-core', 'dovecot-imapd', 'dovecot-lmtpd',
  'roundcube', 'roundcube-sqlite3', 'roundcube-plugins', 'sqlite3', 'keepalived', 'ssl-cert', 'ca-certificates',
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
