import ejs from 'ejs';
import { readFileSync } from 'node:fs';
import { Secret } from '../secret.ts';
import { TemplateError } from '../errors.ts';

/** A rendered template, and whether it printed a secret (then its content is a secret as a whole). */
export interface RenderedTemplate {
  readonly text: string;
  readonly holdsSecret: boolean;
}

/** What the compiled templates print a `<%= %>` value with: set around each render (renders are synchronous). */
let printValue: (value: unknown) => string = String;

/** Compiled templates by file and source: a role's template rendered for many hosts (or many tasks) compiles once. */
const compiled = new Map<string, ejs.TemplateFunction>();

function compiledTemplate(file: string, source: string): ejs.TemplateFunction {
  const key = `${file}\0${source}`;
  let template = compiled.get(key);
  if (!template) {
    // `<%-` (ejs's raw output) becomes `<%=`: both print unescaped here, and only `<%=` reveals secrets
    // and refuses undefined values.
    template = ejs.compile(source.replaceAll('<%-', '<%='), { filename: file, escape: (value: unknown) => printValue(value), strict: false, async: false, cache: false });
    compiled.set(key, template);
  }
  return template;
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
 * Renders like {@link renderTemplate}, and tells whether a secret was printed into the text: such a file is
 * shown as changed without its content, old or new (a rotated secret's old value is in the old content).
 *
 * @example
 * renderTemplateFile('roles/dns/templates/tsig.key.ejs', vars).holdsSecret // true
 */
export function renderTemplateFile(file: string, locals: Readonly<Record<string, unknown>>): RenderedTemplate {
  let holdsSecret = false;
  // `<%= %>` prints a value as it is (config files are not HTML), reveals secrets, and refuses undefined or
  // null so a missing variable is an error instead of the word "undefined" in a config file.
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
  const outer = printValue;
  try {
    const template = compiledTemplate(file, source);
    printValue = print;
    const text = template({ ...locals });
    return { text, holdsSecret };
  } catch (error) {
    const message = (error as Error).message;
    // ejs prefixes the message with "file:line" and a window of source lines; keep the place and the reason.
    // A compile (syntax) error has no place: its reason is its first line (ejs appends lint advice after it).
    const place = /^(.*?:\d+)\n/.exec(message);
    const where = place?.[1] ?? file;
    const reason = place ? message.split('\n\n').slice(1).join('\n\n').trim() || message : message.split('\n')[0];
    throw new TemplateError(`template ${where}: ${reason}`, { file: where }, );
  } finally {
    printValue = outer;
  }
}
