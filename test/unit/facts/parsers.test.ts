import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { LocalConnection } from '../../../src/connection/local.ts';
import { sh } from '../../../src/connection/sh.ts';
import { FactCache } from '../../../src/facts/cache.ts';
import { groupProbe, parseGroupAccount, parseUserAccount, userProbe, usersFamily } from '../../../src/facts/account.ts';
import { commandSucceedsProbe } from '../../../src/facts/command-status.ts';
import { packagesProbe, parsePackageVersions } from '../../../src/facts/packages.ts';
import { parseServiceState, serviceProbe } from '../../../src/facts/service.ts';

const hasDpkg = (() => {
  try {
    execFileSync('dpkg-query', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe('parsePackageVersions', () => {
  const names = ['bind9', 'dnsutils', 'libc6', 'postfix', 'held', 'halfconf', 'reinst'];
  it.each<[string, string, Record<string, string | undefined>]>([
    ['nothing installed', '', {}],
    ['installed', 'bind9\tii \t1:9.18.28-1~deb12u2\n', { bind9: '1:9.18.28-1~deb12u2' }],
    ['removed, config left (rc)', 'postfix\trc \t3.7.11-0+deb12u1\n', {}],
    ['unknown (un) without version', 'dnsutils\tun \t\n', {}],
    ['half-configured (iF)', 'halfconf\tiF \t1.0\n', {}],
    ['unpacked only (iU)', 'halfconf\tiU \t1.0\n', {}],
    ['held but installed (hi)', 'held\thi \t2.0-1\n', { held: '2.0-1' }],
    ['reinstall required (iiR)', 'reinst\tiiR\t1.0\n', {}],
    ['multi-arch name', 'libc6:amd64\tii \t2.36-9+deb12u7\n', { libc6: '2.36-9+deb12u7' }],
    [
      'several lines, no final newline',
      'bind9\tii \t1:9.18.28-1~deb12u2\npostfix\trc \t3.7.11\nlibc6:amd64\tii \t2.36-9',
      { bind9: '1:9.18.28-1~deb12u2', libc6: '2.36-9' },
    ],
  ])('%s', (_, stdout, installed) => {
    const versions = parsePackageVersions(stdout, names);
    expect([...versions.keys()].sort()).toEqual([...names].sort());
    expect(Object.fromEntries([...versions].filter(([, v]) => v !== undefined))).toEqual(installed);
  });
});

describe('parseServiceState', () => {
  it.each<[string, string, object]>([
    [
      'systemd, running and enabled',
      'systemd\nLoadState=loaded\nActiveState=active\nUnitFileState=enabled\n',
      { manager: 'systemd', exists: true, active: true, enabled: true },
    ],
    [
      'systemd, stopped and disabled',
      'systemd\nLoadState=loaded\nActiveState=inactive\nUnitFileState=disabled',
      { manager: 'systemd', exists: true, active: false, enabled: false },
    ],
    [
      'systemd, failed',
      'systemd\nLoadState=loaded\nActiveState=failed\nUnitFileState=enabled',
      { exists: true, active: false, enabled: true },
    ],
    [
      'systemd, starting',
      'systemd\nLoadState=loaded\nActiveState=activating\nUnitFileState=static',
      { active: true, enabled: true },
    ],
    [
      'systemd, masked',
      'systemd\nLoadState=masked\nActiveState=inactive\nUnitFileState=masked',
      { exists: false, active: false, enabled: false },
    ],
    [
      'systemd, no such unit',
      'systemd\nLoadState=not-found\nActiveState=inactive\nUnitFileState=',
      { manager: 'systemd', exists: false, active: false, enabled: false },
    ],
    [
      'sysv, running, enabled',
      'sysv\nLoadState=loaded\nActiveState=active\nUnitFileState=enabled',
      { manager: 'sysv', exists: true, active: true, enabled: true },
    ],
    ['sysv, not found', 'sysv\nLoadState=not-found', { manager: 'sysv', exists: false, active: false, enabled: false }],
    [
      'value with =',
      'systemd\nLoadState=loaded\nActiveState=active\nUnitFileState=enabled\nDescription=a=b',
      { exists: true },
    ],
  ])('%s', (_, stdout, expected) => {
    expect(parseServiceState(stdout)).toMatchObject(expected);
  });
});

describe('parseUserAccount', () => {
  it('reads passwd, shadow hash and groups', () => {
    const account = parseUserAccount(
      'guru1:x:1001:1001:Guru Satu,,,:/home/guru1:/bin/bash\n$y$j9T$abc$def\nguru1 sudo staff\n',
    );
    expect(account).toMatchObject({
      name: 'guru1',
      uid: 1001,
      gid: 1001,
      home: '/home/guru1',
      shell: '/bin/bash',
      passwordHash: '$y$j9T$abc$def',
      groups: ['guru1', 'sudo', 'staff'],
    });
  });

  it('keeps the lines in place when the shadow hash is empty', () => {
    const account = parseUserAccount('svc:x:998:998::/var/lib/svc:/usr/sbin/nologin\n\nsvc\n');
    expect(account).toMatchObject({ name: 'svc', passwordHash: '', groups: ['svc'] });
  });

  it('a locked account', () => {
    expect(parseUserAccount('daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n*\ndaemon')?.passwordHash).toBe('*');
  });

  it('no account', () => {
    expect(parseUserAccount('')).toBeUndefined();
  });
});

describe('usersFamily', () => {
  const output = (text: string) => ({ exitCode: 2, stdout: text, bytes: Buffer.from(text) });
  const passwd = 'guru1:x:1001:1001:Guru Satu:/home/guru1:/bin/bash\nsvc:x:998:4242::/var/lib/svc:/usr/sbin/nologin\n';
  const shadow = 'guru1:$y$j9T$abc$def:19000:0:99999:7:::\nsvc:!:19000::::::\n';
  const group = 'root:x:0:\nsudo:x:27:guru2,guru1\nguru1:x:1001:guru1\nmail:x:8:guru1\nstaff:x:50:guru10\n';

  it('gives each account its hash and its groups as id -Gn orders them: primary first, then the groups listing it', () => {
    const [guru1, svc, missing] = usersFamily.parseAll(output(`${passwd}\0${shadow}\0${group}`), [
      'guru1',
      'svc',
      'nobody-here',
    ]);
    expect(guru1).toMatchObject({
      name: 'guru1',
      uid: 1001,
      gid: 1001,
      passwordHash: '$y$j9T$abc$def',
      groups: ['guru1', 'sudo', 'mail'],
    });
    // A primary group without an entry shows as its number, as id -Gn prints it.
    expect(svc).toMatchObject({ name: 'svc', gid: 4242, passwordHash: '!', groups: ['4242'] });
    expect(missing).toBeUndefined();
  });

  it('asks for any number of accounts in the same three processes', () => {
    const text = usersFamily.command(['a', 'b', 'c', 'd']).text;
    expect(text.match(/getent /g)).toHaveLength(3);
  });
});

describe('parseGroupAccount', () => {
  it.each([
    ['mail:x:8:\n', { name: 'mail', gid: 8, members: [] }],
    ['sudo:x:27:guru1,guru2', { name: 'sudo', gid: 27, members: ['guru1', 'guru2'] }],
    ['', undefined],
  ])('%j', (stdout, expected) => {
    expect(parseGroupAccount(stdout)).toEqual(expected);
  });
});

describe('account, group, package, service and command probes on this machine', () => {
  it('answers in one command', async () => {
    const local = new LocalConnection('local');
    const facts = new FactCache(local);
    const probes = [
      userProbe('root'),
      userProbe('no-such-user-play'),
      groupProbe('root'),
      groupProbe('no-such-group-play'),
      serviceProbe('no-such-service-play'),
      commandSucceedsProbe(sh`test -d /`),
      commandSucceedsProbe(sh`test -d /no/such/dir`),
    ];
    await facts.gather(probes);
    expect(local.commandCount).toBe(1);
    const root = await facts.get(userProbe('root'));
    expect(root).toMatchObject({ name: 'root', uid: 0, gid: 0, home: '/root' });
    expect(root?.groups).toContain('root');
    expect(await facts.get(userProbe('no-such-user-play'))).toBeUndefined();
    expect(await facts.get(groupProbe('root'))).toMatchObject({ name: 'root', gid: 0 });
    expect(await facts.get(groupProbe('no-such-group-play'))).toBeUndefined();
    expect(await facts.get(serviceProbe('no-such-service-play'))).toMatchObject({
      exists: false,
      active: false,
      enabled: false,
    });
    expect(await facts.get(commandSucceedsProbe(sh`test -d /`))).toBe(true);
    expect(await facts.get(commandSucceedsProbe(sh`test -d /no/such/dir`))).toBe(false);
    expect(local.commandCount).toBe(1);
  });

  it('every account of this machine, asked in one batch, has the uid, hash and groups that getent and id -Gn give', async () => {
    const names = execFileSync('getent', ['passwd'], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .map((line) => line.split(':')[0]);
    const local = new LocalConnection('local');
    const facts = new FactCache(local);
    await facts.gather([...names, 'no-such-user-play'].map((name) => userProbe(name)));
    expect(local.commandCount).toBe(1);
    for (const name of names) {
      const account = await facts.get(userProbe(name));
      const [, , uid, gid, , home, shell] = execFileSync('getent', ['passwd', name], { encoding: 'utf8' })
        .trim()
        .split(':');
      expect(account, name).toMatchObject({ name, uid: Number(uid), gid: Number(gid), home, shell });
      expect(account?.passwordHash, name).toBe(
        execFileSync('getent', ['shadow', name], { encoding: 'utf8' }).split(':')[1],
      );
      expect(account?.groups, name).toEqual(execFileSync('id', ['-Gn', name], { encoding: 'utf8' }).trim().split(' '));
    }
    expect(await facts.get(userProbe('no-such-user-play'))).toBeUndefined();
    expect(local.commandCount).toBe(1);
  });

  it.skipIf(!hasDpkg)('packagesProbe finds installed packages and not unknown ones', async () => {
    const facts = new FactCache(new LocalConnection('local'));
    const versions = await facts.get(packagesProbe(['no-such-package-play', 'coreutils']));
    expect(versions.get('coreutils')).toMatch(/^\d/);
    expect(versions.has('no-such-package-play')).toBe(true);
    expect(versions.get('no-such-package-play')).toBeUndefined();
  });

  it('families: several package, service and account probes are answered by one process each, each answer as the probe alone gives it', async () => {
    const probes = [
      packagesProbe(['bash', 'coreutils']),
      packagesProbe(['dpkg', 'no-such-package-play']),
      serviceProbe('no-such-service-play'),
      serviceProbe("odd 'name'"),
      serviceProbe('ssh'),
      userProbe('root'),
      userProbe('no-such-user-play'),
      userProbe('nobody'),
    ];
    const together = new FactCache(new LocalConnection('local'));
    await together.gather(probes);
    const script = (await import('../../../src/facts/cache.ts')).groupFamilies(probes);
    // Three families: one entry each.
    expect(script).toHaveLength(3);
    for (const probe of probes) {
      const alone = new FactCache(new LocalConnection('local'));
      await alone.gather([probe]);
      expect(await together.get(probe as never), `${probe.id.kind}:${probe.id.subject}`).toEqual(
        await alone.get(probe as never),
      );
    }
    // A batch answers only what each probe asked: no package of another probe leaks into its answer.
    expect([...(await together.get(probes[0] as ReturnType<typeof packagesProbe>)).keys()].sort()).toEqual([
      'bash',
      'coreutils',
    ]);
  });

  it('the service family reads one systemctl show for all units, its blocks in order', () => {
    const [probe] = [serviceProbe('a')];
    const family = probe.family!.kind;
    const stdout =
      'systemd\nLoadState=loaded\nActiveState=active\nUnitFileState=enabled\n\nLoadState=not-found\nActiveState=inactive\nUnitFileState=\n\nLoadState=loaded\nActiveState=inactive\nUnitFileState=disabled\n';
    expect(family.command(['a', 'b.socket']).text).toContain(
      'systemctl show -p LoadState -p ActiveState -p UnitFileState -- a.service b.socket',
    );
    expect(family.parseAll({ exitCode: 0, stdout, bytes: Buffer.from(stdout) }, ['a', 'b', 'c'])).toEqual([
      { manager: 'systemd', exists: true, active: true, enabled: true },
      { manager: 'systemd', exists: false, active: false, enabled: false },
      { manager: 'systemd', exists: true, active: false, enabled: false },
    ]);
  });

  it('packagesProbe has one identity for the same names in any order', () => {
    expect(packagesProbe(['b', 'a']).id).toEqual(packagesProbe(['a', 'b']).id);
  });
});
