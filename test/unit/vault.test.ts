import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { compileRun } from '../../src/engine/compile.ts';
import { ValidationError } from '../../src/errors.ts';
import { SecretType, Type, defineInventory, definePlaybook, defineRole, file, mask, openVault } from '../../src/index.ts';
import { SecretUnavailableError } from '../../src/vault.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'play-vault-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('openVault', () => {
  it('reads a secret only when it is revealed, and masks it from then on', () => {
    const path = join(dir, 'vault.json');
    const vault = openVault(path);
    const later = vault.secret('tsig_key');
    writeFileSync(path, JSON.stringify({ tsig_key: 'vault-value-7731' }), { mode: 0o600 });
    expect(String(later)).toBe('********');
    expect(later.reveal()).toBe('vault-value-7731');
    expect(mask('key is vault-value-7731')).toBe('key is ********');
  });

  it('names the file and the secret when either is missing', () => {
    expect(() => openVault(join(dir, 'none.json')).secret('a').reveal()).toThrow(/vault .*none\.json does not exist/);
    writeFileSync(join(dir, 'v.json'), '{}', { mode: 0o600 });
    expect(() => openVault(join(dir, 'v.json')).secret('keepalived').reveal()).toThrow(new SecretUnavailableError(`secret "keepalived" is not in vault ${join(dir, 'v.json')}`));
  });

  it('refuses a vault others may read or change, naming the file, its mode and the fix', () => {
    for (const mode of [0o644, 0o640, 0o604, 0o620]) {
      const path = join(dir, `open-${mode.toString(8)}.json`);
      writeFileSync(path, '{"a": "b"}');
      chmodSync(path, mode);
      expect(() => openVault(path).secret('a').reveal()).toThrow(new ValidationError(`vault ${path} is open to others (mode 0${mode.toString(8)}): only its owner may read it (chmod 600 ${path})`));
    }
  });

  it('refuses a vault that belongs to another user', () => {
    const path = join(dir, 'theirs.json');
    writeFileSync(path, '{"a": "b"}', { mode: 0o600 });
    chownSync(path, 65534, 65534);
    expect(() => openVault(path).secret('a').reveal()).toThrow(`vault ${path} belongs to uid 65534, not to uid ${process.getuid!()} who runs play`);
  });

  it.each([
    ['null', 'is not a JSON object of strings: it holds null'],
    ['[1]', 'is not a JSON object of strings: it holds an array'],
    ['"text"', 'is not a JSON object of strings: it holds a string'],
    ['{"a": null}', 'secret "a" must be a non-empty string, but it is null'],
    ['{"a": 42}', 'secret "a" must be a non-empty string, but it is a number'],
    ['{"a": ""}', 'secret "a" must be a non-empty string, but it is an empty string'],
    ['{"a": {"b": "c"}}', 'secret "a" must be a non-empty string, but it is an object'],
    ['{"ok": "x", "a": true}', 'secret "a" must be a non-empty string, but it is a boolean'],
    ['{not json', 'is not a JSON object of strings: '],
  ])('refuses a vault holding %s, naming the file and the secret', (text, message) => {
    const path = join(dir, 'bad.json');
    writeFileSync(path, text, { mode: 0o600 });
    const error = (() => {
      try {
        openVault(path).secret('ok').reveal();
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error).toBeInstanceOf(ValidationError);
    expect(error!.message).toContain(`vault ${path}`);
    expect(error!.message).toContain(message);
  });

  it('with generate, makes a missing secret once, in a file only root can read, and keeps it', () => {
    const path = join(dir, 'sub', 'vault.json');
    const first = openVault(path, { generate: true }).secret('des_key', { length: 24 }).reveal();
    expect(first).toMatch(/^[A-Za-z0-9]{24}$/);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const key = openVault(path, { generate: true }).secret('tsig', { base64Bytes: 32 }).reveal();
    expect(Buffer.from(key, 'base64')).toHaveLength(32);
    expect(openVault(path).secret('des_key').reveal()).toBe(first);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ des_key: first, tsig: key });
  });
});

describe('secrets in vars', () => {
  const role = defineRole({
    name: 'keepalived',
    schema: Type.Object({ authPass: SecretType() }),
    tasks: ({ vars }) => [file({ path: '/tmp/never', content: vars.authPass })],
  });
  const playbookWith = (path: string) => {
    const inventory = defineInventory({ hosts: { primary: { address: 'localhost', connection: 'local', vars: { authPass: openVault(path).secret('auth_pass') } } } });
    return definePlaybook({ inventory, plays: [{ hosts: 'all', roles: [role] }] });
  };

  it('a secret missing from the vault is invalid input naming role, host and var', async () => {
    const playbook = playbookWith(join(dir, 'missing.json'));
    const error = await compileRun(playbook, playbook.inventory).catch((e) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.message).toContain('role keepalived on host primary');
    expect(error.message).toContain('vars.authPass');
    expect(error.message).toContain('missing.json does not exist');
  });

  it('listing hosts and tasks needs no vault', async () => {
    const playbook = playbookWith(join(dir, 'missing.json'));
    const run = await compileRun(playbook, playbook.inventory, { render: false });
    expect(run.plays[0].work.get('primary')!.tasks).toHaveLength(1);
  });
});
