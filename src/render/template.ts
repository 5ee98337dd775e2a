import ejs from 'ejs';
import { readFileSync } from 'node:fs';
import { Secret } from '../secret.ts';
import { TemplateError } from '../errors.ts';

// `<%= %>` prints a value as it is (config files are not HTML), reveals secrets, and refuses
// undefined or null so a missing variable is an error instead of the word "undefined" in a config file.
function printValue(value: unknown): string {
  if (value === undefined || value === null) throw new Error(`a value printed with <%= %> is ${value}`);
  if (value instanceof Secret) return value.reveal();
  return String(value);
}

/**
 * Renders an ejs template file on the controller, without HTML escaping; an undefined variable is an error
 * that names the template and the line.
 *
 * @example
 * renderTemplate('roles/dns/templates/zone.ejs', { domain: 'smknh.sch.id', serial: 1 })
 */
export function renderTemplate(file: string, locals: Readonly<Record<string, unknown>>): string {
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch (error) {
    throw new TemplateError(`cannot read template ${file}: ${(error as Error).message}`, { file });
  }
  try {
    // `<%-` (ejs's raw output) becomes `<%=`: both print unescaped here, and only `<%=` reveals secrets
    // and refuses undefined values.
    return ejs.render(source.replaceAll('<%-', '<%='), { ...locals }, { filename: file, escape: printValue, strict: false, async: false, cache: false });
  } catch (error) {
    const message = (error as Error).message;
    // ejs prefixes the message with "file:line" and a window of source lines; keep the place and the reason.
    // A compile (syntax) error has no place: its reason is its first line (ejs appends lint advice after it).
    const place = /^(.*?:\d+)\n/.exec(message);
    const where = place?.[1] ?? file;
    const reason = place ? message.split('\n\n').slice(1).join('\n\n').trim() || message : message.split('\n')[0];
    throw new TemplateError(`template ${where}: ${reason}`, { file: where }, );
  }
}
