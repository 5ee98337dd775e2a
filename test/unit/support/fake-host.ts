import { createHash } from 'node:crypto';
import { expect } from 'vitest';
import { RecordingConnection, type RecordedCommand } from '../../../src/connection/recording.ts';
import { applySteps } from '../../../src/engine/apply.ts';
import { FactCache, groupFamilies, ProbeAnswers, unanswered } from '../../../src/facts/cache.ts';
import { groupProbe, usersFamily } from '../../../src/facts/account.ts';
import { pathFamily, pathProbe } from '../../../src/facts/file.ts';
import { packagesProbe } from '../../../src/facts/packages.ts';
import { probeScript, type Probe } from '../../../src/facts/probe.ts';
import { REMOTE_MARKER } from '../../../src/remote/protocol.ts';
import { serviceProbe } from '../../../src/facts/service.ts';
import type { FactReader, Plan, PlanContext, Task } from '../../../src/ops/op.ts';

/** A service as the simulated init system knows it. */
export interface FakeService {
  active: boolean;
  enabled: boolean;
}

/** A user as the simulated passwd/shadow/group files hold it (`groups` are the supplementary ones). */
export interface FakeUser {
  uid: number;
  gid: number;
  home: string;
  shell: string;
  comment: string;
  hash: string;
  groups: string[];
}

/** A group as the simulated /etc/group holds it. */
export interface FakeGroup {
  gid: number;
}

/** What a command answers: exit code and output. */
export interface FakeAnswer {
  exitCode: number;
  stdout?: string;
  stderr?: string;
}

/** The whole simulated host; tests build it, ops' steps change it. */
export interface FakeHostState {
  manager: 'systemd' | 'sysv';
  /** Installed packages and their versions. */
  packages: Map<string, string>;
  /** Packages apt cannot find. */
  unavailable: Set<string>;
  /** Services a package brings (installed enabled and running, as Debian does). */
  packageServices: Record<string, string[]>;
  services: Map<string, FakeService>;
  /** Lines fed to debconf-set-selections. */
  debconf: string[];
  aptUpdates: number;
  users: Map<string, FakeUser>;
  groups: Map<string, FakeGroup>;
  paths: Map<string, 'file' | 'directory'>;
  /** Answers any other command (unless checks, user commands); unset: exit 0. */
  onCommand?: (command: RecordedCommand) => FakeAnswer | undefined;
}

/** Options for a fake host: any part of its state. */
export type FakeHostInit = Partial<Omit<FakeHostState, 'packages' | 'services' | 'users' | 'groups' | 'paths'>> & {
  packages?: Record<string, string>;
  services?: Record<string, FakeService>;
  users?: Record<string, Partial<FakeUser>>;
  groups?: Record<string, number>;
  paths?: Record<string, 'file' | 'directory'>;
};

const STOP = new Set([' ', '\t', '\n', ';', ')', '(', '&', '|', '<', '>']);

/** Reads one POSIX shell word (single/double quotes, backslashes) starting at `start`. */
export function readWord(text: string, start: number): { word: string; end: number } {
  let word = '';
  let i = start;
  while (i < text.length && !STOP.has(text[i])) {
    const c = text[i];
    if (c === "'") {
      const close = text.indexOf("'", i + 1);
      if (close < 0) throw new Error(`unterminated quote in ${text}`);
      word += text.slice(i + 1, close);
      i = close + 1;
    } else if (c === '"') {
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\\' && '"\\$`'.includes(text[i + 1])) i++;
        word += text[i++];
      }
      i++;
    } else if (c === '\\') {
      word += text[i + 1];
      i += 2;
    } else {
      word += c;
      i++;
    }
  }
  return { word, end: i };
}

/** Splits a simple command line into its words, as `/bin/sh` would (no expansions). */
export function shellWords(text: string): string[] {
  const words: string[] = [];
  let i = 0;
  while (i < text.length) {
    if (/\s/.test(text[i])) {
      i++;
      continue;
    }
    if (STOP.has(text[i]))
      throw new Error(`fake host: unexpected operator ${JSON.stringify(text[i])} in ${JSON.stringify(text)}`);
    const { word, end } = readWord(text, i);
    words.push(word);
    i = end;
  }
  return words;
}

function ok(stdout = ''): FakeAnswer {
  return { exitCode: 0, stdout };
}

function fail(exitCode: number, stderr: string): FakeAnswer {
  return { exitCode, stderr };
}

/** Reads `-x value` style flags up to `--`; returns the flags and the words after `--`. */
function parseFlags(words: readonly string[], withValue: string): { flags: Map<string, string>; rest: string[] } {
  const flags = new Map<string, string>();
  let i = 0;
  for (; i < words.length; i++) {
    const w = words[i];
    if (w === '--') {
      i++;
      break;
    }
    if (!w.startsWith('-')) break;
    if (withValue.includes(w[1])) flags.set(w, words[++i]);
    else flags.set(w, '');
  }
  return { flags, rest: words.slice(i) };
}

/**
 * A simulated Debian host behind a {@link RecordingConnection}: it answers the probe scripts of the real
 * probes from its state and carries out the apt-get, debconf, systemctl, init script, update-rc.d, useradd,
 * usermod, userdel, chpasswd and group commands that ops emit.
 *
 * @example
 * const host = new FakeHost({ packages: { bind9: '1:9.18' } });
 * const plan = await host.plan(packages({ names: ['bind9', 'dnsutils'] }));
 * await host.apply(plan);
 */
export class FakeHost {
  readonly state: FakeHostState;
  readonly connection: RecordingConnection;
  facts: FactCache;
  /** How many probe scripts were run. */
  probeRounds = 0;
  /** The probes the next probe script asks, in order (as the fact cache builds it). */
  private asking: Probe<unknown>[] = [];
  private readonly answered = new ProbeAnswers();
  /** The facts as an op reads them: through the real fact cache and probe script. */
  readonly reader: FactReader = {
    get: async <T>(probe: Probe<T>): Promise<T> => {
      if (!this.answered.has(probe.id)) this.asking = [probe];
      return this.facts.get(probe);
    },
  };

  constructor(init: FakeHostInit = {}) {
    this.state = {
      manager: init.manager ?? 'systemd',
      packages: new Map(Object.entries(init.packages ?? {})),
      unavailable: init.unavailable ?? new Set(),
      packageServices: init.packageServices ?? {},
      services: new Map(Object.entries(init.services ?? {}).map(([k, v]) => [k, { ...v }])),
      debconf: init.debconf ?? [],
      aptUpdates: init.aptUpdates ?? 0,
      users: new Map(),
      groups: new Map(Object.entries(init.groups ?? {}).map(([k, gid]) => [k, { gid }])),
      paths: new Map(Object.entries(init.paths ?? {})),
      onCommand: init.onCommand,
    };
    for (const [name, user] of Object.entries(init.users ?? {})) {
      const uid =
        user.uid ??
        this.nextId(
          1000,
          [...this.state.users.values()].map((u) => u.uid),
        );
      if (user.gid === undefined && !this.state.groups.has(name)) this.state.groups.set(name, { gid: uid });
      this.state.users.set(name, {
        uid,
        gid: user.gid ?? this.state.groups.get(name)!.gid,
        home: user.home ?? `/home/${name}`,
        shell: user.shell ?? '/bin/sh',
        comment: user.comment ?? '',
        hash: user.hash ?? '!',
        groups: user.groups ?? [],
      });
    }
    this.connection = new RecordingConnection('fake', (command) => this.respond(command));
    this.facts = new FactCache(this.connection);
  }

  /** The plan context an engine would give a task on this host. */
  context(earlierChangesPending = false): PlanContext {
    return { host: 'fake', vars: {}, facts: this.reader, earlierChangesPending };
  }

  /** Gathers probes in one round trip, as the engine does before planning. */
  async gather(probes: readonly Probe<unknown>[]): Promise<void> {
    this.asking = unanswered(probes, this.answered);
    await this.facts.gather(probes);
  }

  /** Forgets every fact, as the engine does after a change. */
  invalidate(): void {
    this.facts.invalidate();
    this.answered.clear();
  }

  /** Plans a task as the engine does: its declared probes gathered in one round trip, then its planner. */
  async plan(task: Task, options: { earlierChangesPending?: boolean } = {}): Promise<Plan> {
    await this.gather(task.op.probes());
    return task.op.plan(this.context(options.earlierChangesPending ?? false));
  }

  /** Applies a plan's steps to the simulated host, then forgets the facts (as the engine does after a change). */
  async apply(plan: Plan): Promise<void> {
    if (!plan.changed) return;
    try {
      await applySteps(this.connection, plan.steps, { host: 'fake' });
    } finally {
      this.invalidate();
    }
  }

  /** Plan, apply, plan again: the two plans. */
  async converge(task: Task): Promise<{ first: Plan; second: Plan }> {
    const first = await this.plan(task);
    await this.apply(first);
    return { first, second: await this.plan(task) };
  }

  /** The commands that were not probe scripts (the changes), in order. */
  get changes(): RecordedCommand[] {
    return this.connection.commands.filter((c) => !c.text.startsWith(REMOTE_MARKER.probe));
  }

  private nextId(from: number, used: number[]): number {
    let id = from;
    while (used.includes(id)) id++;
    return id;
  }

  private respond(command: RecordedCommand): FakeAnswer {
    if (command.text.startsWith(REMOTE_MARKER.probe)) return this.answerProbes(command.text);
    return this.run(command);
  }

  // ---- probes ----

  private answerProbes(script: string): FakeAnswer {
    this.probeRounds++;
    const asking = this.asking;
    this.asking = [];
    // Rebuilding the script from the probes we expect (with the boundary it carries) proves the fact cache asked
    // exactly those.
    const batch = groupFamilies(asking);
    const boundary = boundaryIn(script);
    if (
      probeScript(
        batch.map((entry) => entry.probe),
        boundary,
      ).text !== script
    )
      throw new Error(`fake host: unexpected probe script:\n${script}`);
    for (const probe of asking) this.answered.set(probe, true);
    const answers = batch.map(({ probe }) => {
      const answer =
        probe.id.kind === 'family' && probe.id.subject === pathFamily.name
          ? this.answerPathFamily(probe.command.text)
          : this.answerProbe(probe.command.text);
      return `${answer.stdout ?? ''}\n${boundary} ${answer.exitCode}\n`;
    });
    return ok(`${Buffer.from(answers.join('')).toString('base64')}\n`);
  }

  // The path family's NUL-separated sections: types, stat records, sha256sum records, link targets.
  private answerPathFamily(text: string): FakeAnswer {
    const firstLine = text.slice(0, text.indexOf('\n'));
    const paths = shellWords(firstLine).slice(2);
    if (pathFamily.command(paths).text !== text) throw new Error(`fake host: path family not recognised:\n${text}`);
    const types = paths.map((p) =>
      this.state.paths.get(p) === 'directory' ? 'directory' : this.state.paths.has(p) ? 'file' : 'absent',
    );
    const stats = paths.flatMap((p, i) =>
      types[i] === 'absent' ? [] : [p, types[i] === 'directory' ? '755 root root' : '644 root root'],
    );
    const sums = paths
      .filter((_, i) => types[i] === 'file')
      .map((p) => `${createHash('sha256').update('').digest('hex')}  ${p}`);
    return ok(`${[...types, '', ...stats, '', ...sums, ''].join('\0')}\0`);
  }

  private answerProbe(text: string): FakeAnswer {
    const expectSame = (rebuilt: string) => {
      if (rebuilt !== text) throw new Error(`fake host: probe not recognised:\n${text}\nexpected:\n${rebuilt}`);
    };
    if (text.startsWith('p=')) {
      const path = readWord(text, 2).word;
      expectSame(pathProbe(path).command.text);
      const type = this.state.paths.get(path);
      if (!type) return ok('absent');
      if (type === 'directory') return ok('directory\n755 root root');
      return ok(`file\n644 root root\n${createHash('sha256').update('').digest('hex')}`);
    }
    if (text.startsWith('dpkg-query -W')) {
      const words = shellWords(text.slice(0, text.indexOf(' 2>/dev/null; true')));
      const names = words.slice(words.indexOf('--') + 1);
      expectSame(packagesProbe(names).command.text);
      const lines = names
        .filter((n) => this.state.packages.has(n))
        .map((n) => `${n}\tii \t${this.state.packages.get(n)}`);
      return ok(lines.join('\n'));
    }
    if (text.startsWith('if [ -d /run/systemd/system ]')) {
      const marker = 'elif [ -x /etc/init.d/';
      const name = readWord(text, text.indexOf(marker) + marker.length).word;
      expectSame(serviceProbe(name).command.text);
      const service = this.state.services.get(name.replace(/\.service$/, ''));
      const head = this.state.manager;
      if (!service)
        return ok(
          head === 'systemd'
            ? 'systemd\nLoadState=not-found\nActiveState=inactive\nUnitFileState='
            : 'sysv\nLoadState=not-found',
        );
      return ok(
        `${head}\nLoadState=loaded\nActiveState=${service.active ? 'active' : 'inactive'}\nUnitFileState=${service.enabled ? 'enabled' : 'disabled'}`,
      );
    }
    if (text.startsWith('getent passwd -- ')) {
      const names = shellWords(text.slice(0, text.indexOf(';'))).slice(3);
      expectSame(usersFamily.command(names).text);
      const found = names
        .filter((name) => this.state.users.has(name))
        .map((name) => [name, this.state.users.get(name)!] as const);
      const passwd = found
        .map(([name, u]) => `${name}:x:${u.uid}:${u.gid}:${u.comment}:${u.home}:${u.shell}\n`)
        .join('');
      const shadow = found.map(([name, u]) => `${name}:${u.hash}:19000:0:99999:7:::\n`).join('');
      const group = [...this.state.groups]
        .map(
          ([name, g]) =>
            `${name}:x:${g.gid}:${[...this.state.users]
              .filter(([, u]) => u.groups.includes(name))
              .map(([n]) => n)
              .join(',')}\n`,
        )
        .join('');
      return ok(`${passwd}\0${shadow}\0${group}`);
    }
    if (text.startsWith('getent group -- ')) {
      const name = readWord(text, 'getent group -- '.length).word;
      expectSame(groupProbe(name).command.text);
      const group = this.state.groups.get(name);
      if (!group) return fail(2, '');
      const members = [...this.state.users].filter(([, u]) => u.groups.includes(name)).map(([n]) => n);
      return ok(`${name}:x:${group.gid}:${members.join(',')}`);
    }
    const answer = this.state.onCommand?.({ text });
    if (!answer) throw new Error(`fake host: no answer for probe ${JSON.stringify(text)}`);
    return answer;
  }

  // ---- changes ----

  private run(command: RecordedCommand): FakeAnswer {
    const custom = this.state.onCommand?.(command);
    if (custom) return custom;
    // The user op's removal: its processes ended (none run here), then its userdel.
    const removal =
      /^signal=TERM; for try in 1 2 3 4 5; do pkill -\$signal -U \d+; pkill -\$signal -u \d+; sleep 0\.2; (userdel .*?) && exit 0; rc=\$\?; /.exec(
        command.text,
      );
    if (removal) return this.run({ ...command, text: removal[1] });
    const words = shellWords(command.text);
    const env = words[0] === 'DEBIAN_FRONTEND=noninteractive' ? words.shift() : undefined;
    const [program, ...args] = words;
    switch (program) {
      case 'apt-get':
        if (!env) return fail(1, 'fake host: apt-get without DEBIAN_FRONTEND=noninteractive would prompt');
        return this.aptGet(args);
      case 'debconf-set-selections':
        this.state.debconf.push(...(command.stdin ?? '').split('\n').filter(Boolean));
        return ok();
      case 'systemctl':
        return this.serviceAction(args[0], args[2], 'systemd');
      case 'update-rc.d':
        return this.serviceAction(args[1], args[0], 'sysv');
      case 'useradd':
        return this.useradd(args);
      case 'usermod':
        return this.usermod(args);
      case 'userdel': {
        const { flags, rest } = parseFlags(args, '');
        const user = this.state.users.get(rest[0]);
        if (!user) return fail(6, `userdel: user '${rest[0]}' does not exist`);
        this.state.users.delete(rest[0]);
        if (flags.has('-r')) this.state.paths.delete(user.home);
        return ok();
      }
      case 'chpasswd': {
        if (args[0] !== '-e') return fail(1, 'fake host: chpasswd without -e');
        for (const line of (command.stdin ?? '').split('\n').filter(Boolean)) {
          const [name, hash] = line.split(':');
          const user = this.state.users.get(name);
          if (!user) return fail(1, `chpasswd: user '${name}' does not exist`);
          user.hash = hash;
        }
        return ok();
      }
      case 'groupadd': {
        const { flags, rest } = parseFlags(args, 'g');
        if (this.state.groups.has(rest[0])) return fail(9, `groupadd: group '${rest[0]}' already exists`);
        const gid = flags.has('-g')
          ? Number(flags.get('-g'))
          : this.nextId(
              flags.has('-r') ? 100 : 1000,
              [...this.state.groups.values()].map((g) => g.gid),
            );
        this.state.groups.set(rest[0], { gid });
        return ok();
      }
      case 'groupmod': {
        const { flags, rest } = parseFlags(args, 'g');
        const group = this.state.groups.get(rest[0]);
        if (!group) return fail(6, `groupmod: group '${rest[0]}' does not exist`);
        if (flags.has('-g')) group.gid = Number(flags.get('-g'));
        return ok();
      }
      case 'groupdel':
        if (!this.state.groups.delete(args[args.length - 1])) return fail(6, 'groupdel: group does not exist');
        return ok();
      case 'touch':
        for (const path of args.filter((a) => !a.startsWith('-'))) this.state.paths.set(path, 'file');
        return ok();
      case 'rm':
        for (const path of args.filter((a) => !a.startsWith('-'))) this.state.paths.delete(path);
        return ok();
    }
    if (program.startsWith('/etc/init.d/'))
      return this.serviceAction(args[0], program.slice('/etc/init.d/'.length), 'sysv');
    return ok();
  }

  private aptGet(args: string[]): FakeAnswer {
    const verb = args.find((a) => !a.startsWith('-') && !a.includes('::'));
    if (verb === 'update') {
      this.state.aptUpdates++;
      return ok();
    }
    const names = args.slice(args.indexOf('--') + 1);
    if (!args.includes('-y')) return fail(1, 'fake host: apt-get without -y would prompt');
    if (verb === 'install') {
      const unknown = names.filter((n) => this.state.unavailable.has(n));
      if (unknown.length) return fail(100, `E: Unable to locate package ${unknown[0]}`);
      for (const name of names) {
        this.state.packages.set(name, '1.0-1');
        for (const unit of this.state.packageServices[name] ?? [])
          this.state.services.set(unit, { active: true, enabled: true });
      }
      return ok();
    }
    if (verb === 'remove' || verb === 'purge') {
      for (const name of names) this.state.packages.delete(name);
      return ok();
    }
    return fail(1, `fake host: apt-get ${verb}?`);
  }

  private serviceAction(action: string, name: string, manager: 'systemd' | 'sysv'): FakeAnswer {
    if (manager !== this.state.manager)
      return fail(127, `fake host: ${manager} command on a ${this.state.manager} host`);
    const service = this.state.services.get(name.replace(/\.service$/, ''));
    if (!service) return fail(5, `Failed to ${action} ${name}: Unit ${name} not found.`);
    switch (action) {
      case 'start':
      case 'restart':
        service.active = true;
        return ok();
      case 'stop':
        service.active = false;
        return ok();
      case 'reload':
        return service.active ? ok() : fail(1, `Job for ${name} failed: not active, cannot reload.`);
      case 'enable':
        service.enabled = true;
        return ok();
      case 'disable':
        service.enabled = false;
        return ok();
    }
    return fail(1, `fake host: unknown service action ${action}`);
  }

  private missingGroups(list: string | undefined): string | undefined {
    return (list ? list.split(',') : []).find((g) => !this.state.groups.has(g));
  }

  private useradd(args: string[]): FakeAnswer {
    const { flags, rest } = parseFlags(args, 'udscG');
    const name = rest[0];
    if (this.state.users.has(name)) return fail(9, `useradd: user '${name}' already exists`);
    const missing = this.missingGroups(flags.get('-G'));
    if (missing) return fail(6, `useradd: group '${missing}' does not exist`);
    const system = flags.has('-r');
    const uid = flags.has('-u')
      ? Number(flags.get('-u'))
      : this.nextId(
          system ? 100 : 1000,
          [...this.state.users.values()].map((u) => u.uid),
        );
    if (!this.state.groups.has(name))
      this.state.groups.set(name, {
        gid: this.nextId(
          uid,
          [...this.state.groups.values()].map((g) => g.gid),
        ),
      });
    const home = flags.get('-d') ?? `/home/${name}`;
    this.state.users.set(name, {
      uid,
      gid: this.state.groups.get(name)!.gid,
      home,
      shell: flags.get('-s') ?? '/bin/sh',
      comment: flags.get('-c') ?? '',
      hash: '!',
      groups: flags.get('-G') ? flags.get('-G')!.split(',') : [],
    });
    if (flags.has('-m')) this.state.paths.set(home, 'directory');
    return ok();
  }

  private usermod(args: string[]): FakeAnswer {
    const { flags, rest } = parseFlags(args, 'udscG');
    const user = this.state.users.get(rest[0]);
    if (!user) return fail(6, `usermod: user '${rest[0]}' does not exist`);
    const missing = this.missingGroups(flags.get('-G'));
    if (missing) return fail(6, `usermod: group '${missing}' does not exist`);
    if (flags.has('-u')) user.uid = Number(flags.get('-u'));
    if (flags.has('-d')) user.home = flags.get('-d')!;
    if (flags.has('-s')) user.shell = flags.get('-s')!;
    if (flags.has('-c')) user.comment = flags.get('-c')!;
    if (flags.has('-G')) {
      const list = flags.get('-G') ? flags.get('-G')!.split(',') : [];
      user.groups = flags.has('-a') ? [...new Set([...user.groups, ...list])] : list;
    }
    return ok();
  }
}

/** What a table case expects of a plan: unchanged with this reason, or this summary, these commands (and stdins). */
export type ExpectedPlan = { reason: string } | { summary: string; commands: string[]; stdin?: (string | undefined)[] };

/**
 * Asserts a plan against a table case's expectation: the exact reason, or the summary and every step's command text.
 *
 * @example
 * expectPlan(await host.plan(group({ name: 'vmail' })), { summary: 'create group vmail', commands: ['groupadd -- vmail'] });
 */
export function expectPlan(plan: Plan, expected: ExpectedPlan): void {
  if ('reason' in expected) {
    expect(plan).toEqual({ changed: false, reason: expected.reason });
    return;
  }
  if (!plan.changed) throw new Error(`unchanged: ${plan.reason}`);
  expect(plan.summary).toBe(expected.summary);
  expect(plan.steps.map((s) => (s.kind === 'exec' ? s.command.text : s.kind))).toEqual(expected.commands);
  if (expected.stdin) expect(plan.steps.map((s) => (s.kind === 'exec' ? s.stdin : undefined))).toEqual(expected.stdin);
}

/** The boundary a probe script ends each answer with, read back from the `printf` escapes it is written in. */
function boundaryIn(script: string): string {
  const escapes = /printf '\\n((?:\\[0-7]{3})+) %d\\n'/.exec(script)?.[1];
  if (!escapes) throw new Error(`fake host: no boundary in the probe script:\n${script}`);
  return escapes
    .split('\\')
    .filter(Boolean)
    .map((octal) => String.fromCharCode(parseInt(octal, 8)))
    .join('');
}
