import { isAbsolute, join } from 'node:path';
import { TemplateRenderer } from '../render/template.ts';
import { Secret } from '../secret.ts';
import { controllerFileTask, type ControllerFileParams } from './managed-file.ts';
import type { PrepareContext, Task } from './op.ts';

/** A file rendered from an ejs template on the controller. */
export interface TemplateParams extends ControllerFileParams {
  /** The template: relative to the role's `templates/` folder (or the current folder outside a role), or absolute. */
  readonly src: string;
  /** Extra variables for this template, over the host's vars. */
  readonly vars?: Readonly<Record<string, unknown>>;
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
  // A rendering that printed a secret is a secret as a whole: its diff is never shown, old or new.
  return controllerFileTask('template', params, (context: PrepareContext): Buffer | Secret => {
    const file = resolveSource(params.src, 'templates', context.roleDir);
    const { text, holdsSecret } = (context.templates ?? new TemplateRenderer()).render(file, {
      ...context.vars,
      ...params.vars,
    });
    return holdsSecret ? new Secret(text) : Buffer.from(text);
  });
}
