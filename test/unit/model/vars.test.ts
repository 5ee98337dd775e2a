import { describe, expect, it } from 'vitest';
import { compileRun } from '../../../src/engine/compile.ts';
import { checkInventory, isHostAddress } from '../../../src/model/inventory.ts';
import { ValidationError } from '../../../src/errors.ts';
import { SecretType, Type, defineInventory, definePlaybook, defineRole, file, secret } from '../../../src/index.ts';

const keys = [
  'fromDefaults',
  'fromInventory',
  'fromGroup',
  'fromLaterGroup',
  'fromHost',
  'fromPlay',
  'fromParams',
] as const;

describe('vars precedence', () => {
  it('role defaults < inventory vars < group vars (inventory order) < host vars < play vars < role params', async () => {
    const seen: Record<string, unknown> = {};
    const role = defineRole({
      name: 'probe',
      // Each layer's key is a var of the role: params may only set vars the role's schema declares.
      schema: Type.Object({ v: Type.String(), ...Object.fromEntries(keys.map((k) => [k, Type.String()])) }),
      defaults: { v: 'defaults', ...Object.fromEntries(keys.map((k) => [k, 'defaults'])) },
      tasks: ({ vars }) => {
        Object.assign(seen, vars);
        return [];
      },
    });
    const layer = (name: string, upTo: number) => Object.fromEntries(keys.slice(upTo).map((k) => [k, name]));
    const inventory = defineInventory({
      hosts: { h: { address: 'localhost', connection: 'local', vars: layer('host', 4) } },
      groups: {
        early: { hosts: ['h'], vars: layer('group', 2) },
        late: { hosts: ['h'], vars: layer('later group', 3) },
      },
      vars: layer('inventory', 1),
    });
    const playbook = definePlaybook({
      inventory,
      plays: [{ hosts: 'h', vars: layer('play', 5), roles: [{ role, vars: layer('params', 6) }] }],
    });
    await compileRun(playbook, inventory);
    expect(Object.fromEntries(keys.map((k) => [k, seen[k]]))).toEqual({
      fromDefaults: 'defaults',
      fromInventory: 'inventory',
      fromGroup: 'group',
      fromLaterGroup: 'later group',
      fromHost: 'host',
      fromPlay: 'play',
      fromParams: 'params',
    });
  });

  it('refuses vars that break the role schema, naming role, host and var, before building any task', async () => {
    let built = false;
    const role = defineRole({
      name: 'mail',
      schema: Type.Object({
        domain: Type.String({ pattern: '^[a-z0-9.-]+$' }),
        password: SecretType(),
        port: Type.Integer(),
      }),
      tasks: () => {
        built = true;
        return [file({ path: '/tmp/never', content: 'x' })];
      },
    });
    const inventory = defineInventory({
      hosts: {
        primary: {
          address: 'localhost',
          connection: 'local',
          vars: { domain: 'Bad Domain!', password: 'plain', port: 25 },
        },
      },
    });
    const error = await compileRun(
      definePlaybook({ inventory, plays: [{ hosts: 'all', roles: [role] }] }),
      inventory,
    ).catch((e) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.message).toContain('role mail on host primary');
    expect(error.message).toContain('vars.domain');
    expect(error.message).toContain('vars.password: must be a secret() value');
    expect(built).toBe(false);
    const ok = defineInventory({
      hosts: {
        primary: {
          address: 'localhost',
          connection: 'local',
          vars: { domain: 'smknh.sch.id', password: secret('pw-123456'), port: 25 },
        },
      },
    });
    await expect(
      compileRun(definePlaybook({ inventory: ok, plays: [{ hosts: 'all', roles: [role] }] }), ok),
    ).resolves.toBeDefined();
  });
});

describe('inventory addresses', () => {
  it.each([
    '198.18.30.1',
    '::1',
    'fe80::1',
    '2001:db8::2',
    'mail.smknh.sch.id',
    'localhost',
    'primary',
    'mail.example.',
  ])('takes %s', (address) => {
    expect(isHostAddress(address)).toBe(true);
    expect(() => checkInventory(defineInventory({ hosts: { a: { address } } }))).not.toThrow();
  });

  it.each([
    'not an address; rm -rf /',
    '198.18.30.1 ',
    '999.1.1.1',
    '1.2.3',
    "a'b",
    '-oProxyCommand=x',
    'a..b',
    'x'.repeat(64),
    '[::1]',
    'a_b.example',
  ])('refuses %j, naming the host', (address) => {
    expect(isHostAddress(address)).toBe(false);
    expect(() => checkInventory(defineInventory({ hosts: { web: { address } } }))).toThrow(
      `hosts.web.address (host web): ${JSON.stringify(address)} is not an IPv4 or IPv6 address or a host name`,
    );
  });
});

describe('inventory', () => {
  it('names the file, the host and the property path of each problem', () => {
    const inventory = {
      ...defineInventory({
        hosts: { web: { address: 'x', port: 'x' as unknown as number } },
        groups: { mail: { hosts: ['ghost'] } },
      }),
      source: '/repo/inventory/bad.ts',
    };
    const error = (() => {
      try {
        checkInventory(inventory);
      } catch (e) {
        return e as ValidationError;
      }
    })();
    expect(error).toBeInstanceOf(ValidationError);
    expect(error!.message).toContain('/repo/inventory/bad.ts');
    expect(error!.message).toContain('hosts.web.port (host web)');
    expect(error!.message).toContain('groups.mail.hosts.0: names unknown host "ghost"');
  });
});
