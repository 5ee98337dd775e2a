import { isAbsolute, join } from 'node:path';
import type { ShellCommand } from '../connection/sh.ts';
import { pathProbe } from '../facts/file.ts';
import { TemplateRenderer } from '../render/template.ts';
import { Secret } from '../secret.ts';
import { normalizeMode, planFile, type FileAttributes } from './managed-file.ts';
import { task, type Op, type PrepareContext, type Task, type TaskOptions } from './op.ts';

/** A file rendered from an ejs template on the controller. */
export interface TemplateParams extends FileAttributes, TaskOptions {
  /** The template: relative to the role's `templates/` folder (or the current folder outside a role), or absolute. */
  readonly src: string;
  readonly dest: string;
  /** Extra variables for this template, over the host's vars. */
  readonly vars?: Readonly<Record<string, unknown>>;
  readonly validate?: (tempPath: string) => ShellCommand;
  readonly backup?: boolean;
}

/** Where a role-relative source file lives. */
export function resolveSource(src: string, folder: 'templates' | 'files', roleDir: string | undefined): string {
  if (isAbsolute(src)) return src;
  return roleDir ? join(roleDir, folder, src) : src;
}

/**
 * A file rendered from an ejs template with the host's vars (`<%= name %>` prints without HTML escaping;
 * an undefined variable is an error naming the template and line).
 *
 * @example
 * template({ src: 'named.conf.local.ejs', dest: '/etc/bind/named.conf.local', validate: (p) => sh`named-checkconf ${p}`, notify: 'reload bind9' })
 */
export function template(params: TemplateParams): Task {
  const mode = normalizeMode(params.mode, `template ${params.dest}`);
  // A rendering that printed a secret is a secret as a whole: its diff is never shown, old or new.
  const render = (context: PrepareContext): Buffer | Secret => {
    const file = resolveSource(params.src, 'templates', context.roleDir);
    const { text, holdsSecret } = (context.templates ?? new TemplateRenderer()).render(file, {
      ...context.vars,
      ...params.vars,
    });
    return holdsSecret ? new Secret(text) : Buffer.from(text);
  };
  const op: Op<Buffer | Secret> = {
    kind: 'template',
    batchable: true,
    title: `template ${params.dest}`,
    prepare: render,
    probes: () => [pathProbe(params.dest)],
    async plan(context) {
      return planFile({ ...params, path: params.dest, mode, content: context.prepared ?? render(context) }, context);
    },
  };
  return task(op, params);
}
