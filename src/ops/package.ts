import { sh, raw } from '../connection/sh.ts';
import { PlayError } from '../errors.ts';
import { packagesProbe } from '../facts/packages.ts';
import { reveal, type Secret } from '../secret.ts';
import { task, type Op, type PackageWant, type Plan, type Step, type Task, type TaskOptions } from './op.ts';

/**
 * One debconf answer given to a package before it is installed (a line of `debconf-set-selections`).
 *
 * @example
 * const answer: DebconfSelection = { package: 'postfix', question: 'postfix/main_mailer_type', type: 'select', value: 'Internet Site' };
 */
export interface DebconfSelection {
  /** The package that owns the question, e.g. `postfix`. */
  readonly package: string;
  /** The question, e.g. `postfix/mailname`. */
  readonly question: string;
  /** The debconf type: `string`, `boolean`, `select`, `password`, … */
  readonly type: string;
  /** The answer; a {@link Secret} is sent only through standard input, never in a command. */
  readonly value: string | Secret;
}

/**
 * The wanted state of some Debian packages: installed (any version) or removed.
 *
 * @example
 * const params: PackagesParams = { names: ['bind9', 'dnsutils'], updateCache: true };
 */
export interface PackagesParams extends Omit<TaskOptions, 'name'> {
  /** The task's name in the output and for `notify` (`name` is a package here); defaults to `package NAMES`. */
  readonly taskName?: string;
  /** The packages; give `names` or `name`. */
  readonly names?: readonly string[];
  /** A single package, the same as `names: [name]`. */
  readonly name?: string;
  /** `present` (default) or `absent`. */
  readonly state?: 'present' | 'absent';
  /** debconf answers fed to `debconf-set-selections` (through standard input) before installing. */
  readonly preseed?: readonly DebconfSelection[];
  /** Run `apt-get update` before installing (only when something is to be installed). */
  readonly updateCache?: boolean;
  /** Install recommended packages too (apt's default); false adds `--no-install-recommends`. */
  readonly installRecommends?: boolean;
  /** With `state: 'absent'`, purge the packages' configuration files too (`apt-get purge`). */
  readonly purge?: boolean;
}

const APT_ENV = raw('DEBIAN_FRONTEND=noninteractive');

function packageNames(params: PackagesParams): string[] {
  const names = [...(params.names ?? []), ...(params.name !== undefined ? [params.name] : [])];
  if (names.length === 0) throw new PlayError('packages: give at least one package in `names` or `name`');
  for (const name of names) {
    if (typeof name !== 'string' || name.trim() === '')
      throw new PlayError(`packages: invalid package name ${JSON.stringify(name)}`);
  }
  return [...new Set(names)];
}

function selectionLine(selection: DebconfSelection, where: string): string {
  const fields = [selection.package, selection.question, selection.type];
  for (const field of fields) {
    if (typeof field !== 'string' || field === '' || /\s/.test(field)) {
      throw new PlayError(
        `${where}: preseed package, question and type must be single words, got ${JSON.stringify(field)}`,
      );
    }
  }
  const value = reveal(selection.value);
  if (/[\r\n]/.test(value)) throw new PlayError(`${where}: preseed value of ${selection.question} must be one line`);
  return `${fields.join(' ')} ${value}\n`;
}

/**
 * Debian packages installed or removed with apt: every missing package in one `apt-get install`, run
 * non-interactively (`DEBIAN_FRONTEND=noninteractive`, existing configuration files kept).
 *
 * @example
 * packages({ names: ['bind9', 'dnsutils'], updateCache: true, notify: 'restart bind9' })
 * packages({
 *   name: 'postfix',
 *   preseed: [{ package: 'postfix', question: 'postfix/main_mailer_type', type: 'select', value: 'Internet Site' }],
 * })
 * packages({ name: 'telnet', state: 'absent', purge: true })
 */
export function packages(params: PackagesParams): Task {
  const names = packageNames(params);
  const title = `package ${names.join(', ')}`;
  const state = params.state ?? 'present';
  if (state !== 'present' && state !== 'absent')
    throw new PlayError(`${title}: state must be 'present' or 'absent', got ${JSON.stringify(state)}`);
  // Checked now, so a bad answer is reported before any host is touched.
  const preseed = (params.preseed ?? []).map((s) => selectionLine(s, title));
  const want: PackageWant = {
    names,
    preseed,
    updateCache: params.updateCache === true,
    installRecommends: params.installRecommends !== false,
  };
  const op: Op = {
    kind: 'package',
    title,
    ...(state === 'present' ? { packageWant: want } : {}),
    probes: () => [packagesProbe(names)],
    async plan(context): Promise<Plan> {
      const versions = await context.facts.get(packagesProbe(names));
      const installed = names.filter((n) => versions.get(n) !== undefined);
      const missing = names.filter((n) => versions.get(n) === undefined);
      if (state === 'absent') {
        if (installed.length === 0) return { changed: false, reason: `not installed: ${names.join(', ')}` };
        const verb = params.purge ? 'purge' : 'remove';
        return {
          changed: true,
          summary: `${verb} ${installed.join(', ')}`,
          steps: [{ kind: 'exec', command: sh`${APT_ENV} apt-get ${raw(verb)} -y -q -- ${installed}` }],
          diffs: [],
        };
      }
      if (missing.length === 0)
        return { changed: false, reason: `installed: ${names.map((n) => `${n} ${versions.get(n)}`).join(', ')}` };
      const steps = installSteps([{ ...want, names: missing }]);
      return { changed: true, summary: `install ${missing.join(', ')}`, steps, diffs: [] };
    },
  };
  return task(op, { notify: params.notify, tags: params.tags, name: params.taskName });
}

/**
 * The steps that install what some packages ops want, in as few apt-get calls as their options allow: `apt-get
 * update` once if one of them asks for it, every debconf answer in one `debconf-set-selections`, then one `apt-get
 * install` for the packages with their recommends and one for those without (in that order, so a package wanted
 * both ways gets them). Names are installed once, whoever wants them.
 */
export function installSteps(wants: readonly PackageWant[]): Step[] {
  const steps: Step[] = [];
  if (wants.some((w) => w.updateCache)) steps.push({ kind: 'exec', command: sh`${APT_ENV} apt-get update -q` });
  const preseed = [...new Set(wants.flatMap((w) => w.preseed))];
  if (preseed.length) steps.push({ kind: 'exec', command: sh`debconf-set-selections`, stdin: preseed.join('') });
  const withRecommends = [...new Set(wants.filter((w) => w.installRecommends).flatMap((w) => w.names))];
  const without = [...new Set(wants.filter((w) => !w.installRecommends).flatMap((w) => w.names))].filter(
    (n) => !withRecommends.includes(n),
  );
  for (const [names, recommends] of [
    [withRecommends, raw('')],
    [without, raw(' --no-install-recommends')],
  ] as const) {
    if (names.length === 0) continue;
    steps.push({
      kind: 'exec',
      command: sh`${APT_ENV} apt-get install -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold${recommends} -- ${names}`,
    });
  }
  return steps;
}
