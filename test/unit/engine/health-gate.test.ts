import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalConnection } from '../../../src/connection/local.ts';
import { compileRun } from '../../../src/engine/compile.ts';
import { exitCodeOf } from '../../../src/engine/report.ts';
import { executeRun, type HealthGate } from '../../../src/engine/run.ts';
import { formatGate } from '../../../src/cli/reporters/plain.ts';
import { MaskTable } from '../../../src/mask-table.ts';
import { healthGate } from '../../../src/engine/verify.ts';
import { defineInventory, definePlaybook, defineRole, file, sh, type ShellCommand } from '../../../src/index.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'play-gate-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function deploy(
  gate: HealthGate,
  options: { check?: boolean; healthGate?: boolean; checkHealthFirst?: boolean | { unless: ShellCommand } } = {},
) {
  const role = defineRole({
    name: 'web',
    tasks: ({ host }) => [file({ path: join(dir, `${host}.conf`), content: 'new\n' })],
  });
  const inventory = defineInventory({
    hosts: {
      primary: { address: 'localhost', connection: 'local' },
      backup: { address: 'localhost', connection: 'local' },
    },
  });
  const playbook = definePlaybook({
    inventory,
    plays: [
      {
        name: 'pair',
        hosts: ['primary', 'backup'],
        serial: 1,
        roles: [role],
        ...(options.healthGate !== undefined ? { healthGate: options.healthGate } : {}),
        ...(options.checkHealthFirst !== undefined ? { checkHealthFirst: options.checkHealthFirst } : {}),
      },
    ],
  });
  const asked: (string[] | string)[] = [];
  const report = await executeRun(await compileRun(playbook, inventory), {
    check: options.check ?? false,
    forks: 10,
    connect: async (h) => new LocalConnection(h),
    gate: async (hosts, gateOptions) => {
      asked.push(gateOptions?.everyRow ? `every row of ${hosts.join(', ')}` : [...hosts]);
      return gate(hosts, gateOptions);
    },
  });
  return { report, asked };
}

describe('the health gate between serial batches', () => {
  it('a failing check after the first batch stops the run: the next batch is never touched, exit 1, the check named', async () => {
    const broken = {
      check: 'smtp 25',
      host: 'primary',
      detail: '198.18.30.1:25 banner: no answer within the deadline (2001 ms)',
    };
    const { report, asked } = await deploy(async (hosts) => (hosts.includes('primary') ? [broken] : []));
    expect(asked).toEqual([['primary']]);
    expect(existsSync(join(dir, 'primary.conf'))).toBe(true);
    expect(existsSync(join(dir, 'backup.conf'))).toBe(false);
    expect(report.gates).toEqual([{ hosts: ['primary'], failed: [broken], skipped: ['backup'] }]);
    expect(report.hosts.backup).toMatchObject({ ok: 0, changed: 0 });
    expect(exitCodeOf(report)).toBe(1);
    expect(formatGate(report.gates[0])).toBe(
      'GATE after primary: FAILED, smtp 25 primary: 198.18.30.1:25 banner: no answer within the deadline (2001 ms); the run stops, backup not touched',
    );
  });

  it('a healthy batch lets the run go on; the gate runs after each batch that changed something', async () => {
    const { report, asked } = await deploy(async () => []);
    expect(asked).toEqual([['primary'], ['backup']]);
    expect(existsSync(join(dir, 'backup.conf'))).toBe(true);
    expect(exitCodeOf(report)).toBe(0);
    // A second run changes nothing: no gate at all (a no-op run stays one command per host).
    const again = await deploy(async () => [{ check: 'never asked', detail: '' }]);
    expect(again.asked).toEqual([]);
    expect(exitCodeOf(again.report)).toBe(0);
  });

  it('a play with healthGate: false is not gated: its batches that change run one after the other', async () => {
    const { asked, report } = await deploy(async () => [{ check: 'never asked', detail: '' }], { healthGate: false });
    expect(asked).toEqual([]);
    expect(existsSync(join(dir, 'backup.conf'))).toBe(true);
    expect(exitCodeOf(report)).toBe(0);
  });

  it('checkHealthFirst: an unhealthy system stops the run before the play touches anything, also under --check', async () => {
    const replication = { check: 'replication', host: 'backup', detail: '3 users failed' };
    for (const check of [false, true]) {
      const { asked, report } = await deploy(async () => [replication], { checkHealthFirst: true, check });
      expect(asked).toEqual(['every row of primary, backup']);
      expect(existsSync(join(dir, 'primary.conf'))).toBe(false);
      expect(report.tasks).toEqual([]);
      expect(report.gates).toEqual([
        { hosts: ['primary', 'backup'], before: 'pair', failed: [replication], skipped: ['primary', 'backup'] },
      ]);
      expect(exitCodeOf(report)).toBe(1);
      expect(formatGate(report.gates[0])).toBe(
        'GATE before play [pair] on primary, backup: FAILED, replication backup: 3 users failed; the run stops, primary, backup not touched',
      );
    }
    const healthy = await deploy(async () => [], { checkHealthFirst: true });
    expect(healthy.asked).toEqual(['every row of primary, backup', ['primary'], ['backup']]);
    expect(existsSync(join(dir, 'backup.conf'))).toBe(true);
  });

  it('checkHealthFirst with unless: left out when the check succeeds on any host (an upgrade under way), run otherwise', async () => {
    const marker = join(dir, 'upgrade-under-way');
    const failing = async () => [{ check: 'smtp 25', host: 'backup', detail: 'no banner' }];
    const stopped = await deploy(failing, { checkHealthFirst: { unless: sh`test -e ${marker}` } });
    expect(stopped.asked).toEqual(['every row of primary, backup']);
    expect(exitCodeOf(stopped.report)).toBe(1);
    writeFileSync(marker, '');
    const resumed = await deploy(async () => [], { checkHealthFirst: { unless: sh`test -e ${marker}` } });
    expect(resumed.asked).toEqual([['primary'], ['backup']]);
    expect(resumed.report.gates.some((g) => g.before)).toBe(false);
    expect(existsSync(join(dir, 'backup.conf'))).toBe(true);
  });

  it('refuses a checkHealthFirst that is not true, false or { unless: sh`…` }, naming the play', async () => {
    const inventory = defineInventory({ hosts: { primary: { address: 'localhost', connection: 'local' } } });
    const playbook = definePlaybook({
      inventory,
      plays: [{ name: 'upgrade', hosts: 'all', checkHealthFirst: { unless: 'test -e /x' } as never, tasks: [] }],
    });
    await expect(compileRun(playbook, inventory)).rejects.toThrow(
      'upgrade: checkHealthFirst must be true, false or { unless: sh`…` }, got {"unless":"test -e /x"}',
    );
  });

  it('--check never runs the gate (nothing was changed)', async () => {
    const { asked, report } = await deploy(async () => [{ check: 'never asked', detail: '' }], { check: true });
    expect(asked).toEqual([]);
    expect(report.gates).toEqual([]);
  });
});

describe('healthGate: the playbook verify of a batch, as the gate counts it', () => {
  const inventory = defineInventory({
    hosts: {
      primary: { address: 'localhost', connection: 'local' },
      backup: { address: 'localhost', connection: 'local' },
    },
  });
  const gateOf = (
    rows: { check: string; host?: string; ok: boolean; detail: string; gate?: boolean }[],
    seen: string[][] = [],
  ) =>
    healthGate(
      definePlaybook({
        inventory,
        plays: [],
        verify: async (hosts) => {
          seen.push(hosts.map((h) => h.name));
          return rows;
        },
      }),
      inventory,
      async (h) => new LocalConnection(h),
      new MaskTable(),
    );

  it("counts the failing rows of the batch's hosts and the host-less ones, never another host's, the VIP's or gate: false", async () => {
    const seen: string[][] = [];
    const failed = await gateOf(
      [
        { check: 'smtp 25', host: 'primary', ok: false, detail: 'no banner' },
        { check: 'imap 143', host: 'primary', ok: true, detail: 'fine' },
        { check: 'dhcp failover', host: 'primary', ok: false, detail: 'communications-interrupted', gate: false },
        { check: 'smtp 25', host: 'backup', ok: false, detail: 'not deployed yet' },
        { check: 'smtp 25', host: 'vip', ok: false, detail: 'moving' },
        { check: 'health check', ok: false, detail: 'failed: boom' },
      ],
      seen,
    )(['primary']);
    expect(seen).toEqual([['primary']]);
    expect(failed).toEqual([
      { check: 'smtp 25', host: 'primary', detail: 'no banner' },
      { check: 'health check', detail: 'failed: boom' },
    ]);
  });

  it('with everyRow (before a play with checkHealthFirst) also counts the rows a half-deployed pair rightly fails', async () => {
    const failed = await gateOf([
      { check: 'replication', host: 'backup', ok: false, detail: '3 users failed', gate: false },
      { check: 'smtp 25', host: 'primary', ok: true, detail: 'banner' },
    ])(['primary', 'backup'], { everyRow: true });
    expect(failed).toEqual([{ check: 'replication', host: 'backup', detail: '3 users failed' }]);
  });
});
