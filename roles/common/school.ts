import { SecretType, Type, type Static } from 'play';

const OCTET = '(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';

/** An IPv4 address in dotted form. */
export const Ipv4 = Type.String({ pattern: `^(${OCTET}\\.){3}${OCTET}$`, description: 'an IPv4 address' });

/**
 * An account's name: the login, the mailbox's user and the local part of its address. 1 to 32 characters:
 * lowercase letters, digits, `_` and `-`, and dots between them (`guru.mtk`), starting with a letter. Every
 * part of the site takes such a name (useradd, Dovecot's user list, postfix's tables, the Maildir scripts).
 */
export const AccountName = Type.String({
  pattern: '^(?=.{1,32}$)[a-z][a-z0-9_-]*(\\.[a-z0-9_-]+)*$',
  description: 'login and mailbox name: a-z, 0-9, _ and -, dots between them, starting with a letter, at most 32',
});

/**
 * The names an account cannot have on the school's Debian 12 servers, with why: the system users and groups of
 * Debian itself (base-passwd), of systemd and of the packages the site installs (useradd fails on them, or the
 * account would share a system group), the group the dovecot role adds, and the role addresses /etc/aliases sends
 * elsewhere (mail to such an account would never reach it).
 */
export const RESERVED_ACCOUNT_NAMES: ReadonlyMap<string, string> = new Map([
  ...[
    'root',
    'daemon',
    'bin',
    'sys',
    'sync',
    'games',
    'man',
    'lp',
    'mail',
    'news',
    'uucp',
    'proxy',
    'www-data',
    'backup',
    'list',
    'irc',
    'gnats',
    'nobody',
  ].map((n) => [n, 'a Debian system user'] as const),
  ...[
    'adm',
    'tty',
    'disk',
    'kmem',
    'dialout',
    'fax',
    'voice',
    'cdrom',
    'floppy',
    'tape',
    'sudo',
    'audio',
    'dip',
    'operator',
    'src',
    'shadow',
    'utmp',
    'video',
    'sasl',
    'plugdev',
    'staff',
    'users',
    'nogroup',
  ].map((n) => [n, 'a Debian system group'] as const),
  ...[
    'messagebus',
    'sshd',
    'polkitd',
    'tss',
    'statd',
    'avahi',
    'uuidd',
    'tcpdump',
    'ntp',
    'ntpsec',
    'postgres',
    'mysql',
    'redis',
    'opendkim',
    'clamav',
    'debian-spamd',
    'amavis',
    'fetchmail',
    'dhcpcd',
    '_kea',
  ].map((n) => [n, 'a system user of Debian packages'] as const),
  ...[
    'input',
    'kvm',
    'render',
    'sgx',
    'netdev',
    'crontab',
    'lpadmin',
    'bluetooth',
    'scanner',
    'ssl-cert',
    'postdrop',
    'clock',
  ].map((n) => [n, 'a system group of Debian packages'] as const),
  ...['postfix', 'dovecot', 'dovenull', 'bind'].map(
    (n) => [n, 'a system user of the mail stack the site installs'] as const,
  ),
  ['dovecot-sync', 'the group the dovecot role makes for replication'] as const,
  ...['postmaster', 'hostmaster', 'webmaster', 'abuse', 'mailer-daemon'].map(
    (n) => [n, 'a role address in /etc/aliases: its mail goes to the postmaster account'] as const,
  ),
]);

/** Why an account cannot have this name on the servers, or undefined when it can. */
export function reservedAccountName(name: string): string | undefined {
  if (name.startsWith('systemd-')) return 'a name systemd keeps for its own users';
  return RESERVED_ACCOUNT_NAMES.get(name);
}

/** A mailbox quota as the inventory writes it: a whole number of megabytes or gigabytes, e.g. 500M or 2G. */
export const QUOTA_PATTERN = '^[1-9][0-9]{0,5}[MG]$';

/**
 * A sending limit: at most `recipients` recipients in any `seconds`, counted per login over 587, 465 and the webmail
 * (which sends through 587). A message to 30 people counts 30.
 */
export const SendingLimit = Type.Object(
  {
    recipients: Type.Integer({ minimum: 1 }),
    seconds: Type.Integer({ minimum: 1, description: 'the window, e.g. 3600 for an hour, 86400 for a day' }),
  },
  { additionalProperties: false },
);
export type SendingLimit = Static<typeof SendingLimit>;

/** An account of the school: a mailbox and a login for the webmail. */
export const Account = Type.Object(
  {
    name: AccountName,
    fullName: Type.String({ minLength: 1 }),
    password: Type.Optional(SecretType()),
    state: Type.Optional(Type.Union([Type.Literal('present'), Type.Literal('absent')])),
    quota: Type.Optional(
      Type.String({
        pattern: QUOTA_PATTERN,
        description: "this account's mailbox quota (the school's mailQuota when not given), e.g. 5G or 500M",
      }),
    ),
    sendingLimits: Type.Optional(
      Type.Array(SendingLimit, {
        description: "this account's own sending limits instead of the school's sendingLimits ([]: none)",
      }),
    ),
  },
  { additionalProperties: false },
);
export type Account = Static<typeof Account>;

/** The accounts that are to exist (not listed as absent). */
export function presentAccounts<T extends Pick<Account, 'state'>>(accounts: readonly T[]): T[] {
  return accounts.filter((a) => a.state !== 'absent');
}

/**
 * The vars every mail-stack role shares: the school, its LAN, the VIP and the two servers. Inventories set
 * them as group vars of `servers` (and `haRole`, `lanAddress`, `peerAddress`, `peerName` per host).
 */
export const SchoolVars = Type.Object({
  schoolName: Type.String({ minLength: 1 }),
  domain: Type.String({
    pattern: '^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$',
    description: 'the school mail domain, e.g. smknh.sch.id',
  }),
  lanInterface: Type.String({ pattern: '^[a-zA-Z0-9_.-]{1,15}$' }),
  lanNetwork: Type.String({
    pattern: `^(${OCTET}\\.){3}${OCTET}/([0-9]|[12][0-9]|3[0-2])$`,
    description: 'the LAN in CIDR form',
  }),
  vip: Ipv4,
  router: Ipv4,
  haRole: Type.Union([Type.Literal('primary'), Type.Literal('backup')]),
  lanAddress: Ipv4,
  peerAddress: Ipv4,
  peerName: Type.String({ minLength: 1 }),
});
export type SchoolVars = Static<typeof SchoolVars>;

/** The checks JSON Schema cannot express: every address of the school lies in its LAN. */
export function checkSchoolVars(vars: SchoolVars): { path: string; message: string }[] {
  const issues: { path: string; message: string }[] = [];
  for (const key of ['vip', 'router', 'lanAddress', 'peerAddress'] as const) {
    if (!inNetwork(vars[key], vars.lanNetwork))
      issues.push({ path: `vars.${key}`, message: `${vars[key]} is outside the LAN ${vars.lanNetwork}` });
  }
  if (vars.vip === vars.lanAddress || vars.vip === vars.peerAddress)
    issues.push({ path: 'vars.vip', message: "must differ from both servers' own addresses" });
  return issues;
}

/** Whether an IPv4 address lies in a CIDR network. */
export function inNetwork(address: string, cidr: string): boolean {
  const [network, bits] = cidr.split('/');
  const toNumber = (a: string) => a.split('.').reduce((n, part) => n * 256 + Number(part), 0);
  const mask = Number(bits) === 0 ? 0 : (0xffffffff << (32 - Number(bits))) >>> 0;
  return (toNumber(address) & mask) >>> 0 === (toNumber(network) & mask) >>> 0;
}

/** The netmask of a CIDR network, e.g. `255.255.255.0` for /24. */
export function netmaskOf(cidr: string): string {
  const bits = Number(cidr.split('/')[1]);
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return [24, 16, 8, 0].map((shift) => (mask >>> shift) & 255).join('.');
}
