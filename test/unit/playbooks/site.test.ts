import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.ts';
import { SshConnection } from '../../../src/connection/ssh.ts';
import { compileRun } from '../../../src/engine/compile.ts';
import { ValidationError } from '../../../src/errors.ts';
import { defineInventory } from '../../../src/index.ts';
import { generateSshKey, openVault, selfSignedCertificate } from '../../../src/vault/index.ts';
import { vi } from 'vitest';
import site from '../../../playbooks/site.ts';
import { SMKNH_ACCOUNTS, schoolInventory, type SchoolSite } from '../../../roles/school/index.ts';
import { generateDkimKey } from '../../../roles/common/mail-auth.ts';

let dir: string;
let vaultPath: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'play-site-'));
  const tls = selfSignedCertificate({ commonName: 'mail.test.example', names: ['mail.test.example'], days: 30 });
  const replication = selfSignedCertificate({
    commonName: 'replication.school.test',
    names: [school.primaryAddress, school.backupAddress],
    days: 30,
  });
  vaultPath = join(dir, 'vault.json');
  writeFileSync(
    vaultPath,
    JSON.stringify({
      tls_key: tls.key,
      tls_certificate: tls.certificate,
      replication_key: replication.key,
      replication_certificate: replication.certificate,
      peer_ban_key: generateSshKey(),
      backup_ssh_key: generateSshKey(),
      dkim_key: generateDkimKey(),
    }),
    { mode: 0o600 },
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const school: SchoolSite = {
  schoolName: 'Test School',
  domain: 'school.test',
  lanInterface: 'eth0',
  lanNetwork: '198.18.90.0/24',
  primaryAddress: '198.18.90.1',
  backupAddress: '198.18.90.2',
  vip: '198.18.90.254',
  router: '198.18.90.10',
  dhcpRange: { start: '198.18.90.100', end: '198.18.90.200' },
  accounts: SMKNH_ACCOUNTS,
};

function inventoryFor(site: SchoolSite, tweak: (inventory: ReturnType<typeof schoolInventory>) => void = () => {}) {
  const inventory = schoolInventory(site, openVault(vaultPath, { generate: true }));
  tweak(inventory);
  return defineInventory({ ...inventory, ssh: { user: 'root' } });
}

async function refusal(inventory: ReturnType<typeof defineInventory>): Promise<ValidationError> {
  const error = await compileRun(site, inventory).then(
    () => undefined,
    (e) => e,
  );
  expect(error).toBeInstanceOf(ValidationError);
  return error as ValidationError;
}

describe('the site playbook', () => {
  it('compiles for a school: every role on both servers, templates rendered, primary first', async () => {
    const run = await compileRun(site, inventoryFor(school));
    expect(run.plays[0].batches).toEqual([['primary'], ['backup']]);
    const roles = new Set(run.plays[0].work.get('primary')!.works[0].tasks.map((t) => t.role));
    expect([...roles]).toEqual([
      'sshd',
      'tls',
      'users',
      'dovecot',
      'postfix',
      'dns',
      'dhcp',
      'apache',
      'mariadb',
      'roundcube',
      'fail2ban',
      'backup',
      'keepalived',
    ]);
  });

  it('refuses a VIP outside the LAN, naming role, host and var, before any host is touched', async () => {
    const error = await refusal(inventoryFor({ ...school, vip: '198.19.99.254' }));
    expect(error.message).toMatch(/role \w+ on host (backup|primary)/);
    expect(error.message).toContain('vars.vip');
    expect(error.message).toContain('outside the LAN');
  });

  it("refuses a replication certificate that does not name both servers' addresses, before any host is touched", async () => {
    // The servers moved (another LAN), the vault still holds the old certificate.
    const error = await refusal(
      inventoryFor({
        ...school,
        lanNetwork: '198.18.91.0/24',
        primaryAddress: '198.18.91.1',
        backupAddress: '198.18.91.2',
        vip: '198.18.91.254',
        router: '198.18.91.10',
        dhcpRange: { start: '198.18.91.100', end: '198.18.91.200' },
      }),
    );
    expect(error.message).toMatch(/role dovecot on host (primary|backup)/);
    expect(error.message).toContain('vars.replicationCertificate');
    expect(error.message).toContain('the certificate does not name 198.18.91.1 (subjectAltName IP:198.18.91.1)');
    expect(error.message).toContain('the certificate does not name 198.18.91.2');
  });

  it('refuses a bad domain, naming the var', async () => {
    const error = await refusal(inventoryFor({ ...school, domain: 'Bad Domain!' }));
    expect(error.message).toContain('vars.domain');
  });

  it('refuses an account without a password, naming the account', async () => {
    const error = await refusal(
      inventoryFor(school, (inventory) => {
        const accounts = inventory.groups.servers.vars.accounts as { name: string; password?: unknown }[];
        delete accounts[1].password;
      }),
    );
    expect(error.message).toMatch(/role \w+ on host (backup|primary)/);
    expect(error.message).toMatch(/vars\.accounts(\.1\b|\[1\])/);
    expect(error.message).toContain('guru1');
  });

  it('refuses a postmaster that is not a present account, naming the var and the accounts', async () => {
    const error = await refusal(
      inventoryFor(school, (inventory) => {
        (inventory.groups.servers.vars as Record<string, unknown>).postmaster = 'nobody';
      }),
    );
    expect(error.message).toMatch(/role postfix on host (backup|primary)/);
    expect(error.message).toContain('vars.postmaster');
    expect(error.message).toContain('"nobody" is not a present account (kepsek, guru1');
  });

  it("the school's own inventory lists hosts and tasks with no vault and no connection", async () => {
    const open = vi.spyOn(SshConnection, 'open');
    let stdout = '';
    const code = await main(['playbooks/site.ts', '--list-hosts', '--list-tasks'], {
      stdout: { write: (t: string) => (stdout += t) },
      stderr: { write: () => true },
    });
    expect(code).toBe(0);
    expect(stdout).toContain('batch 1: primary');
    expect(stdout).toContain('keepalived › config set /etc/keepalived');
    expect(open).not.toHaveBeenCalled();
    open.mockRestore();
  });

  const withAccounts = (names: string[]) =>
    inventoryFor({
      ...school,
      accounts: [...SMKNH_ACCOUNTS, ...names.map((name) => ({ name, fullName: `Akun ${name}` }))],
    });

  it('refuses an account named like a Debian system user or group, naming the account and why, before any host is touched', async () => {
    for (const [name, why] of [
      ['operator', 'a Debian system group'],
      ['backup', 'a Debian system user'],
      ['www-data', 'a Debian system user'],
      ['postfix', 'a system user of the mail stack the site installs'],
      ['postmaster', 'a role address in /etc/aliases'],
      ['systemd-x', 'a name systemd keeps'],
    ]) {
      const error = await refusal(withAccounts([name]));
      expect(error.message).toMatch(/role users on host (backup|primary)/);
      expect(error.message).toMatch(/vars\.accounts(\.5\b|\[5\])/);
      expect(error.message).toContain(`"${name}" is ${why}`);
    }
  });

  it('refuses account names no mail address or helper can take', async () => {
    for (const name of ['guru..mtk', 'guru.', '.guru', 'Guru1', 'guru mtk', 'guru@x', '1guru', 'a'.repeat(33)]) {
      const error = await refusal(withAccounts([name]));
      expect(error.message, name).toMatch(/vars\.accounts(\.5|\[5\])\.name/);
    }
  });

  it('takes names with a dot, a hyphen or an underscore (guru.mtk, tata-usaha, bk_01): every role renders them', async () => {
    const run = await compileRun(site, withAccounts(['guru.mtk', 'tata-usaha', 'bk_01']));
    const titles = run.plays[0].work.get('primary')!.works[0].tasks.map((t) => t.task.name);
    for (const name of ['guru.mtk', 'tata-usaha', 'bk_01']) expect(titles).toContain(`user ${name}`);
  });

  it('the CLI exits 2 for a reserved account name and says which and why, with no connection', async () => {
    const file = join(dir, 'operator-inventory.ts');
    const repo = join(import.meta.dirname, '../../..');
    writeFileSync(
      file,
      `import { defineInventory } from ${JSON.stringify(join(repo, 'src/index.ts'))};
import { openVault } from ${JSON.stringify(join(repo, 'src/vault/index.ts'))};
import { SMKNH_ACCOUNTS, schoolInventory } from ${JSON.stringify(join(repo, 'roles/school/index.ts'))};
const site = ${JSON.stringify({ ...school, accounts: undefined })};
export default defineInventory({ ...schoolInventory({ ...site, accounts: [...SMKNH_ACCOUNTS, { name: 'operator', fullName: 'Operator' }] }, openVault(${JSON.stringify(vaultPath)}, { generate: true })), ssh: { user: 'root' } });
`,
    );
    const open = vi.spyOn(SshConnection, 'open');
    let stderr = '';
    const code = await main(['playbooks/site.ts', '-i', file, '--check'], {
      stdout: { write: () => true },
      stderr: { write: (t: string) => (stderr += t) },
    });
    expect(code).toBe(2);
    expect(stderr).toContain('"operator" is a Debian system group on Debian 12');
    expect(open).not.toHaveBeenCalled();
    open.mockRestore();
  });
});
