import type { TObject } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { ValidationError } from '../errors.ts';
import { validateAgainst } from './schema.ts';

/** A name `-e NAME=VALUE` may set: a JavaScript identifier, as the playbook's schema and the templates use it. */
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The extra vars of a command line, from each `-e`/`--extra-vars` in order (a later one wins): `NAME=VALUE` (the
 * value a string until the playbook's schema converts it) or a JSON object (`-e '{"days": 7}'`). Throws a
 * {@link ValidationError} (exit 2) naming the argument that is neither.
 *
 * @example
 * parseExtraVarArgs(['account=guru2', 'at=2026-12-01T00:00:00Z']) // { account: 'guru2', at: '2026-12-01T00:00:00Z' }
 */
export function parseExtraVarArgs(args: readonly string[]): Record<string, unknown> {
  const vars: Record<string, unknown> = {};
  for (const arg of args) {
    if (arg.trimStart().startsWith('{')) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(arg);
      } catch (error) {
        throw new ValidationError(`-e ${arg}: not a JSON object (${(error as Error).message})`);
      }
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
        throw new ValidationError(`-e ${arg}: not a JSON object`);
      for (const [name, value] of Object.entries(parsed)) {
        if (!NAME.test(name)) throw new ValidationError(`-e ${arg}: ${JSON.stringify(name)} is not a var name`);
        vars[name] = value;
      }
      continue;
    }
    const equals = arg.indexOf('=');
    const name = equals < 0 ? arg : arg.slice(0, equals);
    if (equals < 0 || !NAME.test(name))
      throw new ValidationError(`-e ${arg}: give NAME=VALUE (a name of letters, digits and _) or a JSON object`);
    vars[name] = arg.slice(equals + 1);
  }
  return vars;
}

/**
 * Checks extra vars against the schema the playbook declares (`extraVars` in `definePlaybook`): each string
 * converted to the type the schema wants (`-e days=7` is the number 7, `-e dry=true` a boolean), then validated.
 * A name the schema lacks, a missing required var, a value of the wrong type, or any `-e` for a playbook that
 * declares none is a {@link ValidationError} (exit 2), before any host is touched. Returns the typed values.
 *
 * @example
 * checkExtraVars(Type.Object({ account: Type.String() }), { account: 'guru2' }, 'playbooks/restore.ts')
 */
export function checkExtraVars(
  schema: TObject | undefined,
  given: Readonly<Record<string, unknown>>,
  file?: string,
): Record<string, unknown> {
  const names = Object.keys(given);
  if (!schema) {
    if (names.length === 0) return {};
    throw new ValidationError(
      `the playbook takes no extra vars, yet -e ${names.join(', -e ')} was given (a playbook declares them as extraVars)`,
      { file },
    );
  }
  const known = Object.keys(schema.properties);
  const unknown = names.filter((name) => !known.includes(name));
  const issues = unknown.map((name) => ({
    path: `-e ${name}`,
    message: `is not an extra var of this playbook (it takes: ${known.join(', ') || 'none'})`,
  }));
  const converted = Value.Convert(schema, { ...given }) as Record<string, unknown>;
  if (unknown.length === 0)
    for (const issue of validateAgainst(schema, converted, ''))
      issues.push({ path: `-e ${issue.path}`, message: issue.message });
  if (issues.length > 0)
    throw new ValidationError(
      `invalid extra vars:\n${issues.map((i) => `  ${i.path}: ${i.message}`).join('\n')}`,
      { file },
      issues,
    );
  return converted;
}
