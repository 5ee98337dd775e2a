import { matchesSha512Crypt, randomSalt, sha512Crypt } from '../crypt.ts';
import { sh } from '../connection/sh.ts';
import { PlayError } from '../errors.ts';
import { userProbe, type UserAccount } from '../facts/account.ts';
import { Secret, reveal } from '../secret.ts';
import { opOnFact, task, type Plan, type Step, type Task, type TaskOptions } from './op.ts';

/**
 * The wanted state of a local user account.
 *
 * @example
 * const params: UserParams = { name: 'guru1', shell: '/bin/bash', groups: ['mail'], passwordHash: secret('$6$…') };
 */
export interface UserParams extends Omit<TaskOptions, 'name'> {
  /** The login name. */
  readonly name: string;
  /** The task's name in the output and for `notify` (`name` is the login here); defaults to `user NAME`. */
  readonly taskName?: string;
  /** `present` (default) or `absent`. */
  readonly state?: 'present' | 'absent';
  readonly uid?: number;
  /** The home directory; an existing user's files are not moved when it changes. */
  readonly home?: string;
  /** The login shell, e.g. `/bin/bash` or `/usr/sbin/nologin`. */
  readonly shell?: string;
  /** Supplementary groups; exactly these unless `appendGroups` (the primary group needs no listing). */
  readonly groups?: readonly string[];
  /** Add the user to `groups` but keep the other groups it is in (default false: `groups` is the exact list). */
  readonly appendGroups?: boolean;
  /** A crypt hash (`$6$…`, `$y$…`), set with `chpasswd -e` through standard input, never in a command. */
  readonly passwordHash?: string | Secret;
  /**
   * The password itself, as a secret: stored as a SHA-512-crypt hash with a random salt, and left alone when
   * the host's hash is already of this password (checked with that hash's own salt).
   */
  readonly password?: Secret;
  /** Create the home directory with a new user (default true); an existing user is not affected. */
  readonly createHome?: boolean;
  /** A system account (`useradd -r`); only used when the user is created. */
  readonly system?: boolean;
  /** The GECOS field, e.g. a full name. */
  readonly comment?: string;
  /** With `state: 'absent'`, remove the home directory and mail spool too (`userdel -r`). */
  readonly removeHome?: boolean;
}

function checkField(where: string, field: string, value: string | undefined): void {
  if (value !== undefined && (typeof value !== 'string' || /[:\n]/.test(value))) {
    throw new PlayError(`${where}: ${field} must be a string without ':' or newlines`);
  }
}

function validate(params: UserParams): void {
  const where = `user ${params.name}`;
  if (typeof params.name !== 'string' || !/^[^\s:/,]+$/.test(params.name))
    throw new PlayError(`user: invalid user name ${JSON.stringify(params.name)}`);
  if (params.state !== undefined && params.state !== 'present' && params.state !== 'absent') {
    throw new PlayError(`${where}: state must be 'present' or 'absent', got ${JSON.stringify(params.state)}`);
  }
  if (params.uid !== undefined && (!Number.isInteger(params.uid) || params.uid < 0))
    throw new PlayError(`${where}: uid must be a non-negative integer`);
  checkField(where, 'home', params.home);
  checkField(where, 'shell', params.shell);
  checkField(where, 'comment', params.comment);
  if (params.password !== undefined) {
    if (!(params.password instanceof Secret))
      throw new PlayError(`${where}: password must be a secret() value, not plain text`);
    if (params.passwordHash !== undefined) throw new PlayError(`${where}: give password or passwordHash, not both`);
  }
  if (params.passwordHash !== undefined) {
    const hash = reveal(params.passwordHash);
    // A plain password given by mistake would be stored as a hash nobody can log in with.
    if (/[:\s]/.test(hash) || !(/^\$[0-9a-z]+\$/.test(hash) || /^[!*]/.test(hash))) {
      throw new PlayError(
        `${where}: passwordHash must be a crypt hash such as $6$… or $y$… (got a value that is not one)`,
      );
    }
  }
  for (const group of params.groups ?? []) {
    if (typeof group !== 'string' || !/^[^\s:,]+$/.test(group))
      throw new PlayError(`${where}: invalid group name ${JSON.stringify(group)}`);
  }
}

function passwordStep(name: string, hash: string | Secret): Step {
  return { kind: 'exec', command: sh`chpasswd -e`, stdin: `${name}:${reveal(hash)}\n` };
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)].sort();
}

/** The usermod flags for what differs, with the names of the fields that change. */
function differences(params: UserParams, current: UserAccount): { fields: string[]; flags: string[] } {
  const fields: string[] = [];
  const flags: string[] = [];
  if (params.uid !== undefined && params.uid !== current.uid) {
    fields.push('uid');
    flags.push('-u', String(params.uid));
  }
  if (params.home !== undefined && params.home !== current.home) {
    fields.push('home');
    flags.push('-d', params.home);
  }
  if (params.shell !== undefined && params.shell !== current.shell) {
    fields.push('shell');
    flags.push('-s', params.shell);
  }
  if (params.comment !== undefined && params.comment !== (current.comment ?? '')) {
    fields.push('comment');
    flags.push('-c', params.comment);
  }
  if (params.groups !== undefined) {
    // `id -Gn` lists the primary group first; it is not a supplementary group.
    const [primary, ...supplementary] = current.groups;
    if (params.appendGroups) {
      const missing = unique(params.groups).filter((g) => !current.groups.includes(g));
      if (missing.length) {
        fields.push('groups');
        flags.push('-a', '-G', missing.join(','));
      }
    } else {
      const wanted = unique(params.groups.filter((g) => g !== primary));
      if (wanted.join(',') !== unique(supplementary).join(',')) {
        fields.push('groups');
        flags.push('-G', wanted.join(','));
      }
    }
  }
  return { fields, flags };
}

/**
 * A local user account with its uid, home, shell, groups and password hash, or no such account.
 *
 * @example
 * user({ name: 'guru1', shell: '/bin/bash', groups: ['mail'], passwordHash: secret(vault.guru1Hash) })
 * user({ name: 'olduser', state: 'absent', removeHome: true })
 */
export function user(params: UserParams): Task {
  validate(params);
  const name = params.name;
  const op = opOnFact({
    kind: 'user',
    title: `user ${name}`,
    fact: userProbe(name),
    async plan(current): Promise<Plan> {
      // Checked here, not when the task is built: a password from a vault is read only when a run needs it.
      if (
        params.password !== undefined &&
        (/[\n\r]/.test(params.password.reveal()) || params.password.reveal() === '')
      ) {
        throw new PlayError(`user ${name}: password must be one non-empty line`);
      }
      if (params.state === 'absent') {
        if (!current) return { changed: false, reason: `user ${name} does not exist` };
        const flags = params.removeHome ? ['-r'] : [];
        // userdel refuses (exit 8) while a process runs as the user: a mail session, a replication sync started a
        // moment ago, or a Dovecot service that last served the user and keeps it as its effective uid (quota-status;
        // Dovecot starts another). Those are ended first, by real and by effective uid (TERM, then KILL on a retry),
        // and userdel tried again.
        const uid = String(current.uid);
        return {
          changed: true,
          summary: `remove user ${name}`,
          steps: [
            {
              kind: 'exec',
              command: sh`signal=TERM; for try in 1 2 3 4 5; do pkill -$signal -U ${uid}; pkill -$signal -u ${uid}; sleep 0.2; userdel ${[...flags, '--', name]} && exit 0; rc=$?; [ "$rc" -eq 8 ] || exit "$rc"; signal=KILL; done; exit 8`,
            },
          ],
          diffs: [],
        };
      }
      if (!current) {
        const flags: string[] = [params.createHome === false ? '-M' : '-m'];
        if (params.system) flags.push('-r');
        if (params.uid !== undefined) flags.push('-u', String(params.uid));
        if (params.home !== undefined) flags.push('-d', params.home);
        if (params.shell !== undefined) flags.push('-s', params.shell);
        if (params.comment !== undefined) flags.push('-c', params.comment);
        if (params.groups?.length) flags.push('-G', unique(params.groups).join(','));
        const steps: Step[] = [{ kind: 'exec', command: sh`useradd ${flags} -- ${name}` }];
        if (params.passwordHash !== undefined) steps.push(passwordStep(name, params.passwordHash));
        if (params.password !== undefined)
          steps.push(passwordStep(name, sha512Crypt(params.password.reveal(), randomSalt())));
        return { changed: true, summary: `create user ${name}`, steps, diffs: [] };
      }
      const { fields, flags } = differences(params, current);
      const steps: Step[] = flags.length ? [{ kind: 'exec', command: sh`usermod ${flags} -- ${name}` }] : [];
      if (params.passwordHash !== undefined && reveal(params.passwordHash) !== current.passwordHash) {
        fields.push('password');
        steps.push(passwordStep(name, params.passwordHash));
      }
      if (params.password !== undefined && !matchesSha512Crypt(params.password.reveal(), current.passwordHash)) {
        fields.push('password');
        steps.push(passwordStep(name, sha512Crypt(params.password.reveal(), randomSalt())));
      }
      if (fields.length === 0) return { changed: false, reason: `user ${name} exists as wanted` };
      return { changed: true, summary: `update user ${name} (${fields.join(', ')})`, steps, diffs: [] };
    },
  });
  return task(op, { notify: params.notify, tags: params.tags, name: params.taskName });
}
