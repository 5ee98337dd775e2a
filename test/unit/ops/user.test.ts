import { matchesSha512Crypt } from '../../../src/crypt.ts';
import { describe, expect, it } from 'vitest';
import { user, type UserParams } from '../../../src/ops/user.ts';
import { group } from '../../../src/ops/group.ts';
import { PlayError } from '../../../src/errors.ts';
import { secret } from '../../../src/secret.ts';
import { FakeHost, expectPlan, type ExpectedPlan, type FakeHostInit } from '../support/fake-host.ts';

const HASH = '$6$salt$0123456789abcdefABCDEF/.';
const OTHER = '$y$j9T$abc$def';

interface Case {
  readonly name: string;
  readonly host: FakeHostInit;
  readonly params: UserParams;
  readonly expected: ExpectedPlan;
}

const guru1 = {
  uid: 1001,
  home: '/home/guru1',
  shell: '/bin/bash',
  comment: 'Guru Satu',
  hash: HASH,
  groups: ['mail', 'users'],
};
const groups = { mail: 8, users: 100, staff: 50 };

/** The removal the user op runs: the user's processes ended (TERM, then KILL), userdel retried while it says busy. */
const removal = (userdel: string, uid = 1000) =>
  `signal=TERM; for try in 1 2 3 4 5; do pkill -$signal -U ${uid}; pkill -$signal -u ${uid}; sleep 0.2; ${userdel} && exit 0; rc=$?; [ "$rc" -eq 8 ] || exit "$rc"; signal=KILL; done; exit 8`;

const cases: Case[] = [
  {
    name: 'new user: one useradd with every field, then chpasswd',
    host: { groups },
    params: {
      name: 'guru1',
      uid: 1001,
      home: '/home/guru1',
      shell: '/bin/bash',
      comment: 'Guru Satu',
      groups: ['users', 'mail'],
      passwordHash: HASH,
    },
    expected: {
      summary: 'create user guru1',
      commands: ["useradd -m -u 1001 -d /home/guru1 -s /bin/bash -c 'Guru Satu' -G mail,users -- guru1", 'chpasswd -e'],
      stdin: [undefined, `guru1:${HASH}\n`],
    },
  },
  {
    name: 'new system user without home',
    host: {},
    params: { name: 'vmail', system: true, createHome: false, shell: '/usr/sbin/nologin' },
    expected: { summary: 'create user vmail', commands: ['useradd -M -r -s /usr/sbin/nologin -- vmail'] },
  },
  {
    name: 'existing and matching: unchanged',
    host: { groups, users: { guru1 } },
    params: {
      name: 'guru1',
      uid: 1001,
      shell: '/bin/bash',
      groups: ['users', 'mail'],
      passwordHash: HASH,
      comment: 'Guru Satu',
    },
    expected: { reason: 'user guru1 exists as wanted' },
  },
  {
    name: 'existing: only the differing fields',
    host: { groups, users: { guru1 } },
    params: { name: 'guru1', uid: 1001, shell: '/bin/sh', groups: ['mail'] },
    expected: { summary: 'update user guru1 (shell, groups)', commands: ['usermod -s /bin/sh -G mail -- guru1'] },
  },
  {
    name: 'existing: home, uid and comment',
    host: { groups, users: { guru1 } },
    params: { name: 'guru1', uid: 2001, home: '/srv/guru1', comment: 'Guru 1' },
    expected: {
      summary: 'update user guru1 (uid, home, comment)',
      commands: ["usermod -u 2001 -d /srv/guru1 -c 'Guru 1' -- guru1"],
    },
  },
  {
    name: 'exact groups: an empty list removes every supplementary group',
    host: { groups, users: { guru1 } },
    params: { name: 'guru1', groups: [] },
    expected: { summary: 'update user guru1 (groups)', commands: ["usermod -G '' -- guru1"] },
  },
  {
    name: 'exact groups: the primary group needs no listing',
    host: { groups, users: { guru1 } },
    params: { name: 'guru1', groups: ['guru1', 'mail', 'users'] },
    expected: { reason: 'user guru1 exists as wanted' },
  },
  {
    name: 'appendGroups: only the missing ones, with -a',
    host: { groups, users: { guru1 } },
    params: { name: 'guru1', groups: ['staff', 'mail'], appendGroups: true },
    expected: { summary: 'update user guru1 (groups)', commands: ['usermod -a -G staff -- guru1'] },
  },
  {
    name: 'appendGroups: all there',
    host: { groups, users: { guru1 } },
    params: { name: 'guru1', groups: ['mail'], appendGroups: true },
    expected: { reason: 'user guru1 exists as wanted' },
  },
  {
    name: 'password differs: chpasswd only',
    host: { groups, users: { guru1 } },
    params: { name: 'guru1', passwordHash: secret(OTHER) },
    expected: { summary: 'update user guru1 (password)', commands: ['chpasswd -e'], stdin: [`guru1:${OTHER}\n`] },
  },
  {
    name: 'password equal (as a secret)',
    host: { groups, users: { guru1 } },
    params: { name: 'guru1', passwordHash: secret(HASH) },
    expected: { reason: 'user guru1 exists as wanted' },
  },
  {
    name: 'absent and there',
    host: { users: { old: {} } },
    params: { name: 'old', state: 'absent', removeHome: true },
    expected: { summary: 'remove user old', commands: [removal('userdel -r -- old')] },
  },
  {
    name: 'absent, keep home',
    host: { users: { old: {} } },
    params: { name: 'old', state: 'absent' },
    expected: { summary: 'remove user old', commands: [removal('userdel -- old')] },
  },
  {
    name: 'absent already',
    host: {},
    params: { name: 'old', state: 'absent' },
    expected: { reason: 'user old does not exist' },
  },
  {
    name: 'hostile values are quoted',
    host: { groups: { 'g;x': 7 } },
    params: { name: 'a$(id)', home: '/home/a b', shell: '/bin/sh; reboot', comment: "O'Brien", groups: ['g;x'] },
    expected: {
      summary: 'create user a$(id)',
      commands: ["useradd -m -d '/home/a b' -s '/bin/sh; reboot' -c 'O'\\''Brien' -G 'g;x' -- 'a$(id)'"],
    },
  },
];

describe('user', () => {
  it.each(cases)('$name', async ({ host: init, params, expected }) => {
    const host = new FakeHost(init);
    const plan = await host.plan(user(params));
    expectPlan(plan, expected);
    expect(host.probeRounds).toBe(1);
  });

  it('keeps the hash out of every command, summary and display', async () => {
    const host = new FakeHost({ groups });
    const task = user({ name: 'guru2', groups: ['mail'], passwordHash: secret(HASH) });
    const { first, second } = await host.converge(task);
    if (!first.changed) throw new Error('expected a change');
    expect(first.summary).not.toContain(HASH);
    for (const step of first.steps)
      if (step.kind === 'exec') expect(step.command.text + step.command.display).not.toContain(HASH);
    for (const command of host.connection.commands) expect(command.text).not.toContain(HASH);
    expect(host.changes.find((c) => c.text === 'chpasswd -e')?.stdin).toBe(`guru2:${HASH}\n`);
    expect(second).toEqual({ changed: false, reason: 'user guru2 exists as wanted' });
  });

  it('password: stored as a SHA-512-crypt hash, kept while it matches, replaced when the password changes', async () => {
    const host = new FakeHost({ groups });
    const first = await host.converge(user({ name: 'guru3', password: secret('first-pass-123') }));
    if (!first.first.changed) throw new Error('expected a change');
    const stdin = String(host.changes.find((c) => c.text === 'chpasswd -e')?.stdin);
    const hash = stdin.trim().split(':')[1];
    expect(hash).toMatch(/^\$6\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{86}$/);
    expect(matchesSha512Crypt('first-pass-123', hash)).toBe(true);
    for (const command of host.connection.commands) expect(command.text).not.toContain('first-pass-123');
    expect(first.second).toEqual({ changed: false, reason: 'user guru3 exists as wanted' });
    const changed = await host.converge(user({ name: 'guru3', password: secret('second-pass-456') }));
    expect(changed.first).toMatchObject({ changed: true, summary: 'update user guru3 (password)' });
    expect(changed.second.changed).toBe(false);
  });

  it('password must be a secret, and not together with passwordHash', () => {
    expect(() => user({ name: 'x', password: 'plain' as never })).toThrow(/secret\(\) value/);
    expect(() => user({ name: 'x', password: secret('a-pass'), passwordHash: HASH })).toThrow(/not both/);
  });

  it('converges: create, then update, each time unchanged afterwards', async () => {
    const host = new FakeHost({ groups });
    const create = user({
      name: 'guru1',
      shell: '/bin/bash',
      groups: ['mail', 'users'],
      comment: 'Guru Satu',
      passwordHash: HASH,
    });
    const one = await host.converge(create);
    expect(one.first.changed).toBe(true);
    expect(one.second.changed).toBe(false);
    expect(host.state.paths.get('/home/guru1')).toBe('directory');
    const update = user({
      name: 'guru1',
      uid: 3000,
      shell: '/usr/sbin/nologin',
      groups: ['staff'],
      comment: 'Guru, retired',
      passwordHash: '!',
    });
    const two = await host.converge(update);
    expect(two.first).toMatchObject({ summary: 'update user guru1 (uid, shell, comment, groups, password)' });
    expect(two.second.changed).toBe(false);
    expect(host.state.users.get('guru1')).toMatchObject({
      uid: 3000,
      shell: '/usr/sbin/nologin',
      groups: ['staff'],
      hash: '!',
    });
  });

  it('converges: remove', async () => {
    const host = new FakeHost({ users: { old: {} }, paths: { '/home/old': 'directory' } });
    const { second } = await host.converge(user({ name: 'old', state: 'absent', removeHome: true }));
    expect(second.changed).toBe(false);
    expect(host.state.paths.has('/home/old')).toBe(false);
  });

  it('a group an earlier task would create: planned in check mode, fails a real run without it', async () => {
    const host = new FakeHost();
    const task = user({ name: 'vmail', groups: ['vmailers'] });
    const plan = await host.plan(task, { earlierChangesPending: true });
    expect(plan).toMatchObject({ changed: true, summary: 'create user vmail' });
    await expect(host.apply(plan)).rejects.toThrow(/group 'vmailers' does not exist/);
    // with the group task applied first, it converges
    await host.apply(await host.plan(group({ name: 'vmailers' })));
    expect((await host.converge(task)).second.changed).toBe(false);
  });

  it('names the task', () => {
    expect(user({ name: 'guru1' }).name).toBe('user guru1');
    expect(user({ name: 'guru1', taskName: 'teacher account' }).name).toBe('teacher account');
  });

  it.each([
    [{ name: '' }, /invalid user name/],
    [{ name: 'a:b' }, /invalid user name/],
    [{ name: 'x', passwordHash: 'plain-password' }, /crypt hash/],
    [{ name: 'x', passwordHash: secret('$6$a$b\nroot:$6$x') }, /crypt hash/],
    [{ name: 'x', shell: '/bin/sh:x' }, /shell must be/],
    [{ name: 'x', uid: -1 }, /uid must be/],
    [{ name: 'x', groups: ['a,b'] }, /invalid group name/],
    [{ name: 'x', state: 'gone' as never }, /state must be/],
  ] as [UserParams, RegExp][])('rejects bad params %#', (params, message) => {
    expect(() => user(params)).toThrow(PlayError);
    expect(() => user(params)).toThrow(message);
  });

  it('does not show a rejected hash in the error', () => {
    expect(() => user({ name: 'x', passwordHash: secret('hunter2 pass') })).toThrow(/^(?!.*hunter2)/s);
  });
});
