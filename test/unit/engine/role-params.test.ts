import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compileRun } from '../../../src/engine/compile.ts';
import { ValidationError } from '../../../src/errors.ts';
import {
  Type,
  defineInventory,
  definePlaybook,
  defineRole,
  file,
  type Playbook,
  type Role,
} from '../../../src/index.ts';
import apache from '../../../roles/apache/index.ts';
import dhcp from '../../../roles/dhcp/index.ts';

const ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));

const inventory = defineInventory({
  hosts: { alpha: { address: 'localhost', connection: 'local' }, beta: { address: 'localhost', connection: 'local' } },
  groups: { web: { hosts: ['alpha'] }, db: { hosts: ['beta'] } },
  vars: { greeting: 'hello', port: 80 },
});

/** A role that notes whether its tasks were ever built. */
function watched(name = 'motd') {
  const state = { built: false };
  const role = defineRole({
    name,
    schema: Type.Object({ greeting: Type.String(), port: Type.Integer() }),
    tasks: () => {
      state.built = true;
      return [file({ path: '/nonexistent/never', content: 'x\n' })];
    },
  });
  return { role, state };
}

// Plain JavaScript (or a cast) gets past TypeScript: these playbooks are what such a user writes.
const untyped = (playbook: unknown) => playbook as Playbook;

async function refusal(playbook: Playbook, selection = {}): Promise<ValidationError> {
  const error = await compileRun(playbook, inventory, selection).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ValidationError);
  return error as ValidationError;
}

describe('role params the role does not declare', () => {
  it('are refused before any task is built, naming the play, the role, the key and its vars', async () => {
    const { role, state } = watched();
    const playbook = untyped(
      definePlaybook({
        inventory,
        plays: [{ name: 'mail servers', hosts: 'web', roles: [{ role, vars: { greting: 'hi' } }] as never }],
      }),
    );
    const error = await refusal(playbook);
    expect(error.message).toBe(
      'play "mail servers": role motd has no var "greting" (did you mean "greeting"? its vars: greeting, port)',
    );
    expect(error.issues).toEqual([{ path: 'plays.0.roles.0.vars.greting', message: error.message }]);
    expect(error.place).toMatchObject({ role: 'motd' });
    expect(state.built).toBe(false);
  });

  it('names the real role, e.g. apache used with a misspelled manageCertificate', async () => {
    const playbook = untyped({
      inventory,
      plays: [{ name: 'mail servers', hosts: 'web', roles: [{ role: apache, vars: { manageCertificat: false } }] }],
    });
    const error = await refusal(playbook);
    expect(error.message).toBe(
      'play "mail servers": role apache has no var "manageCertificat" (did you mean "manageCertificate"? its vars: documentRoot, domain, hstsMaxAge, manageCertificate, tlsCertificate, tlsKey)',
    );
  });

  it('are refused in every play, even one --limit leaves without hosts, one line each', async () => {
    const { role } = watched();
    const other = defineRole({ name: 'plain', tasks: () => [] });
    const playbook = untyped({
      inventory,
      plays: [
        { name: 'web', hosts: 'web', roles: [role, { role, vars: { port: 8080, colour: 'red' } }] },
        { hosts: 'db', roles: [{ role: other, vars: { anything: 1 } }] },
      ],
    });
    const error = await refusal(playbook, { limit: 'alpha' });
    expect(error.message.split('\n')).toEqual([
      'play "web": role motd has no var "colour" (its vars: greeting, port)',
      'play 2 (db): role plain has no var "anything" (it has no vars)',
    ]);
    expect(error.issues.map((i) => i.path)).toEqual(['plays.0.roles.1.vars.colour', 'plays.1.roles.0.vars.anything']);
    expect(error.place.role).toBeUndefined();
  });

  it('a misspelled key of the role use itself, vars that are not an object, and an entry that is no role', async () => {
    const { role } = watched();
    const playbook = untyped({
      inventory,
      plays: [
        {
          name: 'p',
          hosts: 'web',
          roles: [{ role, var: { port: 1 } }, { role, vars: ['port'] }, { role, tags: 'web' }, { name: 'not a role' }],
        },
      ],
    });
    const error = await refusal(playbook);
    expect(error.message.split('\n')).toEqual([
      'play "p": role motd is used with an unknown key "var" (a role use has role, vars and tags)',
      'play "p": the vars of role motd must be an object of its vars, got a list',
      'play "p": the tags of role motd must be a list of strings',
      'play "p": roles entry 4 is not a role made with defineRole',
    ]);
  });

  it('a schema that asks for more keys (additionalProperties) takes them, and its own schema judges them', async () => {
    const open = defineRole({
      name: 'labels',
      schema: Type.Object({}, { additionalProperties: Type.Union([Type.String(), Type.Number()]) }),
      tasks: () => [],
    });
    await expect(
      compileRun(
        definePlaybook({ inventory, plays: [{ hosts: 'web', roles: [{ role: open, vars: { team: 'mail' } }] }] }),
        inventory,
      ),
    ).resolves.toBeDefined();
    const error = await refusal(
      untyped({ inventory, plays: [{ hosts: 'web', roles: [{ role: open, vars: { team: true } }] }] }),
    );
    expect(error.issues).toContainEqual({ path: 'vars.team', message: 'must be string' });
  });

  it("declared params pass, and inventory vars of other roles still reach a role's merged vars", async () => {
    const { role, state } = watched();
    const run = await compileRun(
      definePlaybook({
        inventory: defineInventory({ ...inventory, vars: { ...inventory.vars, otherRoleVar: 1 } }),
        plays: [{ hosts: 'web', roles: [{ role, vars: { port: 8080 } }] }],
      }),
      inventory,
    );
    expect(state.built).toBe(true);
    expect(run.plays[0].work.get('alpha')!.works[0].tasks[0].vars).toMatchObject({ greeting: 'hello', port: 8080 });
  });
});

describe('unknown keys inside a role var', () => {
  it('dhcpRange: { start, ned } is refused naming the path', async () => {
    const playbook = untyped({
      inventory,
      plays: [
        {
          hosts: 'web',
          roles: [{ role: dhcp, vars: { dhcpRange: { start: '198.18.30.100', ned: '198.18.30.200' } } }],
        },
      ],
    });
    const error = await refusal(playbook);
    expect(error.message).toContain('invalid vars for role dhcp on host alpha');
    expect(error.issues).toContainEqual({ path: 'vars.dhcpRange.ned', message: 'is not a known property' });
    expect(error.issues).toContainEqual({ path: 'vars.dhcpRange.end', message: 'is required' });
  });

  it("every role of the site closes each object inside its vars (the top level stays open for the other roles' vars)", async () => {
    const open: string[] = [];
    const walk = (schema: Record<string, unknown>, path: string) => {
      if (schema.type === 'object' || schema.properties) {
        if (schema.additionalProperties !== false) open.push(path);
        for (const [key, child] of Object.entries((schema.properties ?? {}) as Record<string, Record<string, unknown>>))
          walk(child, `${path}.${key}`);
      }
      if (schema.items && typeof schema.items === 'object') walk(schema.items as Record<string, unknown>, `${path}[]`);
      for (const key of ['anyOf', 'oneOf', 'allOf'] as const) {
        for (const [index, child] of ((schema[key] ?? []) as Record<string, unknown>[]).entries())
          walk(child, `${path}.${key}.${index}`);
      }
    };
    const roles = readdirSync(join(ROOT, 'roles'), { withFileTypes: true }).filter(
      (d) => d.isDirectory() && d.name !== 'common' && d.name !== 'school',
    );
    expect(roles.length).toBeGreaterThanOrEqual(11);
    for (const { name } of roles) {
      const role = (await import(pathToFileURL(join(ROOT, 'roles', name, 'index.ts')).href)).default as Role;
      expect(role.schema.additionalProperties, name).toBeUndefined();
      for (const [key, child] of Object.entries(role.schema.properties))
        walk(child as unknown as Record<string, unknown>, `${role.name}.${key}`);
    }
    expect(open).toEqual([]);
  });
});
