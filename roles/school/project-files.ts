import type { SchoolSite } from './inventory.ts';
import { schoolSecretCatalog } from './secrets.ts';

/**
 * Where the passphrase of a new school project's vault comes from.
 *
 * @example
 * const passphrase: ProjectPassphrase = passwordFileGiven ? 'own-file' : 'project-file';
 */
export type ProjectPassphrase =
  /** A random one `play init` wrote to the project's `.vault-password` (mode 0600, never committed). */
  | 'project-file'
  /** A file the admin keeps elsewhere (`--vault-password-file` or `PLAY_VAULT_PASSWORD_FILE`). */
  | 'own-file'
  /** Typed at a terminal, and asked for again by every run. */
  | 'typed';

/**
 * What a new school project is made from: the site, how play logs in, play's version and where the passphrase lives.
 *
 * @example
 * const project: SchoolProject = { site, ssh: { user: 'root' }, playVersion: '0.1.0', passphrase: 'project-file', certificate: 'self-signed' };
 */
export interface SchoolProject {
  readonly site: SchoolSite;
  readonly ssh: { readonly user: string; readonly identityFile?: string; readonly knownHostsFile?: string };
  /** play's own version, for the project's dependency (`^0.1.0`). */
  readonly playVersion: string;
  /** The ranges of `typescript` and `@types/node` play is built with: the project's devDependencies, for editors and tsc. */
  readonly typeScript?: { readonly typescript: string; readonly typesNode: string };
  readonly passphrase: ProjectPassphrase;
  /** Whether `tls_certificate` is the school's own (a CA's) or a self-signed one `play init` made. */
  readonly certificate: 'own' | 'self-signed';
}

/**
 * One text file of a new project: its path inside the project and its content.
 *
 * @example
 * const file: ProjectFile = { path: '.gitignore', content: 'node_modules/\n.vault-password\n' };
 */
export interface ProjectFile {
  readonly path: string;
  readonly content: string;
}

/**
 * The name of the project's passphrase file (beside package.json); `.gitignore` keeps it out of git.
 *
 * @example
 * writeFileSync(join(dir, PROJECT_PASSPHRASE_FILE), `${passphrase}\n`, { flag: 'wx', mode: 0o600 });
 */
export const PROJECT_PASSPHRASE_FILE = '.vault-password';

/**
 * A school's short name, used for its inventory and vault files: the domain's first label.
 *
 * @example
 * schoolSlug('smahb.sch.id') // 'smahb'
 */
export function schoolSlug(domain: string): string {
  return domain.split('.')[0];
}

/**
 * Where a school project keeps its encrypted vault, inside the project.
 *
 * @example
 * projectVaultPath('smahb.sch.id') // 'inventory/smahb.vault'
 */
export function projectVaultPath(domain: string): string {
  return `inventory/${schoolSlug(domain)}.vault`;
}

/**
 * The text files of a new school project (everything but the vault and the passphrase): package.json,
 * tsconfig.json, the inventory, the site playbook, .gitignore and a README for the school.
 *
 * @example
 * for (const file of schoolProjectFiles({ site, ssh: { user: 'root' }, playVersion: '0.1.0', passphrase: 'project-file' })) {
 *   writeFileSync(join(dir, file.path), file.content, { flag: 'wx' });
 * }
 */
export function schoolProjectFiles(project: SchoolProject): ProjectFile[] {
  const slug = schoolSlug(project.site.domain);
  return [
    { path: 'package.json', content: packageJson(project) },
    { path: 'tsconfig.json', content: tsconfigJson() },
    { path: `inventory/${slug}.ts`, content: inventoryFile(project) },
    { path: 'playbooks/site.ts', content: playbookFile(slug) },
    { path: 'playbooks/backup.ts', content: backupPlaybookFile(slug) },
    { path: 'playbooks/restore.ts', content: restorePlaybookFile(slug) },
    { path: 'playbooks/upgrade.ts', content: upgradePlaybookFile(slug) },
    {
      path: '.gitignore',
      content: `node_modules/\n# The vault's passphrase: never committed (the vault itself is encrypted and is).\n${PROJECT_PASSPHRASE_FILE}\n`,
    },
    { path: 'README.md', content: readme(project) },
  ];
}

/** An npm package name from the school's name: `SMA Harapan Bangsa` → `sma-harapan-bangsa`. */
function packageName(site: SchoolSite): string {
  const fromName = site.schoolName
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 200);
  return `${fromName || schoolSlug(site.domain)}-webmail`;
}

function packageJson(project: SchoolProject): string {
  const pkg = {
    name: packageName(project.site),
    private: true,
    description: `The webmail of ${project.site.schoolName} (${project.site.domain}), deployed with play`,
    type: 'module',
    scripts: { site: 'play site', check: 'play site --check', verify: 'play verify site' },
    dependencies: { play: `^${project.playVersion}` },
    ...(project.typeScript
      ? { devDependencies: { '@types/node': project.typeScript.typesNode, typescript: project.typeScript.typescript } }
      : {}),
  };
  return `${JSON.stringify(pkg, null, 2)}\n`;
}

function tsconfigJson(): string {
  const config = {
    compilerOptions: {
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      allowImportingTsExtensions: true,
      noEmit: true,
      strict: true,
      skipLibCheck: true,
      types: ['node'],
    },
    include: ['inventory', 'playbooks'],
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

/** Text that cannot end the TSDoc comment it is put in. */
function commentText(text: string): string {
  return text.replace(/\*\//g, '*\\/');
}

/** A TypeScript string literal in single quotes. */
function quoted(text: string): string {
  return `'${JSON.stringify(text).slice(1, -1).replace(/\\"/g, '"').replace(/'/g, "\\'")}'`;
}

function inventoryFile(project: SchoolProject): string {
  const { site, ssh } = project;
  const slug = schoolSlug(site.domain);
  const accounts = site.accounts
    .map((a) => `    { name: ${quoted(a.name)}, fullName: ${quoted(a.fullName)} },`)
    .join('\n');
  const sshFields = [
    `user: ${quoted(ssh.user)}`,
    ...(ssh.identityFile ? [`identityFile: ${quoted(ssh.identityFile)}`] : []),
    ...(ssh.knownHostsFile ? [`knownHostsFile: ${quoted(ssh.knownHostsFile)}`] : []),
  ];
  return `import { join } from 'node:path';
import { defineInventory } from 'play';
import { openVault } from 'play/vault';
import { schoolInventory, type SchoolSite } from 'play/school';

/**
 * ${commentText(site.schoolName)} (${site.domain}): its two servers, the VIP and the accounts. Written by \`play init\`; edit
 * it as the school changes (a new teacher: an account here, and its password in the vault with
 * \`npx play vault set ${projectVaultPath(site.domain)} account_<name>\`).
 */
const site: SchoolSite = {
  schoolName: ${quoted(site.schoolName)},
  domain: ${quoted(site.domain)},
  lanInterface: ${quoted(site.lanInterface)},
  lanNetwork: ${quoted(site.lanNetwork)},
  primaryAddress: ${quoted(site.primaryAddress)},
  backupAddress: ${quoted(site.backupAddress)},
  vip: ${quoted(site.vip)},
  router: ${quoted(site.router)},
  dhcpRange: { start: ${quoted(site.dhcpRange.start)}, end: ${quoted(site.dhcpRange.end)} },
  accounts: [
${accounts}
  ],
  sshAdmins: [${(site.sshAdmins ?? [ssh.user]).map(quoted).join(', ')}],
};

// Encrypted, and committed; its passphrase comes from --vault-password-file, PLAY_VAULT_PASSWORD_FILE, or else the
// project's own ${PROJECT_PASSPHRASE_FILE} (never committed).
const vault = openVault(join(import.meta.dirname, ${quoted(`${slug}.vault`)}), { passwordFile: join(import.meta.dirname, ${quoted(`../${PROJECT_PASSPHRASE_FILE}`)}) });

export default defineInventory({
  ...schoolInventory(site, vault),
  ssh: { ${sshFields.join(', ')} },
});
`;
}

function playbookFile(slug: string): string {
  return `import { schoolPlaybook } from 'play/school';
import inventory from '../inventory/${slug}.ts';

/** The school's webmail on its two servers: \`npx play site\` (\`--check\` first), \`npx play verify site\` after. */
export default schoolPlaybook(inventory);
`;
}

function backupPlaybookFile(slug: string): string {
  return `import { schoolBackupPlaybook } from 'play/school';
import inventory from '../inventory/${slug}.ts';

/** A backup of both servers now, as each night's: \`npx play backup\`. */
export default schoolBackupPlaybook(inventory);
`;
}

function upgradePlaybookFile(slug: string): string {
  return `import { schoolUpgradePlaybook } from 'play/school';
import inventory from '../inventory/${slug}.ts';

/** Both servers from Debian 12 to 13, one at a time while the other serves: \`npx play upgrade\` (\`--check\` first). */
export default schoolUpgradePlaybook(inventory);
`;
}

function restorePlaybookFile(slug: string): string {
  return `import { schoolRestorePlaybook } from 'play/school';
import inventory from '../inventory/${slug}.ts';

/** One account's mail back from the backups: \`npx play restore -e account=NAME [-e folder=NAME] [-e at=ISO-TIME]\`. */
export default schoolRestorePlaybook(inventory);
`;
}

function readme(project: SchoolProject): string {
  const { site, ssh } = project;
  const slug = schoolSlug(site.domain);
  const vault = projectVaultPath(site.domain);
  const firstAccount = site.accounts[0]?.name ?? 'guru1';
  const rows: [string, string][] = [
    ['school', site.schoolName],
    ['domain', site.domain],
    ['LAN', `${site.lanNetwork} on ${site.lanInterface}`],
    ['primary server', site.primaryAddress],
    ['backup server', site.backupAddress],
    ['VIP (mail., webmail.)', site.vip],
    ['router', site.router],
    ['DHCP pool', `${site.dhcpRange.start} – ${site.dhcpRange.end}`],
    ['accounts', site.accounts.map((a) => (a.fullName === a.name ? a.name : `${a.name} (${a.fullName})`)).join(', ')],
    [
      'ssh',
      `as ${ssh.user}${ssh.identityFile ? ` with ${ssh.identityFile}` : ''}${ssh.knownHostsFile ? `, host keys in ${ssh.knownHostsFile}` : ''}`,
    ],
  ];
  const cell = (text: string) => text.replace(/\|/g, '\\|');
  const passphrase = {
    'project-file': `The vault's passphrase is in \`${PROJECT_PASSPHRASE_FILE}\` (mode 0600), which \`.gitignore\` keeps out of git: keep a copy somewhere safe (a password manager), because without it the vault cannot be opened. Another admin gets the passphrase from you, not from git.`,
    'own-file':
      "The vault's passphrase is in the file you gave `play init`: give it to every run with `--vault-password-file FILE` or `PLAY_VAULT_PASSWORD_FILE=FILE` (or copy it to `.vault-password`, mode 0600, which `.gitignore` keeps out of git).",
    typed:
      "The vault's passphrase is the one you typed at `play init`: every run asks for it on the terminal (or give it with `--vault-password-file FILE` or `PLAY_VAULT_PASSWORD_FILE=FILE`).",
  }[project.passphrase];
  return `# ${site.schoolName}: webmail

The highly available webmail of ${site.schoolName} (\`${site.domain}\`) on two Debian 13 or 12 servers, deployed with
play: bind9, Kea DHCP (HA), postfix, Dovecot with replication, Roundcube and
keepalived holding the VIP. This project was written by \`play init\`.

| | |
|---|---|
${rows.map(([name, value]) => `| ${name} | ${cell(value)} |`).join('\n')}

The site is described in \`inventory/${slug}.ts\`; \`playbooks/site.ts\` deploys it.

## Commands

\`\`\`sh
npm install                              # play and its TypeScript loader
npx play site --check                    # what would change, changing nothing
npx play site                            # deploy: the primary first, then the backup
npx play verify site                     # the pair's health check
npx play backup                          # a backup of both servers now (each night's runs by itself)
npx play restore -e account=${firstAccount} --check   # what a restore of ${firstAccount}'s mail would bring back
npx play vault view ${vault}       # the secrets (shown on the terminal only)
npx play vault rotate ${vault} account_${firstAccount}   # a new password for ${firstAccount}; the next deploy sets it
\`\`\`

## Secrets

Every secret lives in \`${vault}\`, encrypted (AES-256-GCM, key from the passphrase by scrypt). The vault **is
committed**; \`${PROJECT_PASSPHRASE_FILE}\` **is not**. ${passphrase}

| secret | what it is |
|---|---|
${schoolSecretCatalog(site.accounts)
  .map((s) => `| \`${s.name}\` | ${cell(s.purpose)} |`)
  .join('\n')}

${
  project.certificate === 'own'
    ? 'The TLS certificate (`tls_certificate`, `tls_key`) is the one given to `play init`; renew it before it ends.'
    : "The TLS certificate (`tls_certificate`, `tls_key`) is self-signed: mail clients and browsers warn until a CA's certificate for mail., webmail. and www." +
      site.domain +
      ' replaces it.'
}
A rotated secret reaches the servers on the next \`npx play site\`.
`;
}
