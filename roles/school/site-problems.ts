import { compileRun, defineInventory, MaskTable, Secret, Type, validateAgainst, ValidationError } from 'play';
import type { Vault } from 'play/vault';
import { AccountName, checkSchoolVars, Ipv4, SchoolVars } from '../common/school.ts';
import dhcp, { networkBounds } from '../dhcp/index.ts';
import dns from '../dns/index.ts';
import sshd from '../sshd/index.ts';
import users from '../users/index.ts';
import { schoolInventory, type SchoolSite } from './inventory.ts';
import { schoolPlaybook } from './playbook.ts';

/**
 * The part of a school's site a problem is about: one of {@link SchoolSite}'s fields, or its TLS certificate.
 *
 * @example
 * const field: SchoolSiteField = 'dhcpRange';
 */
export type SchoolSiteField = keyof SchoolSite | 'tlsCertificate';

/**
 * One thing wrong with a school's site, and the field it is about (none when no one field is to blame).
 *
 * @example
 * const problem: SchoolSiteProblem = { field: 'vip', message: 'must differ from both servers\' own addresses' };
 */
export interface SchoolSiteProblem {
  readonly field?: SchoolSiteField;
  readonly message: string;
}

/**
 * What is wrong with a school's site, as a deploy would see it, with nothing made or touched: each field on its own
 * first (the schemas of the school's vars and accounts), then, once every field is well formed, how they fit together,
 * through the roles' own checks (the school vars on each server, the DHCP pool, the reverse zone, the accounts and
 * ssh administrators). Empty when the site can be deployed.
 *
 * @example
 * schoolSiteProblems({ ...site, vip: '10.9.9.9' }) // [{ field: 'vip', message: '10.9.9.9 is outside the LAN 10.1.0.0/24' }]
 */
export function schoolSiteProblems(site: SchoolSite): SchoolSiteProblem[] {
  const problems = fieldProblems(site);
  return problems.length > 0 ? problems : relationProblems(site);
}

/**
 * What a deploy of the site with these secrets would refuse: compiles the school's playbook over its inventory
 * (every role's vars validated and checked, every template rendered) and connects to nothing. Empty when it compiles.
 *
 * @example
 * const problems = await schoolDeployProblems(site, schoolSecrets(site)); // []
 */
export async function schoolDeployProblems(
  site: SchoolSite,
  secrets: Readonly<Record<string, string>>,
): Promise<SchoolSiteProblem[]> {
  const vault: Vault = {
    path: 'the new vault',
    secret: (name) =>
      new Secret(() => {
        const value = secrets[name];
        if (value === undefined) throw new ValidationError(`secret "${name}" is not in the new vault`);
        return value;
      }),
  };
  const inventory = defineInventory({ ...schoolInventory(site, vault), ssh: { user: 'root' } });
  // The secrets the compile meets join this table: every message is masked with it.
  const masks = new MaskTable();
  try {
    await compileRun(schoolPlaybook(inventory), inventory, {}, masks);
    return [];
  } catch (error) {
    if (!(error instanceof ValidationError) || error.issues.length === 0)
      return [{ message: masks.mask(error instanceof Error ? error.message : String(error)) }];
    return error.issues.map((issue) => ({
      field: fieldOfVar(issue.path, error.place.host),
      message: masks.mask(issue.message),
    }));
  }
}

/** The site field a var of the school's inventory comes from (`vars.lanAddress` on the backup is its address). */
function fieldOfVar(path: string, host: string | undefined): SchoolSiteField | undefined {
  const key = path.split(/[.[]/)[1];
  const byVar: Record<string, SchoolSiteField> = {
    schoolName: 'schoolName',
    domain: 'domain',
    lanInterface: 'lanInterface',
    lanNetwork: 'lanNetwork',
    vip: 'vip',
    router: 'router',
    dhcpRange: 'dhcpRange',
    accounts: 'accounts',
    sshAdmins: 'sshAdmins',
    tlsCertificate: 'tlsCertificate',
    tlsKey: 'tlsCertificate',
  };
  if (key === 'lanAddress') return host === 'backup' ? 'backupAddress' : 'primaryAddress';
  if (key === 'peerAddress') return host === 'backup' ? 'primaryAddress' : 'backupAddress';
  return byVar[key];
}

const LINUX_INTERFACE = Type.String({
  pattern: SchoolVars.properties.lanInterface.pattern,
  description: 'a Linux interface name: 1 to 15 letters, digits, _, . and -',
});

/** A value against one schema: a problem saying what the value should be (the schema's description), or none. */
function shapeProblem(field: SchoolSiteField, schema: { description?: string }, value: string): SchoolSiteProblem[] {
  return validateAgainst(schema, value).length === 0
    ? []
    : [{ field, message: `${JSON.stringify(value)} is not ${schema.description ?? 'valid'}` }];
}

/** Whether a text holds a control character (a newline, a tab, DEL …), which no name may. */
const hasControl = (text: string): boolean => [...text].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);

function fieldProblems(site: SchoolSite): SchoolSiteProblem[] {
  const problems: SchoolSiteProblem[] = [];
  if (site.schoolName.trim() === '' || hasControl(site.schoolName))
    problems.push({ field: 'schoolName', message: 'must be a name on one line' });
  problems.push(...shapeProblem('domain', SchoolVars.properties.domain, site.domain));
  problems.push(...shapeProblem('lanInterface', LINUX_INTERFACE, site.lanInterface));
  if (site.lanInterface === '.' || site.lanInterface === '..')
    problems.push({ field: 'lanInterface', message: `"${site.lanInterface}" cannot name an interface` });
  const lan = shapeProblem('lanNetwork', SchoolVars.properties.lanNetwork, site.lanNetwork);
  problems.push(...lan);
  const [address, bits] = site.lanNetwork.split('/');
  if (lan.length === 0 && networkBounds(site.lanNetwork).network !== address) {
    problems.push({
      field: 'lanNetwork',
      message: `${site.lanNetwork} has host bits set: the network is ${networkBounds(site.lanNetwork).network}/${bits}`,
    });
  }
  for (const field of ['primaryAddress', 'backupAddress', 'vip', 'router'] as const)
    problems.push(...shapeProblem(field, Ipv4, site[field]));
  for (const end of [site.dhcpRange.start, site.dhcpRange.end]) problems.push(...shapeProblem('dhcpRange', Ipv4, end));
  if (site.accounts.length === 0)
    problems.push({ field: 'accounts', message: 'the school needs at least one account' });
  for (const account of site.accounts) {
    problems.push(...shapeProblem('accounts', AccountName, account.name));
    // A passwd comment (the GECOS field) cannot hold ':' or a newline.
    if (account.fullName.trim() === '' || /[:]/.test(account.fullName) || hasControl(account.fullName)) {
      problems.push({
        field: 'accounts',
        message: `the full name of ${account.name} must be one line of text without ':'`,
      });
    }
  }
  for (const admin of site.sshAdmins ?? []) problems.push(...shapeProblem('sshAdmins', AccountName, admin));
  return problems;
}

function relationProblems(site: SchoolSite): SchoolSiteProblem[] {
  if (site.primaryAddress === site.backupAddress)
    return [{ field: 'backupAddress', message: `must differ from the primary's address ${site.primaryAddress}` }];
  // Loaded lazily and never revealed: these checks read no secret.
  const inventory = schoolInventory(site, { path: 'none', secret: () => new Secret(() => 'unused') });
  const problems: SchoolSiteProblem[] = [];
  const add = (field: SchoolSiteField | undefined, message: string) => {
    if (!problems.some((p) => p.field === field && p.message === message)) problems.push({ field, message });
  };
  for (const host of ['primary', 'backup'] as const) {
    const vars = { ...inventory.groups.servers.vars, ...inventory.hosts[host].vars } as unknown as SchoolVars &
      Record<string, never>;
    for (const issue of checkSchoolVars(vars)) add(fieldOfVar(issue.path, host), issue.message);
  }
  if (problems.length > 0) return problems;
  for (const host of ['primary', 'backup'] as const) {
    const vars = { ...inventory.groups.servers.vars, ...inventory.hosts[host].vars };
    // Beyond the school vars (right by now), every complaint of the dhcp role's check is about the pool.
    for (const issue of dhcp.check?.({ ...dhcp.defaults, ...vars } as never) ?? [])
      add('dhcpRange', `${labelOfVar(issue.path, host)}${issue.message}`);
    for (const issue of dns.check?.({ ...dns.defaults, ...vars } as never) ?? [])
      add(fieldOfVar(issue.path, host), issue.message);
  }
  const { accounts, sshAdmins } = inventory.groups.servers.vars;
  for (const issue of users.check?.({ ...users.defaults, accounts } as never) ?? []) add('accounts', issue.message);
  for (const issue of sshd.check?.({ ...sshd.defaults, sshAdmins, accounts } as never) ?? [])
    add('sshAdmins', issue.message);
  return problems;
}

/** What an address var of the dhcp role's message is, said before it: `the VIP: `. */
function labelOfVar(path: string, host: string): string {
  const field = path.startsWith('vars.dhcpRange') ? 'dhcpRange' : fieldOfVar(path, host);
  const labels: Partial<Record<SchoolSiteField, string>> = {
    vip: 'the VIP',
    router: 'the router',
    primaryAddress: 'the primary',
    backupAddress: 'the backup',
  };
  return field && labels[field] ? `${labels[field]}: ` : '';
}
