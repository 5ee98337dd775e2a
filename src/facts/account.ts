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
  return { name, uid: Number(uid), gid: Number(gid), comment, home, shell, passwordHash: hash, groups: groups.split(' ').filter(Boolean) };
}

/**
 * A user account: passwd entry, shadow hash and groups.
 *
 * @example
 * const guru1 = await facts.get(userProbe('guru1'));
 */
export function userProbe(name: string): Probe<UserAccount | undefined> {
  return {
    key: `user:${name}`,
    command: sh`if p=$(getent passwd -- ${name}); then echo "$p"; echo "$(getent shadow -- ${name} | cut -d: -f2)"; id -Gn -- ${name}; fi`,
    parse: (output) => parseUserAccount(output.stdout),
    family: { kind: usersFamily, argument: name },
  };
}

/** Every account probe of a batch in one loop: each answer as {@link userProbe}'s, ended by a NUL. */
export const usersFamily: ProbeFamily<UserAccount | undefined> = {
  name: 'users',
  command(args) {
    const text = `for n in ${args.map(quote).join(' ')}; do if p=$(getent passwd -- "$n"); then echo "$p"; echo "$(getent shadow -- "$n" | cut -d: -f2)"; id -Gn -- "$n"; fi; printf '\\0'; done`;
    return new ShellCommand(text, text);
  },
  parseAll: (output, args) => {
    const answers = output.stdout.split('\0');
    return args.map((_, i) => parseUserAccount(answers[i] ?? ''));
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
    key: `group:${name}`,
    command: sh`getent group -- ${name}`,
    parse: (output) => parseGroupAccount(output.stdout),
  };
}
