import type { TObject } from '@sinclair/typebox';
import { ShellCommand } from '../connection/sh.ts';
import { PlayError, TemplateError, ValidationError, placeError } from '../errors.ts';
import type { Task } from '../ops/op.ts';
import { checkInventory, groupsOf, type Inventory } from '../model/inventory.ts';
import { selectHosts } from '../model/host-pattern.ts';
import { checkExtraVars } from '../model/extra-vars.ts';
import type { Play, Playbook, TaskList } from '../model/playbook.ts';
import { platformName, samePlatform, type Platform } from '../model/platform.ts';
import type { Role } from '../model/role.ts';
import { ajv, validateAgainst } from '../model/schema.ts';
import { MaskTable } from '../mask-table.ts';
import { TemplateRenderer } from '../render/template.ts';
import { Secret } from '../secret.ts';
import { SecretUnavailableError } from '../vault.ts';

/** A task bound to a host: its play, role, merged vars and effective tags. */
export interface BoundTask {
  readonly task: Task;
  readonly play: string;
  readonly role?: string;
  readonly roleDir?: string;
  readonly vars: Readonly<Record<string, unknown>>;
  readonly tags: readonly string[];
  /** What the op's `prepare` made for this host (given to its plan), when it has one and the run renders. */
  readonly prepared?: unknown;
}

/** What one host does in one play, on one release (or on any, when no role of the play declares platforms). */
export interface HostWork {
  readonly host: string;
  /** The release these tasks were built for; undefined when the play's roles declare no platforms. */
  readonly platform?: Platform;
  readonly tasks: readonly BoundTask[];
  readonly handlers: readonly BoundTask[];
}

/**
 * What one host may do in one play: its work built for each release the play's roles support, of which the run
 * picks the one the host runs (see `chooseWork`). When no role of the play declares platforms, one work without
 * platform, for whatever the host runs.
 *
 * @example
 * const { works } = run.plays[0].work.get('primary')!;
 * works.map((w) => w.platform?.major); // [12, 13]
 */
export interface HostPlatformWork {
  readonly host: string;
  readonly works: readonly HostWork[];
  /** Releases a role of the play supports that other roles of it do not, with those roles. */
  readonly unsupported: readonly { readonly platform: Platform; readonly roles: readonly string[] }[];
}

/** A play ready to run: its host batches (by `serial`) and each host's work. */
export interface CompiledPlay {
  readonly name: string;
  readonly batches: readonly (readonly string[])[];
  /** Install the packages of every host's tasks before the first batch (the play's `installPackagesFirst`). */
  readonly installPackagesFirst: boolean;
  /** A failed host stops the run after its batch (the play's `anyErrorsFatal`). */
  readonly anyErrorsFatal: boolean;
  /** The run's health gate checks this play's batches (the play's `healthGate`, true unless set false). */
  readonly healthGate: boolean;
  /**
   * The run's health gate checks every host of the play before its first batch (the play's `checkHealthFirst`):
   * false, or the check that leaves it out when it succeeds on any of the play's hosts (`undefined`: always).
   */
  readonly checkHealthFirst: false | { readonly unless?: ShellCommand };
  /** Each host's work, per release when the play's roles declare platforms. */
  readonly work: ReadonlyMap<string, HostPlatformWork>;
}

/** A whole run ready to start: validated, rendered, nothing touched yet. */
export interface CompiledRun {
  readonly inventory: Inventory;
  readonly plays: readonly CompiledPlay[];
  /** Every host some play runs on, in first-seen order. */
  readonly hosts: readonly string[];
  /** The secrets of the run's vars and prepared files (the table given to {@link compileRun}); the engine adds more. */
  readonly masks: MaskTable;
}

/** Which part of the playbook to run. */
export interface Selection {
  /** A host pattern narrowing every play's hosts (`--limit`). */
  readonly limit?: string;
  /** Run only tasks with one of these tags (or `always`). */
  readonly tags?: readonly string[];
  /** Skip tasks with one of these tags. */
  readonly skipTags?: readonly string[];
  /** The vars given with `-e` (strings from `NAME=VALUE`), checked against the playbook's `extraVars`. */
  readonly extraVars?: Readonly<Record<string, unknown>>;
  /**
   * Render templates and read every secret in vars (default true). `--list-hosts`/`--list-tasks` turn it off:
   * they validate the vars and build the task lists but need no vault.
   */
  readonly render?: boolean;
}

/** Reads every secret in a value (vars), so a missing vault entry is invalid input naming its var. */
function revealSecrets(value: unknown, path: string, fail: (path: string, message: string) => never): void {
  if (value instanceof Secret) {
    try {
      value.reveal();
    } catch (error) {
      fail(path, (error as Error).message);
    }
  } else if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) revealSecrets(item, `${path}.${index}`, fail);
  } else if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const [key, item] of Object.entries(value)) revealSecrets(item, `${path}.${key}`, fail);
  }
}

/** The vars of a host before play and role params: inventory vars < group vars (inventory order) < host vars. */
export function inventoryVars(inventory: Inventory, host: string): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...inventory.vars };
  for (const group of groupsOf(inventory, host)) Object.assign(merged, inventory.groups?.[group].vars);
  return Object.assign(merged, inventory.hosts[host].vars);
}

/** A play's role use taken apart: the role, its params and its tags. */
interface RoleEntry {
  readonly role: Role<TObject>;
  readonly params?: Readonly<Record<string, unknown>>;
  readonly tags?: readonly string[];
}

/** The keys of a role use written as an object. */
const ROLE_USE_KEYS = ['role', 'vars', 'tags'];

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Secret);

const isRole = (value: unknown): value is Role<TObject> =>
  isPlainObject(value) &&
  typeof value.tasks === 'function' &&
  typeof value.name === 'string' &&
  isPlainObject(value.schema);

/** How many single-character edits turn one name into the other (for "did you mean"). */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

/** The declared var most like an unknown one, when one is close enough to be a typo of it. */
function nearest(key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  let best: { name: string; distance: number } | undefined;
  for (const name of known) {
    const distance = name.toLowerCase() === lower ? 0 : editDistance(lower, name.toLowerCase());
    if (!best || distance < best.distance) best = { name, distance };
  }
  return best && best.distance <= Math.max(1, Math.floor(key.length / 4)) ? best.name : undefined;
}

/**
 * Whether a role's schema takes a var of this name. The top level of a role's schema stays open (a host's
 * merged vars hold every role's shared inventory vars), so its params are held to the vars it declares, unless
 * the schema itself asks for more (`additionalProperties` other than false, or `patternProperties`).
 */
function declaresVar(schema: TObject, key: string): boolean {
  if (Object.hasOwn(schema.properties ?? {}, key)) return true;
  const { additionalProperties, patternProperties } = schema as {
    additionalProperties?: unknown;
    patternProperties?: Record<string, unknown>;
  };
  if (additionalProperties !== undefined && additionalProperties !== false) return true;
  return Object.keys(patternProperties ?? {}).some((pattern) => new RegExp(pattern, 'u').test(key));
}

/**
 * Takes a play's `roles` apart, refusing what TypeScript would have refused (for playbooks in plain JavaScript or
 * with casts): an entry that is not a role, an unknown key of a `{ role, vars, tags }` entry, and a param the
 * role's schema does not declare. Returns the entries and the problems, each with its path in the playbook.
 */
function roleEntries(
  play: Play,
  label: string,
  playIndex: number,
): { entries: RoleEntry[]; issues: { path: string; message: string; role?: string }[] } {
  const entries: RoleEntry[] = [];
  const issues: { path: string; message: string; role?: string }[] = [];
  const roles: unknown = play.roles ?? [];
  if (!Array.isArray(roles)) {
    issues.push({ path: `plays.${playIndex}.roles`, message: `${label}: roles must be a list of roles` });
    return { entries, issues };
  }
  for (const [index, use] of roles.entries()) {
    const path = `plays.${playIndex}.roles.${index}`;
    const role = isPlainObject(use) && 'role' in use ? use.role : use;
    if (!isRole(role)) {
      issues.push({ path, message: `${label}: roles entry ${index + 1} is not a role made with defineRole` });
      continue;
    }
    if (role === use) {
      entries.push({ role });
      continue;
    }
    const written = use as Record<string, unknown>;
    const { vars: params, tags } = written;
    const before = issues.length;
    for (const key of Object.keys(written).filter((k) => !ROLE_USE_KEYS.includes(k))) {
      issues.push({
        path: `${path}.${key}`,
        role: role.name,
        message: `${label}: role ${role.name} is used with an unknown key "${key}" (a role use has role, vars and tags)`,
      });
    }
    if (params !== undefined && !isPlainObject(params)) {
      issues.push({
        path: `${path}.vars`,
        role: role.name,
        message: `${label}: the vars of role ${role.name} must be an object of its vars, got ${Array.isArray(params) ? 'a list' : typeof params}`,
      });
    } else {
      const known = Object.keys(role.schema.properties ?? {}).sort();
      for (const key of Object.keys(params ?? {}).filter((k) => !declaresVar(role.schema, k))) {
        const guess = nearest(key, known);
        const listed = known.length > 0 ? `its vars: ${known.join(', ')}` : 'it has no vars';
        issues.push({
          path: `${path}.vars.${key}`,
          role: role.name,
          message: `${label}: role ${role.name} has no var "${key}" (${guess ? `did you mean "${guess}"? ` : ''}${listed})`,
        });
      }
    }
    if (tags !== undefined && !(Array.isArray(tags) && tags.every((t) => typeof t === 'string'))) {
      issues.push({
        path: `${path}.tags`,
        role: role.name,
        message: `${label}: the tags of role ${role.name} must be a list of strings`,
      });
    }
    if (issues.length === before)
      entries.push({ role, params: params as RoleEntry['params'], tags: tags as RoleEntry['tags'] });
  }
  return { entries, issues };
}

function taskList(
  list: TaskList | undefined,
  host: string,
  vars: Record<string, unknown>,
  inventory: Inventory,
  platform: Platform | undefined,
): readonly Task[] {
  if (!list) return [];
  return typeof list === 'function' ? list({ host, vars, inventory, ...(platform ? { platform } : {}) }) : list;
}

/**
 * The tag every task that installs packages carries besides its own: `--tags packages` pre-stages a server (installs
 * what the playbook needs, in one go, and configures nothing), `--skip-tags packages` leaves apt alone.
 */
export const PACKAGES_TAG = 'packages';

function selected(tags: readonly string[], selection: Selection): boolean {
  if (selection.skipTags?.some((t) => tags.includes(t))) return false;
  if (!selection.tags || selection.tags.length === 0) return true;
  return tags.includes('always') || selection.tags.some((t) => tags.includes(t));
}

function playName(play: Play, index: number): string {
  return play.name ?? `play ${index + 1} (${typeof play.hosts === 'string' ? play.hosts : play.hosts.join(', ')})`;
}

/** A play as messages name it: `play "mail servers"`, or `play 2 (web)` when it has no name. */
function playLabel(play: Play, index: number): string {
  return play.name !== undefined ? `play ${JSON.stringify(play.name)}` : playName(play, index);
}

/**
 * Compiles (ajv) the vars schema of every role the playbook uses, ahead of {@link compileRun}, which then finds
 * them compiled: start-up work to overlap with something else, such as a vault's key derivation. A playbook
 * compileRun would refuse is skipped here; compileRun reports it.
 */
export function compileRoleSchemas(playbook: Playbook): void {
  if (!Array.isArray(playbook.plays)) return;
  for (const [index, play] of playbook.plays.entries()) {
    for (const { role } of roleEntries(play, playLabel(play, index), index).entries) {
      try {
        ajv.compile(role.schema);
      } catch {
        // A schema ajv refuses is reported when the vars are validated.
      }
    }
  }
}

/**
 * Turns a playbook and an inventory into a run: selects hosts, merges and validates every role's vars per host,
 * builds each host's task list and renders its templates. When a play's roles declare `platforms`, each host's
 * tasks are built and rendered for every release they support (the run picks the one the host runs), so a
 * mistake that shows on one release only is found here too. Throws {@link ValidationError} or
 * {@link TemplateError} (exit code 2, naming the release when it is one's) before any host is touched.
 *
 * Every secret of the vars it validates and of what the ops prepare (a template that printed one) is added to
 * `masks`, the run's table, so the caller masks what it shows, a thrown error's message included, with it; the
 * table is the run's `masks`. Without one, a new table.
 *
 * @example
 * const run = await compileRun(playbook, inventory, { limit: 'primary', tags: ['dns'] }, context.masks);
 */
export async function compileRun(
  playbook: Playbook,
  inventory: Inventory,
  selection: Selection = {},
  masks: MaskTable = new MaskTable(),
): Promise<CompiledRun> {
  checkInventory(inventory);
  if (!Array.isArray(playbook.plays) || playbook.plays.length === 0) {
    throw new ValidationError('the playbook has no plays', { file: playbook.source });
  }
  // Typed and checked once: from here on the run's extra vars are the playbook's, converted to their types.
  selection = {
    ...selection,
    extraVars: checkExtraVars(playbook.extraVars, selection.extraVars ?? {}, playbook.source),
  };
  // Every play's role uses first: a misspelled param is a mistake in the playbook, whichever hosts are chosen.
  const uses = playbook.plays.map((play, index) => roleEntries(play, playLabel(play, index), index));
  const issues = uses.flatMap((u) => u.issues);
  if (issues.length > 0) {
    const roles = new Set(issues.map((i) => i.role));
    throw new ValidationError(
      issues.map((i) => i.message).join('\n'),
      { file: playbook.source, role: roles.size === 1 ? [...roles][0] : undefined },
      issues.map(({ path, message }) => ({ path, message })),
    );
  }
  const limit = selection.limit !== undefined ? new Set(selectHosts(selection.limit, inventory)) : undefined;
  // One renderer for the run: a template rendered for many hosts compiles once.
  const templates = new TemplateRenderer();
  const plays: CompiledPlay[] = [];
  const allHosts: string[] = [];
  for (const [index, play] of playbook.plays.entries()) {
    const name = playName(play, index);
    const place = { file: playbook.source };
    let hosts: string[];
    try {
      hosts = selectHosts(play.hosts, inventory);
    } catch (error) {
      throw new ValidationError(`${name}: ${(error as Error).message}`, place);
    }
    if (limit) hosts = hosts.filter((h) => limit.has(h));
    if (play.serial !== undefined && (!Number.isInteger(play.serial) || play.serial < 1)) {
      throw new ValidationError(
        `${name}: serial must be a positive integer, got ${JSON.stringify(play.serial)}`,
        place,
      );
    }
    for (const flag of ['installPackagesFirst', 'anyErrorsFatal', 'healthGate'] as const)
      if (play[flag] !== undefined && typeof play[flag] !== 'boolean')
        throw new ValidationError(`${name}: ${flag} must be true or false, got ${JSON.stringify(play[flag])}`, place);
    const first = play.checkHealthFirst;
    if (
      first !== undefined &&
      typeof first !== 'boolean' &&
      !(typeof first === 'object' && first !== null && first.unless instanceof ShellCommand)
    )
      throw new ValidationError(
        `${name}: checkHealthFirst must be true, false or { unless: sh\`…\` }, got ${JSON.stringify(first)}`,
        place,
      );
    const work = new Map<string, HostPlatformWork>();
    const platforms = playPlatforms(uses[index].entries, playLabel(play, index), place);
    for (const host of hosts) {
      if (!allHosts.includes(host)) allHosts.push(host);
      work.set(
        host,
        await compileHostWork(play, uses[index].entries, name, host, inventory, selection, platforms, templates, masks),
      );
    }
    const size = play.serial ?? Math.max(hosts.length, 1);
    const batches: string[][] = [];
    for (let i = 0; i < hosts.length; i += size) batches.push(hosts.slice(i, i + size));
    plays.push({
      name,
      batches,
      work,
      installPackagesFirst: play.installPackagesFirst === true,
      anyErrorsFatal: play.anyErrorsFatal === true,
      healthGate: play.healthGate !== false,
      checkHealthFirst:
        play.checkHealthFirst === true ? {} : play.checkHealthFirst ? { unless: play.checkHealthFirst.unless } : false,
    });
  }
  return { inventory, plays, hosts: allHosts, masks };
}

/** The releases a play's roles support together, and those only some of them support. */
interface PlayPlatforms {
  /** Empty when no role declares platforms: the play's work is built once, for any release. */
  readonly supported: readonly Platform[];
  readonly unsupported: HostPlatformWork['unsupported'];
}

/**
 * The releases a play's tasks are built for: every release a role of the play names (in the order they first
 * appear) that every role declaring platforms supports. Roles without `platforms` run on whatever the host runs.
 * A play whose roles have no release in common can run nowhere: invalid input.
 */
function playPlatforms(roles: readonly RoleEntry[], label: string, place: { file?: string }): PlayPlatforms {
  const declaring = roles.flatMap(({ role }) =>
    role.platforms === undefined ? [] : [{ role, platforms: role.platforms }],
  );
  const named: Platform[] = [];
  for (const { role, platforms } of declaring) {
    if (!Array.isArray(platforms) || platforms.length === 0) {
      throw new ValidationError(
        `${label}: role ${role.name} declares no platforms (leave platforms out for a role that runs on any release)`,
        { ...place, role: role.name },
      );
    }
    for (const platform of platforms) if (!named.some((p) => samePlatform(p, platform))) named.push(platform);
  }
  const lacking = (platform: Platform) =>
    declaring.filter(({ platforms }) => !platforms.some((p) => samePlatform(p, platform))).map(({ role }) => role.name);
  const supported = named.filter((platform) => lacking(platform).length === 0);
  const unsupported = named
    .filter((platform) => lacking(platform).length > 0)
    .map((platform) => ({ platform, roles: [...new Set(lacking(platform))] }));
  if (named.length > 0 && supported.length === 0) {
    const each = [
      ...new Set(
        declaring.map(
          ({ role, platforms }) => `${role.name} supports ${platforms.map((p) => platformName(p)).join(', ')}`,
        ),
      ),
    ];
    throw new ValidationError(`${label}: its roles support no release in common (${each.join('; ')})`, place);
  }
  return { supported, unsupported };
}

/** The issues of a role's `check` for each release, reported once when every release has the same ones. */
function checkIssues(
  check: NonNullable<Role<TObject>['check']>,
  vars: Record<string, unknown>,
  platforms: readonly (Platform | undefined)[],
  selection: Selection,
) {
  const found: { platform?: Platform; issues: { path: string; message: string }[] }[] = [];
  for (const platform of platforms) {
    try {
      const issues = [...check(vars as never, platform)];
      if (issues.length > 0) found.push({ platform, issues });
    } catch (error) {
      // Listing needs no vault: a check that has to read a secret is left to the real run.
      if (!(selection.render === false && error instanceof SecretUnavailableError)) throw error;
    }
  }
  if (found.length === 0) return undefined;
  const text = (f: (typeof found)[number]) => JSON.stringify(f.issues);
  if (found.length === platforms.length && found.every((f) => text(f) === text(found[0])))
    return { issues: found[0].issues };
  return found[0];
}

async function compileHostWork(
  play: Play,
  roles: readonly RoleEntry[],
  name: string,
  host: string,
  inventory: Inventory,
  selection: Selection,
  platforms: PlayPlatforms,
  templates: TemplateRenderer,
  masks: MaskTable,
): Promise<HostPlatformWork> {
  // Extra vars win over everything, as Ansible's do: inventory < play vars < role params < -e.
  const base = { ...inventoryVars(inventory, host), ...play.vars, ...selection.extraVars };
  // Added before they are read: a secret is masked from the moment it is revealed, in any error after.
  masks.addSecretsIn(base);
  const releases: readonly (Platform | undefined)[] =
    platforms.supported.length > 0 ? platforms.supported : [undefined];
  // The vars are the same on every release: validated once; a role's check may depend on the release.
  const owners: { role: Role<TObject>; owner: Owner }[] = [];
  for (const { role, params, tags } of roles) {
    const vars = { ...role.defaults, ...base, ...params, ...selection.extraVars };
    masks.addSecretsIn(vars);
    const invalid = (issues: readonly { path: string; message: string }[], platform?: Platform): never => {
      const on = platform ? ` on ${platformName(platform)}` : '';
      throw new ValidationError(
        `invalid vars for role ${role.name} on host ${host}${on}:\n${issues.map((i) => `  ${i.path}: ${i.message}`).join('\n')}`,
        { host, role: role.name },
        issues,
      );
    };
    const issues = validateAgainst(role.schema, vars, 'vars');
    if (issues.length > 0) invalid(issues);
    const checked = role.check ? checkIssues(role.check.bind(role), vars, releases, selection) : undefined;
    if (checked) invalid(checked.issues, checked.platform);
    if (selection.render !== false) revealSecrets(vars, 'vars', (path, message) => invalid([{ path, message }]));
    owners.push({
      role,
      owner: { role: role.name, roleDir: role.dir, vars, tags: [...(play.tags ?? []), ...(tags ?? [])] },
    });
  }
  const works: HostWork[] = [];
  for (const platform of releases)
    works.push(
      await compilePlatformWork(play, owners, base, name, host, inventory, selection, platform, templates, masks),
    );
  return { host, works, unsupported: platforms.unsupported };
}

/** Who a task belongs to: its role (if any), the vars it is planned with and the tags it inherits. */
interface Owner {
  readonly role?: string;
  readonly roleDir?: string;
  readonly vars: Record<string, unknown>;
  readonly tags: readonly string[];
}

/** Builds and renders one host's tasks and handlers of one play for one release (or for any: undefined). */
async function compilePlatformWork(
  play: Play,
  owners: readonly { role: Role<TObject>; owner: Owner }[],
  base: Record<string, unknown>,
  name: string,
  host: string,
  inventory: Inventory,
  selection: Selection,
  platform: Platform | undefined,
  templates: TemplateRenderer,
  masks: MaskTable,
): Promise<HostWork> {
  const on = platform ? platformName(platform) : undefined;
  const tasks: BoundTask[] = [];
  const handlers: BoundTask[] = [];
  const bind = async (list: readonly Task[], into: BoundTask[], owner: Owner, filter: boolean) => {
    for (const task of list) {
      const tags = [...owner.tags, ...task.tags, ...(task.op.packageWant ? [PACKAGES_TAG] : [])];
      if (filter && !selected(tags, selection)) continue;
      let prepared: unknown;
      try {
        if (selection.render !== false)
          prepared = await task.op.prepare?.({ host, vars: owner.vars, roleDir: owner.roleDir, templates });
        // A rendered file that printed a secret is a secret as a whole: each of its lines is masked.
        masks.addSecretsIn(prepared);
      } catch (error) {
        const placed = placeError(error, {
          host,
          role: owner.role,
          task: task.name,
          declaredAt: task.declaredAt,
          ...(on ? { platform: on } : {}),
        });
        throw placed instanceof TemplateError || placed instanceof ValidationError
          ? placed
          : new ValidationError(placed.message, placed.place);
      }
      into.push({ task, play: name, role: owner.role, roleDir: owner.roleDir, vars: owner.vars, tags, prepared });
    }
  };
  const context = (vars: Record<string, unknown>) => ({ host, vars, inventory, ...(platform ? { platform } : {}) });
  for (const { role, owner } of owners) {
    await bind(
      call(() => role.tasks(context(owner.vars)), host, role.name, on),
      tasks,
      owner,
      true,
    );
    await bind(
      call(() => role.handlers?.(context(owner.vars)) ?? [], host, role.name, on),
      handlers,
      owner,
      false,
    );
  }
  const owner = { vars: base, tags: play.tags ?? [] };
  await bind(
    call(() => taskList(play.tasks, host, base, inventory, platform), host, undefined, on),
    tasks,
    owner,
    true,
  );
  await bind(
    call(() => taskList(play.handlers, host, base, inventory, platform), host, undefined, on),
    handlers,
    owner,
    false,
  );
  const handlerNames = new Set(handlers.map((h) => h.task.name));
  for (const bound of tasks) {
    for (const handler of bound.task.notify) {
      if (!handlerNames.has(handler)) {
        throw new ValidationError(
          `notifies unknown handler "${handler}" (handlers: ${[...handlerNames].join(', ') || 'none'})`,
          {
            host,
            role: bound.role,
            task: bound.task.name,
            declaredAt: bound.task.declaredAt,
            ...(on ? { platform: on } : {}),
          },
        );
      }
    }
  }
  return { host, ...(platform ? { platform } : {}), tasks, handlers };
}

function call(build: () => readonly Task[], host: string, role?: string, platform?: string): readonly Task[] {
  try {
    const list = build();
    if (!Array.isArray(list)) throw new PlayError('tasks must return an array of tasks');
    return list;
  } catch (error) {
    const placed = placeError(error, { host, role, ...(platform ? { platform } : {}) });
    throw placed instanceof ValidationError
      ? placed
      : new ValidationError(`building the task list failed: ${placed.message}`, placed.place);
  }
}
