import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.ts';
import { startSshd, type TestSshd } from '../../support/sshd.ts';

const playbook = join(import.meta.dirname, '../../fixtures/ssh/site.ts');
let sshd: TestSshd;
let root: string;
let inventory: string;

async function play(...argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main([playbook, '-i', inventory, ...argv], {
    stdout: { write: (t: string) => (stdout += t), isTTY: false },
    stderr: { write: (t: string) => (stderr += t) },
  });
  return { code, stdout, stderr };
}

beforeAll(async () => {
  sshd = await startSshd();
  root = mkdtempSync(join(tmpdir(), 'play-ssh-run-'));
  inventory = join(sshd.dir, 'inventory.mts');
  // A plain object is a valid inventory too; this one points at the test's own sshd.
  writeFileSync(
    inventory,
    `export default ${JSON.stringify({
      hosts: { web1: { address: sshd.host, port: sshd.port, vars: { root } } },
      ssh: { user: 'root', identityFile: sshd.identityFile, knownHostsFile: sshd.knownHostsFile },
    })};\n`,
  );
});
afterAll(async () => {
  await sshd?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe('play over a real sshd', () => {
  it('applies a role, then a re-run changes nothing in at most 2 round trips', async () => {
    const first = await play('--json');
    expect(first.code, first.stderr).toBe(0);
    const firstReport = JSON.parse(first.stdout);
    expect(firstReport.hosts.web1.changed).toBe(4);
    expect(readFileSync(join(root, 'etc/site.conf'), 'utf8')).toContain('greeting = hello');
    expect(readFileSync(join(root, 'reloads.log'), 'utf8')).toBe('reloaded\n');

    const second = await play('--json');
    expect(second.code).toBe(0);
    const report = JSON.parse(second.stdout);
    expect(report.hosts.web1).toMatchObject({ changed: 0, ok: 3, failed: 0, unreachable: 0 });
    expect(report.hosts.web1.commands).toBeLessThanOrEqual(2);
    expect(readFileSync(join(root, 'reloads.log'), 'utf8')).toBe('reloaded\n');
  });

  it('--check after a hand edit shows the diff, changes nothing, exits 3; a real run restores and notifies', async () => {
    const conf = join(root, 'etc/site.conf');
    writeFileSync(conf, readFileSync(conf, 'utf8').replace('listen = 8080', 'listen = 9999'));
    const check = await play('--check', '--detailed-exitcode');
    expect(check.code, check.stderr).toBe(3);
    expect(check.stdout).toContain('-listen = 9999');
    expect(check.stdout).toContain('+listen = 8080');
    expect(check.stdout).toContain('would change');
    expect(readFileSync(conf, 'utf8')).toContain('listen = 9999');
    expect(readFileSync(join(root, 'reloads.log'), 'utf8')).toBe('reloaded\n');

    const fix = await play();
    expect(fix.code).toBe(0);
    expect(readFileSync(conf, 'utf8')).toContain('listen = 8080');
    expect(readFileSync(join(root, 'reloads.log'), 'utf8')).toBe('reloaded\nreloaded\n');
    const after = await play('--check', '--detailed-exitcode');
    expect(after.code).toBe(0);
  });

  it('invalid vars: exit 2 before any connection (sshd sees none)', async () => {
    const badInventory = join(sshd.dir, 'bad-inventory.mts');
    writeFileSync(
      badInventory,
      `export default ${JSON.stringify({
        hosts: { web1: { address: sshd.host, port: sshd.port, vars: { root: 'not/absolute' } } },
        ssh: { user: 'root', identityFile: sshd.identityFile, knownHostsFile: sshd.knownHostsFile },
      })};\n`,
    );
    const accepted = () =>
      sshd
        .log()
        .split('\n')
        .filter((line) => line.includes('Accepted publickey for root')).length;
    const before = accepted();
    let stderr = '';
    const code = await main([playbook, '-i', badInventory], {
      stdout: { write: () => true, isTTY: false },
      stderr: { write: (t: string) => (stderr += t) },
    });
    expect(code).toBe(2);
    expect(stderr).toContain('vars.root');
    await new Promise((r) => setTimeout(r, 300));
    expect(accepted()).toBe(before);
    expect(existsSync(join(root, 'not'))).toBe(false);
  });

  it('refuses a changed host key and touches nothing', async () => {
    const conf = join(root, 'etc/site.conf');
    writeFileSync(conf, 'hand edit\n');
    const result = await play('--known-hosts', sshd.wrongKnownHostsFile, '--accept-new-host-keys');
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('CHANGED');
    expect(result.stdout).toMatch(/unreachable=1/);
    expect(readFileSync(conf, 'utf8')).toBe('hand edit\n');
  });

  it('refuses an unknown host key unless --accept-new-host-keys, which records it', async () => {
    const knownHosts = join(sshd.dir, 'fresh_known_hosts');
    const refused = await play('--known-hosts', knownHosts);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain('--accept-new-host-keys');
    expect(existsSync(knownHosts)).toBe(false);
    const accepted = await play('--known-hosts', knownHosts, '--accept-new-host-keys');
    expect(accepted.code, accepted.stdout).toBe(0);
    expect(readFileSync(knownHosts, 'utf8')).toContain(`[127.0.0.1]:${sshd.port} ssh-ed25519 `);
    expect(readFileSync(join(root, 'etc/site.conf'), 'utf8')).toContain('listen = 8080');
  });
});
