import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { zoneFile, zoneSerial, type ZoneContent } from '../../../roles/dns/zone.ts';
import { localHost, type LocalHost } from '../support/local-host.ts';

const zone = (address: string): ZoneContent => ({
  origin: 'smahb.sch.id',
  primaryNs: 'ns1.smahb.sch.id.',
  contact: 'hostmaster.smahb.sch.id.',
  timers: { ttl: 300, refresh: 60, retry: 30, expire: 86400, negativeTtl: 60 },
  records: [
    { name: '@', type: 'NS', value: 'ns1' },
    { name: 'ns1', type: 'A', value: address },
  ],
});

let host: LocalHost;
let path: string;
let savedPath: string | undefined;
beforeEach(() => {
  host = localHost();
  path = join(host.dir, 'db.smahb.sch.id');
  // named-checkzone stands in here as a script that records its arguments: the lab runs the real one.
  const bin = join(host.dir, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'named-checkzone'), `#!/bin/sh\necho "$@" >> ${join(host.dir, 'checked')}\n`);
  chmodSync(join(bin, 'named-checkzone'), 0o755);
  savedPath = process.env.PATH;
  process.env.PATH = `${bin}:${process.env.PATH}`;
});
afterEach(() => {
  process.env.PATH = savedPath;
  host.cleanup();
});

describe('zoneFile, a custom op built from the public API', () => {
  it('converges: written once and checked with named-checkzone, then unchanged with the same serial', async () => {
    const first = await host.converge(zoneFile({ path, zone: zone('198.18.41.1') }));
    expect(first.changed).toBe(true);
    const serial = zoneSerial(readFileSync(path, 'utf8'));
    expect(serial).toBeGreaterThan(2026000000);
    expect(readFileSync(join(host.dir, 'checked'), 'utf8')).toMatch(/^-q smahb\.sch\.id \S+/);
    const again = await host.plan(zoneFile({ path, zone: zone('198.18.41.1') }));
    expect(again).toEqual({ changed: false, reason: 'content and attributes match' });
  });

  it('a changed record bumps the serial; the diff shows both serials', async () => {
    await host.converge(zoneFile({ path, zone: zone('198.18.41.1') }));
    const before = zoneSerial(readFileSync(path, 'utf8'))!;
    const plan = await host.converge(zoneFile({ path, zone: zone('198.18.41.2') }));
    if (!plan.changed) throw new Error('expected a change');
    const after = zoneSerial(readFileSync(path, 'utf8'))!;
    expect(after).toBe(before + 1);
    expect(String(plan.diffs[0].before)).toContain(`${before} ; serial`);
    expect(String(plan.diffs[0].after)).toContain(`${after} ; serial`);
  });

  it('asks for the file content once: the probe it reads is the one planFile reads', () => {
    const ids = zoneFile({ path, zone: zone('198.18.41.1') })
      .op.probes()
      .map((p) => p.id);
    expect(ids).toEqual([
      { kind: 'path', subject: path, path },
      { kind: 'content', subject: path, path },
    ]);
  });

  it("names the caller's line as where the task was declared, not zone.ts", () => {
    const task = zoneFile({ path, zone: zone('198.18.41.1'), name: 'the zone', notify: 'reload named', tags: ['dns'] });
    expect(task.declaredAt).toMatch(/^test\/unit\/roles\/dns-zone\.test\.ts:\d+$/);
    expect(task).toMatchObject({ name: 'the zone', notify: ['reload named'], tags: ['dns'] });
  });
});
