import { describe, expect, it } from 'vitest';
import { RecordingConnection } from '../../../src/connection/recording.ts';
import { sh } from '../../../src/connection/sh.ts';
import { verifyPlaybook } from '../../../src/engine/verify.ts';
import { ConnectError, ValidationError } from '../../../src/errors.ts';
import { defineInventory } from '../../../src/model/inventory.ts';
import { definePlaybook } from '../../../src/model/playbook.ts';
import type { HealthCheck } from '../../../src/model/health.ts';
import { MaskTable } from '../../../src/mask-table.ts';
import { secret, type Secret } from '../../../src/secret.ts';

const inventory = defineInventory({
  hosts: { primary: { address: '198.18.0.1' }, backup: { address: '198.18.0.2' } },
  groups: { servers: { hosts: ['primary', 'backup'], vars: { vip: '198.18.0.254' } } },
});

/** Every host answers `hostname` with its own name; `down` hosts cannot be reached. */
function connector(down: string[] = []) {
  const opened: RecordingConnection[] = [];
  const connect = async (host: string) => {
    if (down.includes(host))
      throw new ConnectError(`connect ECONNREFUSED ${inventory.hosts[host].address}:22`, { host });
    const connection = new RecordingConnection(host, () => ({ stdout: `${host}\n` }));
    opened.push(connection);
    return connection;
  };
  return { connect, opened };
}

const names: HealthCheck = async (hosts) =>
  Promise.all(
    hosts
      .filter((h) => h.reachable)
      .map(async (h) => ({
        check: 'hostname',
        host: h.name,
        ok: (await h.exec(sh`hostname`)).stdout.trim() === h.name,
        detail: `vip ${String(h.vars.vip)}`,
      })),
  );

describe('verifyPlaybook', () => {
  it('gives the check every host with its inventory vars, and is healthy when every row is ok; connections are closed', async () => {
    const { connect, opened } = connector();
    const report = await verifyPlaybook(definePlaybook({ inventory, plays: [], verify: names }), inventory, {
      connect,
      masks: new MaskTable(),
    });
    expect(report.healthy).toBe(true);
    expect(report.rows).toEqual([
      { check: 'hostname', host: 'primary', ok: true, detail: 'vip 198.18.0.254' },
      { check: 'hostname', host: 'backup', ok: true, detail: 'vip 198.18.0.254' },
    ]);
    expect(opened.map((c) => [c.host, c.commandCount, c.closed])).toEqual([
      ['primary', 1, true],
      ['backup', 1, true],
    ]);
  });

  it('an unreachable host is a failed row naming it and why; the others are still checked', async () => {
    const { connect } = connector(['primary']);
    const report = await verifyPlaybook(definePlaybook({ inventory, plays: [], verify: names }), inventory, {
      connect,
      masks: new MaskTable(),
    });
    expect(report.healthy).toBe(false);
    expect(report.rows).toEqual([
      { check: 'reachable', host: 'primary', ok: false, detail: 'connect ECONNREFUSED 198.18.0.1:22' },
      { check: 'hostname', host: 'backup', ok: true, detail: 'vip 198.18.0.254' },
    ]);
  });

  it('asking an unreachable host rejects; a check that throws is a failed row, not a crash', async () => {
    const { connect } = connector(['backup']);
    const naive: HealthCheck = async (hosts) =>
      Promise.all(
        hosts.map(async (h) => ({ check: 'x', host: h.name, ok: (await h.exec(sh`true`)).exitCode === 0, detail: '' })),
      );
    const report = await verifyPlaybook(definePlaybook({ inventory, plays: [], verify: naive }), inventory, {
      connect,
      masks: new MaskTable(),
    });
    expect(report.healthy).toBe(false);
    expect(report.rows.map((r) => [r.check, r.host, r.ok])).toEqual([
      ['reachable', 'backup', false],
      ['health check', undefined, false],
    ]);
    expect(report.rows[1].detail).toMatch(/backup is unreachable/);
  });

  it('--limit checks only the hosts it selects', async () => {
    const { connect, opened } = connector();
    const report = await verifyPlaybook(definePlaybook({ inventory, plays: [], verify: names }), inventory, {
      connect,
      limit: 'backup',
      masks: new MaskTable(),
    });
    expect(report.rows.map((r) => r.host)).toEqual(['backup']);
    expect(opened.map((c) => c.host)).toEqual(['backup']);
  });

  it('refuses a playbook without a health check, and a limit that selects nobody, before connecting', async () => {
    const { connect, opened } = connector();
    await expect(
      verifyPlaybook(definePlaybook({ inventory, plays: [] }), inventory, { connect, masks: new MaskTable() }),
    ).rejects.toThrow(ValidationError);
    await expect(
      verifyPlaybook(definePlaybook({ inventory, plays: [], verify: names }), inventory, {
        connect,
        limit: 'nobody',
        masks: new MaskTable(),
      }),
    ).rejects.toThrow(/nobody/);
    expect(opened).toEqual([]);
  });

  it('hands stdin to the command (for what must not be on a command line) and masks any secret a row quotes', async () => {
    const password = secret('Verify-Secret-42');
    const seen: string[] = [];
    const connect = async (host: string) =>
      new RecordingConnection(host, (command) => {
        seen.push(String(command.stdin));
        return { stdout: `server said: ${String(command.stdin)}\n` };
      });
    const echo: HealthCheck = async (hosts) =>
      Promise.all(
        hosts.map(async (h) => ({
          check: 'login',
          host: h.name,
          ok: true,
          detail: (await h.exec(sh`cat`, { stdin: password.reveal() })).stdout.trim(),
        })),
      );
    const report = await verifyPlaybook(definePlaybook({ inventory, plays: [], verify: echo }), inventory, {
      connect,
      masks: new MaskTable().add(password),
    });
    expect(seen).toEqual(['Verify-Secret-42', 'Verify-Secret-42']);
    expect(report.rows.map((r) => r.detail)).toEqual(['server said: ********', 'server said: ********']);
  });

  it("masks the secrets of the hosts' vars in every row, without being told them", async () => {
    const withPassword = defineInventory({ ...inventory, vars: { password: secret('Vars-Secret-43') } });
    const connect = async (host: string) =>
      new RecordingConnection(host, (command) => ({ stdout: `server said: ${String(command.stdin)}\n` }));
    const echo: HealthCheck = async (hosts) =>
      Promise.all(
        hosts.map(async (h) => ({
          check: 'login',
          host: h.name,
          ok: true,
          detail: (await h.exec(sh`cat`, { stdin: (h.vars.password as Secret).reveal() })).stdout.trim(),
        })),
      );
    const masks = new MaskTable();
    const report = await verifyPlaybook(
      definePlaybook({ inventory: withPassword, plays: [], verify: echo }),
      withPassword,
      { connect, masks },
    );
    expect(report.rows.map((r) => r.detail)).toEqual(['server said: ********', 'server said: ********']);
    expect(masks.mask('Vars-Secret-43')).toBe('********');
  });
});
