import { createHash } from 'node:crypto';
import { sh, joinCommands, type ShellCommand } from '../connection/sh.ts';
import { contentProbe, pathProbe } from '../facts/file.ts';
import { PlayError } from '../errors.ts';
import { task } from './op.ts';
import type { FileDiff, Op, Plan, PlanContext, PrepareContext, Step, Task, TaskOptions } from './op.ts';
import { Secret } from '../secret.ts';

/** Attributes a managed path may set; unset ones are left as the host has them. */
export interface FileAttributes {
  /** Octal mode as a string, e.g. `'0640'`. */
  readonly mode?: string;
  readonly owner?: string;
  readonly group?: string;
}

/** A file whose whole content is known on the controller. */
export interface WantedFile extends FileAttributes {
  readonly path: string;
  readonly content: Buffer | Secret;
  readonly validate?: (tempPath: string) => ShellCommand;
  readonly backup?: boolean;
}

/** Checks a mode string: three or four octal digits. */
export function normalizeMode(mode: string | undefined, where: string): string | undefined {
  if (mode === undefined) return undefined;
  if (typeof mode !== 'string' || !/^[0-7]{3,4}$/.test(mode)) {
    throw new PlayError(`${where}: mode must be a string of octal digits like '0644', got ${JSON.stringify(mode)}`);
  }
  return mode.padStart(4, '0');
}

/**
 * The argument for chmod that sets exactly this mode. GNU chmod keeps a directory's setuid/setgid bits for a
 * four-digit mode like `0755`; a fifth leading zero (`00755`) clears them, so the mode asked for is the mode set.
 */
export function chmodMode(mode: string): string {
  return `0${mode.padStart(4, '0')}`;
}

/** The attribute differences between what a path has and what is wanted. */
export function attributeChanges(
  current: { mode: string; owner: string; group: string },
  wanted: FileAttributes,
): { name: string; before: string; after: string }[] {
  const changes: { name: string; before: string; after: string }[] = [];
  if (wanted.mode !== undefined && wanted.mode !== current.mode)
    changes.push({ name: 'mode', before: current.mode, after: wanted.mode });
  if (wanted.owner !== undefined && wanted.owner !== current.owner)
    changes.push({ name: 'owner', before: current.owner, after: wanted.owner });
  if (wanted.group !== undefined && wanted.group !== current.group)
    changes.push({ name: 'group', before: current.group, after: wanted.group });
  return changes;
}

/** The commands that set changed attributes of an existing path. */
export function attributeSteps(path: string, changes: readonly { name: string; after: string }[]): Step[] {
  const commands = changes.map((c) =>
    c.name === 'mode'
      ? sh`chmod ${chmodMode(c.after)} ${path}`
      : c.name === 'owner'
        ? sh`chown ${c.after} ${path}`
        : sh`chgrp ${c.after} ${path}`,
  );
  return commands.length ? [{ kind: 'exec', command: joinCommands(commands, ' && '), affects: [path] }] : [];
}

function contentBytes(content: Buffer | Secret): Buffer {
  return content instanceof Secret ? Buffer.from(content.reveal()) : content;
}

/**
 * Plans a whole-file write: compares sha256 of the wanted content with the host's copy (nothing is sent
 * when they match), fetches the old content only to show a diff when they differ.
 *
 * @example
 * return planFile({ path: '/etc/motd', content: Buffer.from('hello\n'), mode: '0644' }, context);
 */
export async function planFile(wanted: WantedFile, context: PlanContext): Promise<Plan> {
  const state = await context.facts.get(pathProbe(wanted.path));
  if (state.type !== 'absent' && state.type !== 'file') {
    throw new PlayError(`${wanted.path} is a ${state.type}, not a regular file`);
  }
  const bytes = contentBytes(wanted.content);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const asText = (b: Buffer) =>
    wanted.content instanceof Secret ? new Secret(b.toString('utf8')) : b.toString('utf8');
  if (state.type === 'absent') {
    return {
      changed: true,
      summary: `create ${wanted.path}`,
      steps: [
        {
          kind: 'write',
          path: wanted.path,
          content: bytes,
          mode: wanted.mode ?? '0644',
          owner: wanted.owner,
          group: wanted.group,
          validate: wanted.validate,
        },
      ],
      diffs: [
        {
          path: wanted.path,
          before: '',
          after: asText(bytes),
          ...(wanted.mode ? { attributes: [{ name: 'mode', before: '(none)', after: wanted.mode }] } : {}),
        },
      ],
    };
  }
  const changes = attributeChanges(state, wanted);
  if (state.sha256 === sha256) return planAttributes(wanted.path, changes, 'content and attributes match');
  const before = (await context.facts.get(contentProbe(wanted.path))) ?? Buffer.alloc(0);
  const diff: FileDiff = {
    path: wanted.path,
    before: asText(before),
    after: asText(bytes),
    ...(changes.length ? { attributes: changes } : {}),
  };
  return {
    changed: true,
    summary: `update ${wanted.path}`,
    steps: [
      {
        kind: 'write',
        path: wanted.path,
        content: bytes,
        mode: wanted.mode ?? state.mode,
        owner: wanted.owner ?? state.owner,
        group: wanted.group ?? state.group,
        validate: wanted.validate,
        backup: wanted.backup,
      },
    ],
    diffs: [diff],
  };
}

/** What `copy` and `template` share: where the file goes, its attributes, and how it is checked and kept. */
export interface ControllerFileParams extends FileAttributes, TaskOptions {
  readonly dest: string;
  readonly validate?: (tempPath: string) => ShellCommand;
  readonly backup?: boolean;
}

/**
 * The task of a file whose content the controller makes (`copy` reads it, `template` renders it): made for each
 * host before any host is touched (an error there is invalid input), then planned as a whole-file write
 * ({@link planFile}) that may travel in one batch with the next tasks' writes.
 *
 * @example
 * return controllerFileTask('copy', params, (context) => readFileSync(join(context.roleDir ?? '.', 'files', params.src)));
 */
export function controllerFileTask<Content extends Buffer | Secret>(
  kind: 'copy' | 'template',
  params: ControllerFileParams,
  make: (context: PrepareContext) => Content,
): Task {
  const mode = normalizeMode(params.mode, `${kind} ${params.dest}`);
  const op: Op<Content> = {
    kind,
    batchable: true,
    title: `${kind} ${params.dest}`,
    prepare: make,
    probes: () => [pathProbe(params.dest)],
    async plan(context) {
      return planFile({ ...params, path: params.dest, mode, content: context.prepared ?? make(context) }, context);
    },
  };
  return task(op, params);
}

/**
 * Sets the attributes of a path that differ from what is wanted (mode, owner, group); unchanged, with `reason`,
 * when none do.
 *
 * @example
 * return planAttributes('/srv/data', attributeChanges(state, { mode: '0750' }), 'directory exists with its attributes');
 */
export function planAttributes(
  path: string,
  changes: readonly { name: string; before: string; after: string }[],
  reason: string,
): Plan {
  if (changes.length === 0) return { changed: false, reason };
  return {
    changed: true,
    summary: `set ${changes.map((c) => c.name).join(', ')} of ${path}`,
    steps: attributeSteps(path, changes),
    diffs: [{ path, attributes: changes }],
  };
}

/**
 * Plans the removal of a path of any type: unchanged when nothing is there.
 *
 * @example
 * return planAbsent('/etc/apache2/sites-enabled/000-default.conf', context);
 */
export async function planAbsent(path: string, context: PlanContext): Promise<Plan> {
  const state = await context.facts.get(pathProbe(path));
  if (state.type === 'absent') return { changed: false, reason: `${path} is absent` };
  const before = state.type === 'file' ? (await context.facts.get(contentProbe(path)))?.toString('utf8') : undefined;
  return {
    changed: true,
    summary: `remove ${path}`,
    steps: [{ kind: 'exec', command: sh`rm -rf -- ${path}`, affects: [path] }],
    diffs: [
      {
        path,
        ...(before !== undefined
          ? { before, after: '' }
          : { attributes: [{ name: 'type', before: state.type, after: 'absent' }] }),
      },
    ],
  };
}
