import { describe, expect, it } from 'vitest';
import { group, type GroupParams } from '../../../src/ops/group.ts';
import { PlayError } from '../../../src/errors.ts';
import { FakeHost, expectPlan, type ExpectedPlan, type FakeHostInit } from '../support/fake-host.ts';

interface Case {
  readonly name: string;
  readonly host: FakeHostInit;
  readonly params: GroupParams;
  readonly expected: ExpectedPlan;
}

const cases: Case[] = [
  {
    name: 'new group',
    host: {},
    params: { name: 'vmail' },
    expected: { summary: 'create group vmail', commands: ['groupadd -- vmail'] },
  },
  {
    name: 'new system group with gid',
    host: {},
    params: { name: 'vmail', gid: 5000, system: true },
    expected: { summary: 'create group vmail', commands: ['groupadd -g 5000 -r -- vmail'] },
  },
  {
    name: 'exists, any gid',
    host: { groups: { vmail: 1234 } },
    params: { name: 'vmail' },
    expected: { reason: 'group vmail exists (gid 1234)' },
  },
  {
    name: 'exists with that gid',
    host: { groups: { vmail: 5000 } },
    params: { name: 'vmail', gid: 5000 },
    expected: { reason: 'group vmail exists (gid 5000)' },
  },
  {
    name: 'gid differs',
    host: { groups: { vmail: 1234 } },
    params: { name: 'vmail', gid: 5000 },
    expected: { summary: 'update group vmail (gid 1234 → 5000)', commands: ['groupmod -g 5000 -- vmail'] },
  },
  {
    name: 'absent and there',
    host: { groups: { games: 60 } },
    params: { name: 'games', state: 'absent' },
    expected: { summary: 'remove group games', commands: ['groupdel -- games'] },
  },
  {
    name: 'absent already',
    host: {},
    params: { name: 'games', state: 'absent' },
    expected: { reason: 'group games does not exist' },
  },
  {
    name: 'hostile name is quoted',
    host: {},
    params: { name: 'g;$(reboot)' },
    expected: { summary: 'create group g;$(reboot)', commands: ["groupadd -- 'g;$(reboot)'"] },
  },
];

describe('group', () => {
  it.each(cases)('$name', async ({ host: init, params, expected }) => {
    const host = new FakeHost(init);
    const plan = await host.plan(group(params));
    expectPlan(plan, expected);
  });

  it.each([[{ name: 'vmail', gid: 5000 }], [{ name: 'vmail', state: 'absent' }], [{ name: 'odd;group$(x)' }]] as [
    GroupParams,
  ][])('converges %#', async (params) => {
    const host = new FakeHost({ groups: { vmail: 1234 } });
    const { first, second } = await host.converge(group(params));
    expect(first.changed).toBe(true);
    expect(second.changed).toBe(false);
  });

  it('names the task', () => {
    expect(group({ name: 'vmail' }).name).toBe('group vmail');
    expect(group({ name: 'vmail', taskName: 'mail group', tags: ['mail'] })).toMatchObject({
      name: 'mail group',
      tags: ['mail'],
    });
  });

  it.each([
    [{ name: '' }, /invalid group name/],
    [{ name: 'a:b' }, /invalid group name/],
    [{ name: 'x', gid: 1.5 }, /gid must be/],
    [{ name: 'x', state: 'gone' as never }, /state must be/],
  ] as [GroupParams, RegExp][])('rejects bad params %#', (params, message) => {
    expect(() => group(params)).toThrow(PlayError);
    expect(() => group(params)).toThrow(message);
  });
});
