import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../src/errors.ts';
import { defineInventory } from '../../../src/model/inventory.ts';
import { selectHosts } from '../../../src/model/host-pattern.ts';

describe('selectHosts', () => {
  const inventory = defineInventory({
    hosts: {
      primary: { address: '198.18.0.1' },
      backup: { address: '198.18.0.2' },
      web1: { address: '198.18.0.3' },
      web2: { address: '198.18.0.4' },
    },
    groups: { mail: { hosts: ['primary', 'backup'] }, web: { hosts: ['web1', 'web2'] } },
  });

  it.each([
    ['all', ['primary', 'backup', 'web1', 'web2']],
    ['mail', ['primary', 'backup']],
    ['mail:!backup', ['primary']],
    ['web*', ['web1', 'web2']],
    ['mail,web1', ['primary', 'backup', 'web1']],
    ['all:&web', ['web1', 'web2']],
    [
      ['backup', 'primary'],
      ['backup', 'primary'],
    ],
    // Removals alone start from all, as in Ansible.
    ['!backup', ['primary', 'web1', 'web2']],
    ['!mail:!web2', ['web1']],
    ['&mail', ['primary', 'backup']],
  ] as const)('%s', (pattern, hosts) => {
    expect(selectHosts(pattern as string | string[], inventory)).toEqual(hosts);
  });

  it.each([
    ['mial', /host pattern "mial" names no host or group \(hosts: primary, backup, web1, web2; groups: mail, web\)/],
    // Names are the inventory's own: nothing every object inherits.
    ['constructor', /host pattern "constructor" names no host or group/],
    ['__proto__', /host pattern "__proto__" names no host or group/],
    ['toString', /host pattern "toString" names no host or group/],
    ['db*', /host pattern "db\*" matches no host or group/],
    ['', /host pattern "" is empty/],
    [' , ', /host pattern " , " is empty/],
    ['primary:&web', /host pattern "primary:&web" selects no host/],
    ['!all', /host pattern "!all" selects no host/],
  ] as const)('refuses %j', (pattern, message) => {
    expect(() => selectHosts(pattern, inventory)).toThrow(ValidationError);
    expect(() => selectHosts(pattern, inventory)).toThrow(message);
  });
});
