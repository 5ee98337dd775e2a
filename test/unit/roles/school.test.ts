import { describe, expect, it } from 'vitest';
import {
  SchoolVars as SchoolVarsSchema,
  checkSchoolVars,
  inNetwork,
  netmaskOf,
  type SchoolVars,
} from '../../../roles/common/school.ts';
import { validateAgainst } from '../../../src/model/schema.ts';

const vars: SchoolVars = {
  schoolName: 'SMK Nurul Huda',
  domain: 'smknh.sch.id',
  lanInterface: 'eth0',
  lanNetwork: '198.18.30.0/24',
  vip: '198.18.30.254',
  router: '198.18.30.10',
  haRole: 'primary',
  lanAddress: '198.18.30.1',
  peerAddress: '198.18.30.2',
  peerName: 'backup',
};

describe('school vars', () => {
  it.each([
    ['198.18.30.7', '198.18.30.0/24', true],
    ['198.18.31.7', '198.18.30.0/24', false],
    ['198.19.0.1', '198.18.0.0/15', true],
    ['1.2.3.4', '0.0.0.0/0', true],
  ])('inNetwork(%s, %s) = %s', (address, cidr, expected) => {
    expect(inNetwork(address, cidr)).toBe(expected);
  });

  it('netmaskOf', () => {
    expect(netmaskOf('198.18.30.0/24')).toBe('255.255.255.0');
    expect(netmaskOf('198.18.0.0/15')).toBe('255.254.0.0');
  });

  it('accepts the school, refuses a VIP outside the LAN or equal to a server', () => {
    expect(validateAgainst(SchoolVarsSchema, vars, 'vars')).toEqual([]);
    expect(checkSchoolVars(vars)).toEqual([]);
    expect(checkSchoolVars({ ...vars, vip: '198.19.99.254' })).toEqual([
      { path: 'vars.vip', message: '198.19.99.254 is outside the LAN 198.18.30.0/24' },
    ]);
    expect(checkSchoolVars({ ...vars, vip: '198.18.30.1' })[0].path).toBe('vars.vip');
  });

  it.each([
    ['domain', 'Bad Domain!'],
    ['domain', 'nodot'],
    ['vip', '198.18.30.256'],
    ['lanNetwork', '198.18.30.0/33'],
    ['haRole', 'master'],
  ])('refuses %s = %j', (key, value) => {
    const issues = validateAgainst(SchoolVarsSchema, { ...vars, [key]: value }, 'vars');
    expect(issues.map((i) => i.path)).toContain(`vars.${key}`);
  });
});
