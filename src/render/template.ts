import ejs from 'ejs';
import { readFileSync } from 'node:fs';
import { Secret } from '../secret.ts';
import { TemplateError } from '../errors.ts';

/** A rendered template, and whether it printed a secret (then its content is a secret as a whole). */
export interface RenderedTemplate {
  readonly text: string;
  readonly holdsSecret: boolean;
}

/**
 * Renders ejs templates on the controller, compiling each file once (a role's template rendered for many hosts,
 * or many tasks, compiles once per renderer: the engine makes one per run). `<%= %>` prints a value as it is
 * (config files are not HTML), reveals secrets, and refuses undefined or null, so a missing variable is an error
 * naming the template and line instead of the word "undefined" in a config file.
 *
 * @example
 * const templates = new TemplateRenderer();
 * templates.render('roles/dns/templates/tsig.key.ejs', vars).holdsSecret // true
 */
export class TemplateRenderer {
  /** Compiled templates by file and source, each with the printer its `<%= %>` calls (set around each render). */
  readonly #compiled = new Map<
    string,
    { readonly template: ejs.TemplateFunction; readonly printer: { print: (value: unknown) => string } }
  >();

  #compiledTemplate(file: string, source: string) {
    const key = `${file}\0${source}`;
    let entry = this.#compiled.get(key);
    if (!entry) {
      const printer = { print: String as (value: unknown) => string };
      // `<%-` (ejs's raw output) becomes `<%=`: both print unescaped here, and only `<%=` reveals secrets
      // and refuses undefined values. Renders are synchronous: the printer is this render's while it runs.
      const template = ejs.compile(source.replaceAll('<%-', '<%='), {
        filename: file,
        escape: (value: unknown) => printer.print(value),
        strict: false,
        async: false,
        cache: false,
      });
      entry = { template, printer };
      this.#compiled.set(key, entry);
    }
    return entry;
  }

  /**
   * Renders a template file, and tells whether a secret was printed into the text: such a file is shown as
   * changed without its content, old or new (a rotated secret's old value is in the old content).
   */
  render(file: string, locals: Readonly<Record<string, unknown>>): RenderedTemplate {
    let holdsSecret = false;
    const print = (value: unknown): string => {
      if (value === undefined || value === null) throw new Error(`a value printed with <%= %> is ${value}`);
      if (value instanceof Secret) {
        holdsSecret = true;
        return value.reveal();
      }
      return String(value);
    };
    let source: string;
    try {
      source = readFileSync(file, 'utf8');
    } catch (error) {
      throw new TemplateError(`cannot read template ${file}: ${(error as Error).message}`, { file });
    }
    let printer: { print: (value: unknown) => string } | undefined;
    let outer: ((value: unknown) => string) | undefined;
    try {
      const entry = this.#compiledTemplate(file, source);
      printer = entry.printer;
      outer = printer.print;
      printer.print = print;
      const text = entry.template({ ...locals });
      return { text, holdsSecret };
    } catch (error) {
      const message = (error as Error).message;
      // ejs prefixes the message with "file:line" and a window of source lines; keep the place and the reason.
      // A compile (syntax) error has no place: its reason is its first line (ejs appends lint advice after it).
      const place = /^(.*?:\d+)\n/.exec(message);
      const where = place?.[1] ?? file;
      const reason = place ? message.split('\n\n').slice(1).join('\n\n').trim() || message : message.split('\n')[0];
      throw new TemplateError(`template ${where}: ${reason}`, { file: where });
    } finally {
      if (printer && outer) printer.print = outer;
    }
  }
}

/**
 * Renders an ejs template file on the controller, without HTML escaping; an undefined variable is an error
 * that names the template and the line.
 *
 * @example
 * renderTemplate('roles/dns/templates/zone.ejs', { domain: 'smknh.sch.id', serial: 1 })
 */
export function renderTemplate(file: string, locals: Readonly<Record<string, unknown>>): string {
  return renderTemplateFile(file, locals).text;
}

/**
 * Renders like {@link renderTemplate}, and tells whether a secret was printed into the text (see
 * {@link TemplateRenderer.render}). Compiles the file anew: a run renders through one {@link TemplateRenderer}.
 *
 * @example
 * renderTemplateFile('roles/dns/templates/tsig.key.ejs', vars).holdsSecret // true
 */
export function renderTemplateFile(file: string, locals: Readonly<Record<string, unknown>>): RenderedTemplate {
  return new TemplateRenderer().render(file, locals);
}
