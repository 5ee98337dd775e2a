import { ShellCommand, quote, sh } from '../connection/sh.ts';
import type { Probe, ProbeFamily } from './probe.ts';

/** A local user account as `getent` shows it, or `undefined` when there is none. */
export interface UserAccount {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
  readonly shell: string;
  /** The GECOS field (full name, comment); optional only so older fixtures stay valid. */
  readonly comment?: string;
  /** The password hash from /etc/shadow (`!`/`*` for a locked account). */
  readonly passwordHash: string;
  /** Supplementary and primary group names. */
  readonly groups: readonly string[];
}

/** Turns `getent passwd` + shadow hash + `id -Gn` lines into a {@link UserAccount}. */
export function parseUserAccount(stdout: string): UserAccount | undefined {
  const [passwd, hash = '', groups = ''] = stdout.split('\n');
  if (!passwd) return undefined;
  const [name, , uid, gid, comment = '', home, shell] = passwd.split(':');
  return {
    name,
    uid: Number(uid),
    gid: Number(gid),
    comment,
    home,
    shell,
    passwordHash: hash,
    groups: groups.split(' ').filter(Boolean),
  };
}

/**
 * A user account: passwd entry, shadow hash and groups.
 *
 * @example
 * const guru1 = await facts.get(userProbe('guru1'));
 */
export function userProbe(name: string): Probe<UserAccount | undefined> {
  return {
    id: { kind: 'user', subject: name },
    command: usersFamily.command([name]),
    parse: (output) => usersFamily.parseAll(output, [name])[0],
    family: { kind: usersFamily, argument: name },
  };
}

/** The fields of colon-separated database lines (`getent passwd`, `shadow`, `group`), by their first field. */
function byName(section: string): Map<string, string[]> {
  const lines = section
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split(':'));
  return new Map(lines.map((fields) => [fields[0], fields]));
}

/**
 * Every account of a batch in three processes whatever their number: `getent passwd` and `getent shadow` for
 * all the names at once, and the group database once (`getent group`), from which each account's groups come
 * as `id -Gn` would print them: its primary group first (its number when the group has no entry), then every
 * group that lists it as a member, in the database's order. The three answers are separated by NULs.
 */
export const usersFamily: ProbeFamily<UserAccount | undefined> = {
  name: 'users',
  command(args) {
    const names = args.map(quote).join(' ');
    const text = `getent passwd -- ${names}; printf '\\0'; getent shadow -- ${names}; printf '\\0'; getent group`;
    return new ShellCommand(text, text);
  },
  parseAll: (output, args) => {
    const [passwd = '', shadow = '', group = ''] = output.stdout.split('\0');
    const accounts = byName(passwd);
    const hashes = byName(shadow);
    const groups = [...byName(group).values()].map(([groupName, , gid, members = '']) => ({
      name: groupName,
      gid: Number(gid),
      members: members.split(','),
    }));
    return args.map((name) => {
      const fields = accounts.get(name);
      if (!fields) return undefined;
      const gid = Number(fields[3]);
      const primary = groups.find((g) => g.gid === gid)?.name ?? String(gid);
      const supplementary = groups.filter((g) => g.members.includes(name) && g.name !== primary).map((g) => g.name);
      return parseUserAccount(
        `${fields.join(':')}\n${hashes.get(name)?.[1] ?? ''}\n${[primary, ...supplementary].join(' ')}`,
      );
    });
  },
};

/** A local group, or `undefined` when there is none. */
export interface GroupAccount {
  readonly name: string;
  readonly gid: number;
  readonly members: readonly string[];
}

/** Turns a `getent group` line into a {@link GroupAccount}. */
export function parseGroupAccount(stdout: string): GroupAccount | undefined {
  const line = stdout.split('\n')[0];
  if (!line) return undefined;
  const [name, , gid, members = ''] = line.split(':');
  return { name, gid: Number(gid), members: members.split(',').filter(Boolean) };
}

/**
 * A local group and its members.
 *
 * @example
 * const mail = await facts.get(groupProbe('mail'));
 */
export function groupProbe(name: string): Probe<GroupAccount | undefined> {
  return {
    id: { kind: 'group', subject: name },
    command: sh`getent group -- ${name}`,
    parse: (output) => parseGroupAccount(output.stdout),
  };
}
