import { Ajv, type ErrorObject } from 'ajv';
import { Type, type TSchema } from '@sinclair/typebox';
import { Secret } from '../secret.ts';

/** The keyword that marks a schema node as "a {@link Secret}". */
const SECRET_KEYWORD = 'x-play-secret';

/** One ajv instance for the whole tool: all errors, no coercion, and a keyword for secrets. */
export const ajv = new Ajv({ allErrors: true, strict: false });
ajv.addKeyword({
  keyword: SECRET_KEYWORD,
  schemaType: 'boolean',
  errors: false,
  validate: (wanted: boolean, data: unknown) => !wanted || data instanceof Secret,
});

/**
 * A schema for a value that must be a {@link Secret} (never plain text), for role vars.
 *
 * @example
 * schema: Type.Object({ dbPassword: SecretType() })
 */
export function SecretType() {
  return Type.Unsafe<Secret>({ [SECRET_KEYWORD]: true, description: 'a secret() value' });
}

/** One problem with a value, at a JSON-pointer-like path such as `hosts.primary.port`. */
export interface SchemaIssue {
  readonly path: string;
  readonly message: string;
}

function describe(error: ErrorObject): string {
  if (error.keyword === SECRET_KEYWORD) return 'must be a secret() value, not plain text';
  if (error.keyword === 'required') return `is required`;
  if (error.keyword === 'additionalProperties') return `is not a known property`;
  if (error.keyword === 'enum')
    return `must be one of ${(error.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
  return error.message ?? 'is invalid';
}

function issuePath(error: ErrorObject, base: string): string {
  const parts = error.instancePath.split('/').filter(Boolean);
  if (error.keyword === 'required') parts.push((error.params as { missingProperty: string }).missingProperty);
  if (error.keyword === 'additionalProperties')
    parts.push((error.params as { additionalProperty: string }).additionalProperty);
  return [base, ...parts].filter(Boolean).join('.');
}

/**
 * Validates a value against a JSON Schema; returns its issues (empty when valid).
 *
 * @example
 * validateAgainst(Type.Object({ port: Type.Integer() }), { port: 'x' }, 'vars') // [{ path: 'vars.port', message: 'must be integer' }]
 */
export function validateAgainst(schema: TSchema | object, value: unknown, basePath = ''): SchemaIssue[] {
  const validate = ajv.compile(schema as object);
  if (validate(value)) return [];
  const issues = (validate.errors ?? [])
    // anyOf/oneOf parents repeat their children's complaints.
    .filter((e) => e.keyword !== 'anyOf' && e.keyword !== 'oneOf' && e.keyword !== 'if')
    .map((e) => ({ path: issuePath(e, basePath), message: describe(e) }));
  return issues.filter(
    (issue, index) => issues.findIndex((o) => o.path === issue.path && o.message === issue.message) === index,
  );
}
