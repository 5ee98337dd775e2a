import { createHash, randomBytes } from 'node:crypto';
import { relative } from 'node:path';
import { asArgument, joinCommands, raw, sh, type ShellCommand } from '../connection/sh.ts';
import { REMOTE_EXIT, SET_LEFT_HOST_UNCHANGED } from '../remote/protocol.ts';
import { contentProbe, pathProbe } from '../facts/file.ts';
import { TemplateRenderer } from '../render/template.ts';
import { PlayError } from '../errors.ts';
import { Secret } from '../secret.ts';
import { attributeChanges, normalizeMode, type FileAttributes } from './managed-file.ts';
import {
  task,
  type FileDiff,
  type Op,
  type Plan,
  type PlanContext,
  type PrepareContext,
  type Task,
  type TaskOptions,
} from './op.ts';
import { resolveSource } from './template.ts';

/** One file of a config set: its path inside the set's tree, and its content or the template that renders it. */
export interface ConfigSetFile extends FileAttributes {
  readonly path: string;
  /** The whole content, or… */
  readonly content?: string | Buffer | Secret;
  /** …an ejs template in the role's `templates/` (rendered with the host's vars and `vars`). */
  readonly src?: string;
  readonly vars?: Readonly<Record<string, unknown>>;
}

/** What a config set is: files that only make sense together, one check of them all, one activation, one probe. */
export interface ConfigSetParams extends TaskOptions {
  /** The folder the files live in (e.g. `/etc/postfix`), copied whole into a staging folder for the check. */
  readonly tree: string;
  readonly files: readonly ConfigSetFile[];
  /**
   * Checks the staged copy of the tree as a whole, e.g. `(dir) => sh\`postfix -c ${dir} check\``. With
   * `checkInPlace`, `dir` is the tree's own path (the staged copy is mounted over it while the check runs).
   */
  readonly validate: (stagedTree: string) => ShellCommand;
  /**
   * Runs the check in a private mount namespace with the staged copy bind-mounted over the live tree, so files that
   * name each other by absolute path (Dovecot's `!include /etc/dovecot/x`, bind's `include "/etc/bind/x"`, a
   * keepalived script) are checked as staged, and a checker that only reads its own path (`apache2ctl -t`) reads the
   * staged tree. Nothing outside the check sees the mount. Needs `unshare` (util-linux) and root.
   */
  readonly checkInPlace?: boolean;
  /**
   * Makes the service use the new files, e.g. a reload; or a function of the changed files' paths inside the tree
   * (e.g. a restart when the main file changed, a reload when only a user list did).
   */
  readonly activate: ShellCommand | ((changed: readonly string[]) => ShellCommand);
  /** Puts the service back on the restored files after a failure (default: `activate`), e.g. reload-or-restart. */
  readonly restore?: ShellCommand;
  /** Must succeed after activation (tried every 0.2 s for `healthSeconds`), e.g. an SMTP banner on 127.0.0.1:25. */
  readonly health?: ShellCommand;
  readonly healthSeconds?: number;
  /** Where the staged copy of the tree goes (default `/run`: memory, root's alone; the files may hold secrets). */
  readonly stageRoot?: string;
}

interface WantedSetFile {
  readonly path: string;
  readonly relative: string;
  readonly content: Buffer | Secret;
  readonly mode?: string;
  readonly owner?: string;
  readonly group?: string;
}

const bytesOf = (content: Buffer | Secret) => (content instanceof Secret ? Buffer.from(content.reveal()) : content);

/**
 * The one command that applies a config set: every changed file is staged (a copy of the tree with the new files
 * in it, in a 0700 folder), the staged tree is validated as a whole, then every file is put beside its target and
 * all are renamed in; the service is activated and probed. If activation or the probe fails, the previous files
 * are renamed back (a file that was new is removed), the service is activated on them, and the script exits with
 * both errors. The new contents come on stdin, each checked by sha256. Nothing live changes before the set has
 * passed its check and every new file and every backup is written: a full disk leaves every old file in place.
 */
export function configSetCommand(params: ConfigSetParams, changed: readonly WantedSetFile[]): ShellCommand {
  const stage = `${(params.stageRoot ?? '/run').replace(/\/+$/, '')}/play-stage-${randomBytes(6).toString('hex')}`;
  const lines: ShellCommand[] = [
    sh`set -u`,
    // The controller may go away mid-way (killed): the script must finish its swap or its rollback regardless.
    sh`trap '' PIPE HUP`,
    sh`tree=${params.tree}; stage=${stage}`,
    sh`mkdir -m 0700 "$stage" || { echo "cannot make the staging folder $stage" >&2; exit ${REMOTE_EXIT.setNotStaged}; }`,
    sh`cleanup() { rm -rf "$stage"; ${raw(changed.map((_, i) => `rm -f "\${new${i}:-}" "\${old${i}:-}"`).join('; ') || ':')}; }`,
    sh`trap cleanup EXIT`,
    sh`fail_stage() { echo "staging the set failed: $1 (nothing live was changed)" >&2; exit ${REMOTE_EXIT.setNotStaged}; }`,
    // Output is kept in variables, not files: the staging disk may be the one that is full.
    sh`out=$(cp -a "$tree/." "$stage/tree" 2>&1) || fail_stage "$(printf '%s\n' "$out" | tail -n 3)"`,
  ];
  changed.forEach((file, i) => {
    const bytes = bytesOf(file.content);
    const sha = createHash('sha256').update(bytes).digest('hex');
    const dir = file.path.slice(0, file.path.lastIndexOf('/')) || '/';
    const name = file.path.slice(file.path.lastIndexOf('/') + 1);
    lines.push(
      sh`target${raw(String(i))}=${file.path}`,
      sh`new${raw(String(i))}=${`${dir}/.${name}.play-set-new`}; old${raw(String(i))}=${`${dir}/.${name}.play-set-old`}`,
      sh`head -c ${bytes.length} > "$stage/new${raw(String(i))}" || fail_stage "cannot stage ${file.path}"`,
      sh`[ "$(sha256sum < "$stage/new${raw(String(i))}" | cut -c1-64)" = ${sha} ] || fail_stage ${`the content of ${file.path} arrived incomplete`}`,
      sh`mkdir -p "$(dirname "$stage/tree/"${file.relative})" && cp "$stage/new${raw(String(i))}" "$stage/tree/"${file.relative} || fail_stage ${`cannot stage ${file.path}`}`,
    );
  });
  const check = params.checkInPlace
    ? // $0 and $1 are the staged copy and the tree; $2 is the check, run once the copy is mounted over the tree.
      sh`unshare --mount --propagation private -- sh -c 'mount --bind "$0" "$1" && eval "$2"' "$stage/tree" "$tree" ${asArgument(params.validate(params.tree))}`
    : params.validate(`${stage}/tree`);
  const activate =
    typeof params.activate === 'function' ? params.activate(changed.map((f) => f.relative)) : params.activate;
  lines.push(
    sh`if ! out=$( ( ${check} ) 2>&1 ); then printf '%s\n' "$out" >&2; echo "the staged set was refused by its check (nothing live was changed)" >&2; exit ${REMOTE_EXIT.setRefused}; fi`,
  );
  // Every new file beside its target, with its attributes, and every old one kept: all before the first rename.
  changed.forEach((file, i) => {
    const n = raw(String(i));
    const attributes = [
      file.owner ? sh`chown ${file.owner} "$new${n}"` : undefined,
      file.group ? sh`chgrp ${file.group} "$new${n}"` : undefined,
      file.mode ? sh`chmod ${file.mode} "$new${n}"` : undefined,
    ].filter((c): c is ShellCommand => c !== undefined);
    lines.push(
      sh`if [ -e "$target${n}" ]; then cp -p "$target${n}" "$old${n}" || fail_stage "cannot keep the old $target${n}"; fi`,
      sh`( umask 077; cp "$stage/new${n}" "$new${n}" ) || fail_stage "cannot write beside $target${n}"`,
      // A new file takes the old one's owner, group and mode unless the set says otherwise.
      sh`if [ -e "$old${n}" ]; then chown --reference="$old${n}" "$new${n}" && chmod --reference="$old${n}" "$new${n}"; else chmod 0644 "$new${n}"; fi || fail_stage "cannot set attributes"`,
      ...attributes.map((c) => sh`${c} || fail_stage "cannot set attributes of $target${n}"`),
      sh`sync "$new${n}" 2>/dev/null || true`,
    );
  });
  lines.push(...changed.map((_, i) => sh`mv -f "$new${raw(String(i))}" "$target${raw(String(i))}"`));
  const health = params.health
    ? sh`ok=; for try in $(seq 1 ${Math.max(1, Math.round((params.healthSeconds ?? 10) * 5))}); do if out=$( ( ${params.health} ) 2>&1 ); then ok=1; break; fi; sleep 0.2; done; [ -n "$ok" ] || err="the health probe failed after activation: $(printf '%s\n' "$out" | tail -n 3)"`
    : sh`:`;
  lines.push(
    sh`err=`,
    sh`if ! out=$( ( ${activate} ) 2>&1 ); then err="activation failed: $(printf '%s\n' "$out" | tail -n 3)"; fi`,
    sh`if [ -z "$err" ]; then ${health}; fi`,
    sh`if [ -z "$err" ]; then exit 0; fi`,
    sh`echo "$err" >&2`,
    // Roll back: the previous files renamed in, a file that was new removed, then the service put back on them.
    ...changed.map((_, i) => {
      const n = raw(String(i));
      return sh`if [ -e "$old${n}" ]; then mv -f "$old${n}" "$target${n}"; else rm -f "$target${n}"; fi`;
    }),
    sh`if out=$( ( ${params.restore ?? activate} ) 2>&1 ); then echo "rolled back: the previous files are in place and the service was put back on them" >&2; exit ${REMOTE_EXIT.setRolledBack}; fi`,
    sh`echo "rolled back the files, but putting the service back on them failed too: $(printf '%s\n' "$out" | tail -n 3)" >&2`,
    sh`exit ${REMOTE_EXIT.setRestoreFailed}`,
  );
  return joinCommands(lines, '\n');
}

/**
 * Files that only make sense together (postfix's main.cf and master.cf, a Dovecot config and its includes), applied
 * as one: staged, checked as a whole by `validate` with the staged tree, renamed in together, activated, probed,
 * and rolled back as a whole when the activation or the probe fails (the task then fails with both errors). A set
 * with nothing to change is unchanged; a diff is shown for each changed file, as `file` shows it.
 *
 * @example
 * configSet({
 *   tree: '/etc/postfix',
 *   files: [{ path: '/etc/postfix/main.cf', src: 'main.cf.ejs' }, { path: '/etc/postfix/master.cf', src: 'master.cf.ejs' }],
 *   validate: (dir) => sh`postfix -c ${dir} check`,
 *   activate: sh`systemctl reload postfix@-`,
 *   restore: sh`systemctl reload-or-restart postfix@-`,
 *   health: smtpBanner(25),
 * })
 */
export function configSet(params: ConfigSetParams): Task {
  const tree = params.tree.replace(/\/+$/, '');
  for (const f of params.files) {
    if (!f.path.startsWith(`${tree}/`)) throw new PlayError(`config set ${tree}: ${f.path} is not inside ${tree}`);
    if ((f.content === undefined) === (f.src === undefined))
      throw new PlayError(`config set ${tree}: ${f.path} needs either content or src`);
  }
  const modes = params.files.map((f) => normalizeMode(f.mode, `config set file ${f.path}`));
  const wanted = (context: PrepareContext): WantedSetFile[] => {
    const templates = context.templates ?? new TemplateRenderer();
    return params.files.map((f, i): WantedSetFile => {
      let content: Buffer | Secret;
      if (f.src !== undefined) {
        const result = templates.render(resolveSource(f.src, 'templates', context.roleDir), {
          ...context.vars,
          ...f.vars,
        });
        content = result.holdsSecret ? new Secret(result.text) : Buffer.from(result.text);
      } else if (f.content instanceof Secret || Buffer.isBuffer(f.content)) content = f.content;
      else content = Buffer.from(f.content ?? '');
      return {
        path: f.path,
        relative: relative(tree, f.path),
        content,
        mode: modes[i],
        owner: f.owner,
        group: f.group,
      };
    });
  };
  const op: Op<WantedSetFile[]> = {
    kind: 'config-set',
    title: `config set ${tree}`,
    prepare: wanted,
    probes: () => params.files.map((f) => pathProbe(f.path)),
    async plan(context: PlanContext<WantedSetFile[]>): Promise<Plan> {
      const files = context.prepared ?? wanted(context);
      const changed: WantedSetFile[] = [];
      const diffs: FileDiff[] = [];
      for (const file of files) {
        const state = await context.facts.get(pathProbe(file.path));
        if (state.type !== 'absent' && state.type !== 'file')
          throw new PlayError(`${file.path} is a ${state.type}, not a regular file`);
        const bytes = bytesOf(file.content);
        const sha = createHash('sha256').update(bytes).digest('hex');
        const attributes = state.type === 'file' ? attributeChanges(state, file) : [];
        if (state.type === 'file' && state.sha256 === sha && attributes.length === 0) continue;
        changed.push(file);
        const asText = (b: Buffer) =>
          file.content instanceof Secret ? new Secret(b.toString('utf8')) : b.toString('utf8');
        const before =
          state.type === 'absent'
            ? Buffer.alloc(0)
            : state.sha256 === sha
              ? undefined
              : ((await context.facts.get(contentProbe(file.path))) ?? Buffer.alloc(0));
        diffs.push({
          path: file.path,
          ...(before !== undefined ? { before: asText(before), after: asText(bytes) } : {}),
          ...(attributes.length ? { attributes } : {}),
        });
      }
      if (changed.length === 0) return { changed: false, reason: `the ${files.length} files of the set match` };
      return {
        changed: true,
        summary: `apply config set ${tree} (${changed.map((f) => f.relative).join(', ')}): check, rename in, activate${params.health ? ', probe' : ''}`,
        steps: [
          {
            kind: 'exec',
            command: configSetCommand({ ...params, tree }, changed),
            stdin: Buffer.concat(changed.map((f) => bytesOf(f.content))),
            affects: changed.map((f) => f.path),
            failure: `applying config set ${tree} failed`,
            unchangedExitCodes: SET_LEFT_HOST_UNCHANGED,
          },
        ],
        diffs,
      };
    },
  };
  return task(op, { ...params, helperFile: import.meta.url });
}
