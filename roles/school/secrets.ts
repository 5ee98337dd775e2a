import {
  generateSshKey,
  randomSecret,
  selfSignedCertificate,
  type CertificatePair,
  type SecretShape,
} from 'play/vault';
import { generateDkimKey } from '../common/mail-auth.ts';
import type { SchoolSite } from './inventory.ts';

/**
 * How a secret of a school's vault is made: random text of a shape, or a key or certificate made for the site.
 * `tls` and `replication` secrets come in pairs (certificate and key), made together.
 *
 * @example
 * const source: SchoolSecretSource = { kind: 'random', shape: { base64Bytes: 32 } };
 */
export type SchoolSecretSource =
  | { readonly kind: 'random'; readonly shape: SecretShape }
  | { readonly kind: 'tls' }
  | { readonly kind: 'replication' }
  | { readonly kind: 'ssh-key' }
  | { readonly kind: 'dkim-key' };

/**
 * One secret a school's site needs: its name in the vault, what it is for, and how a new one is made.
 *
 * @example
 * const secret: SchoolSecret = { name: 'dkim_key', purpose: 'postfix signs mail with it', source: { kind: 'dkim-key' } };
 */
export interface SchoolSecret {
  readonly name: string;
  readonly purpose: string;
  readonly source: SchoolSecretSource;
}

/**
 * The secrets every school has, whatever its accounts: the names `schoolInventory` reads from the vault.
 *
 * @example
 * SCHOOL_SECRETS.find((s) => s.name === 'keepalived_password')?.source // { kind: 'random', shape: { length: 8 } }
 */
export const SCHOOL_SECRETS: readonly SchoolSecret[] = [
  {
    name: 'tsig_key',
    purpose: 'bind9 zone transfers between the servers (TSIG, HMAC-SHA256)',
    source: { kind: 'random', shape: { base64Bytes: 32 } },
  },
  // VRRP's auth_pass keeps only its first 8 characters.
  {
    name: 'keepalived_password',
    purpose: 'keepalived VRRP authentication between the servers',
    source: { kind: 'random', shape: { length: 8 } },
  },
  {
    name: 'doveadm_password',
    purpose: 'Dovecot replication between the servers (doveadm)',
    source: { kind: 'random', shape: { length: 32 } },
  },
  {
    name: 'replication_certificate',
    purpose: "TLS certificate of Dovecot replication and Kea DHCP HA, naming both servers' addresses",
    source: { kind: 'replication' },
  },
  { name: 'replication_key', purpose: 'the private key of replication_certificate', source: { kind: 'replication' } },
  {
    name: 'peer_ban_key',
    purpose: 'ECDSA P-256 ssh key each server sends its fail2ban bans to the other with',
    source: { kind: 'ssh-key' },
  },
  {
    name: 'dkim_key',
    purpose: "RSA 2048 key postfix signs the school's mail with (DKIM); the zone publishes its public half",
    source: { kind: 'dkim-key' },
  },
  {
    name: 'roundcube_des_key',
    purpose: "Roundcube's session encryption key (24 characters)",
    source: { kind: 'random', shape: { length: 24 } },
  },
  {
    name: 'mariadb_replication_password',
    purpose: "MariaDB replication between the servers (Roundcube's contacts, identities and settings)",
    source: { kind: 'random', shape: { length: 32 } },
  },
  {
    name: 'tls_certificate',
    purpose: "the TLS certificate of the school's mail, webmail and www names (self-signed until a CA's replaces it)",
    source: { kind: 'tls' },
  },
  { name: 'tls_key', purpose: 'the private key of tls_certificate', source: { kind: 'tls' } },
  {
    name: 'backup_password',
    purpose: "restic's password: the backups of the school's mail are encrypted with it (keep a copy off the servers)",
    source: { kind: 'random', shape: { base64Bytes: 32 } },
  },
  {
    name: 'backup_ssh_key',
    purpose: 'ECDSA P-256 ssh key each server stores its backups on the other with (sftp only)',
    source: { kind: 'ssh-key' },
  },
];

/**
 * How an account's password is made: 16 random letters and digits.
 *
 * @example
 * vault.secret(accountSecretName('guru1'), ACCOUNT_PASSWORD_SHAPE)
 */
export const ACCOUNT_PASSWORD_SHAPE: SecretShape = { length: 16 };

/**
 * The vault name of an account's password.
 *
 * @example
 * accountSecretName('guru1') // 'account_guru1'
 */
export function accountSecretName(account: string): string {
  return `account_${account}`;
}

/**
 * Every secret a school's site needs: {@link SCHOOL_SECRETS} and one password per account.
 *
 * @example
 * schoolSecretCatalog([{ name: 'guru1' }]).at(-1) // { name: 'account_guru1', purpose: 'the mail password of guru1', source: { kind: 'random', shape: { length: 16 } } }
 */
export function schoolSecretCatalog(accounts: readonly { readonly name: string }[]): readonly SchoolSecret[] {
  return [
    ...SCHOOL_SECRETS,
    ...accounts.map((a) => ({
      name: accountSecretName(a.name),
      purpose: `the mail password of ${a.name}`,
      source: { kind: 'random', shape: ACCOUNT_PASSWORD_SHAPE } as const,
    })),
  ];
}

/**
 * The names of every secret a school's vault holds, in the catalog's order.
 *
 * @example
 * schoolSecretNames([{ name: 'kepsek' }]) // ['tsig_key', 'keepalived_password', …, 'tls_key', 'account_kepsek']
 */
export function schoolSecretNames(accounts: readonly { readonly name: string }[]): string[] {
  return schoolSecretCatalog(accounts).map((s) => s.name);
}

/**
 * The names a school's TLS certificate must carry: mail., webmail. and www.<domain>, the domain itself, and the VIP
 * (clients that reach the webmail by address).
 *
 * @example
 * schoolCertificateNames({ domain: 'smahb.sch.id', vip: '10.1.0.254' }) // ['mail.smahb.sch.id', 'webmail.smahb.sch.id', 'www.smahb.sch.id', 'smahb.sch.id', '10.1.0.254']
 */
export function schoolCertificateNames(site: Pick<SchoolSite, 'domain' | 'vip'>): string[] {
  return [...['mail', 'webmail', 'www'].map((n) => `${n}.${site.domain}`), site.domain, site.vip];
}

/**
 * Makes every secret of a school's vault, new: random values of the shapes in the catalog, a self-signed TLS
 * certificate for {@link schoolCertificateNames} (unless the school's own is given), a self-signed replication
 * certificate naming both servers' addresses, the fail2ban peer key and the DKIM key. The result is what a new
 * vault holds; keys never touch a file others can read.
 *
 * @example
 * const values = schoolSecrets(site, { certificate: { certificate: readFileSync('mail.pem', 'utf8'), key: readFileSync('mail.key', 'utf8') } });
 * writeVault('inventory/smahb.vault', values, passphrase);
 */
export function schoolSecrets(
  site: SchoolSite,
  options: { readonly certificate?: CertificatePair } = {},
): Record<string, string> {
  const tls =
    options.certificate ??
    selfSignedCertificate({
      organization: site.domain,
      commonName: `mail.${site.domain}`,
      names: schoolCertificateNames(site),
      days: 825,
    });
  const replication = selfSignedCertificate({
    organization: site.domain,
    commonName: `replication.${site.domain}`,
    names: [site.primaryAddress, site.backupAddress],
  });
  const made: Record<string, string> = {
    tls_certificate: tls.certificate,
    tls_key: tls.key,
    replication_certificate: replication.certificate,
    replication_key: replication.key,
  };
  const values: Record<string, string> = {};
  for (const secret of schoolSecretCatalog(site.accounts)) {
    const { source } = secret;
    if (source.kind === 'random') values[secret.name] = randomSecret(source.shape);
    else if (source.kind === 'ssh-key') values[secret.name] = generateSshKey();
    else if (source.kind === 'dkim-key') values[secret.name] = generateDkimKey();
    else values[secret.name] = made[secret.name];
  }
  return values;
}
