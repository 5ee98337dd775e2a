import type { Secret } from 'play';
import type { Vault } from 'play/vault';

/**
 * What differs from one school to the next; everything else in the inventories is derived from it.
 *
 * @example
 * const site: SchoolSite = { schoolName: 'SMK Nurul Huda', domain: 'smknh.sch.id', lanInterface: 'ens32', … };
 */
export interface SchoolSite {
  readonly schoolName: string;
  readonly domain: string;
  readonly lanInterface: string;
  readonly lanNetwork: string;
  readonly primaryAddress: string;
  readonly backupAddress: string;
  readonly vip: string;
  readonly router: string;
  readonly dhcpRange: { readonly start: string; readonly end: string };
  /** Accounts: the head and the teachers, each with a password from the vault and, if given, its own quota. */
  readonly accounts: readonly {
    readonly name: string;
    readonly fullName: string;
    readonly state?: 'present' | 'absent';
    /** This account's mailbox quota, e.g. `5G` or `500M` (default: `mailQuota`). */
    readonly quota?: string;
    /** This account's own sending limits instead of `sendingLimits` (`[]`: none). */
    readonly sendingLimits?: readonly { readonly recipients: number; readonly seconds: number }[];
  }[];
  /** Every account's mailbox quota unless it sets its own (default `2G`; roles/dovecot). */
  readonly mailQuota?: string;
  /** Days expunged mail is kept for `play restore -e from=expunged` (default 14; 0 turns it off). */
  readonly expungedMailDays?: number;
  /**
   * Each login's sending limits on 587, 465 and the webmail, in recipients per window (default 300 an hour and 1,000 a
   * day; roles/postfix).
   */
  readonly sendingLimits?: readonly { readonly recipients: number; readonly seconds: number }[];
  /** Addresses port 25's per-client rate limits leave alone, e.g. a monitoring host that probes every few seconds. */
  readonly rateLimitExceptions?: readonly string[];
  /** Who may log in to the servers over ssh (by key only); root when not given. Never a mail account. */
  readonly sshAdmins?: readonly string[];
  /**
   * Backups (roles/backup): each server backs up to the other; `offsite` adds a restic repository elsewhere, and
   * `retention` (default 7 daily, 4 weekly, 12 monthly) and `schedule` (systemd's OnCalendar, default 01:30) say
   * how many snapshots are kept and when the nightly one runs.
   */
  readonly backup?: {
    readonly offsite?: { readonly repository: string | Secret; readonly env?: Readonly<Record<string, Secret>> };
    readonly retention?: { readonly daily: number; readonly weekly: number; readonly monthly: number };
    readonly schedule?: string;
  };
}

/**
 * The host and group vars of a school's two servers, with every secret taken from its vault (the names are
 * {@link schoolSecretNames}'s). Shared by every school's inventory and the lab's, so all describe the same system.
 *
 * @example
 * export default defineInventory({ ...schoolInventory(site, openVault('inventory/smknh.vault')), ssh: { user: 'root' } });
 */
export function schoolInventory(site: SchoolSite, vault: Vault) {
  const server = (haRole: 'primary' | 'backup', lanAddress: string, peerName: string, peerAddress: string) => ({
    address: lanAddress,
    vars: { haRole, lanAddress, peerName, peerAddress },
  });
  return {
    hosts: {
      primary: server('primary', site.primaryAddress, 'backup', site.backupAddress),
      backup: server('backup', site.backupAddress, 'primary', site.primaryAddress),
    },
    groups: {
      servers: {
        hosts: ['primary', 'backup'],
        vars: {
          schoolName: site.schoolName,
          domain: site.domain,
          lanInterface: site.lanInterface,
          lanNetwork: site.lanNetwork,
          vip: site.vip,
          router: site.router,
          dhcpRange: site.dhcpRange,
          sshAdmins: site.sshAdmins ?? ['root'],
          accounts: site.accounts.map((a) => ({ ...a, password: vault.secret(`account_${a.name}`, { length: 16 }) })),
          tsigKey: vault.secret('tsig_key', { base64Bytes: 32 }),
          keepalivedPassword: vault.secret('keepalived_password', { length: 8 }),
          doveadmPassword: vault.secret('doveadm_password', { length: 32 }),
          // Self-signed, naming both servers' LAN addresses (see roles/dovecot/README.md for how to make one): Dovecot's
          // replication and Kea's DHCP HA both use it, each trusting only it.
          replicationCertificate: vault.secret('replication_certificate'),
          replicationKey: vault.secret('replication_key'),
          // ECDSA P-256 (PEM): the key each server sends its fail2ban bans to the other with.
          peerBanKey: vault.secret('peer_ban_key'),
          // RSA 2048 (PEM): postfix signs the school's mail with it (DKIM); the zone publishes its public half.
          dkimKey: vault.secret('dkim_key'),
          roundcubeDesKey: vault.secret('roundcube_des_key', { length: 24 }),
          mariadbReplicationPassword: vault.secret('mariadb_replication_password', { length: 32 }),
          tlsKey: vault.secret('tls_key'),
          tlsCertificate: vault.secret('tls_certificate'),
          backupPassword: vault.secret('backup_password', { base64Bytes: 32 }),
          // ECDSA P-256 (PEM): the key each server logs in to the other with to store its backups (sftp only).
          backupSshKey: vault.secret('backup_ssh_key'),
          ...(site.mailQuota ? { mailQuota: site.mailQuota } : {}),
          ...(site.rateLimitExceptions ? { rateLimitExceptions: site.rateLimitExceptions } : {}),
          ...(site.sendingLimits ? { sendingLimits: site.sendingLimits } : {}),
          ...(site.expungedMailDays !== undefined ? { expungedMailDays: site.expungedMailDays } : {}),
          ...(site.backup?.offsite ? { backupOffsite: site.backup.offsite } : {}),
          ...(site.backup?.retention ? { backupRetention: site.backup.retention } : {}),
          ...(site.backup?.schedule ? { backupSchedule: site.backup.schedule } : {}),
        },
      },
    },
  };
}

/** The accounts of the paper's school: the head and four teachers. */
export const SMKNH_ACCOUNTS = [
  { name: 'kepsek', fullName: 'Kepala Sekolah' },
  { name: 'guru1', fullName: 'Guru 1' },
  { name: 'guru2', fullName: 'Guru 2' },
  { name: 'guru3', fullName: 'Guru 3' },
  { name: 'guru4', fullName: 'Guru 4' },
] as const;
