import { API } from 'typescript/unstable/sync';
import { createVirtualFileSystem } from 'typescript/unstable/fs';
import {
  NodeFlags,
  SyntaxKind,
  isAssignmentOperator,
  type BindingName,
  type Expression,
  type Identifier,
  type Node,
  type SourceFile,
} from 'typescript/unstable/ast';
import * as is from 'typescript/unstable/ast/is';

/**
 * A binding of a module that keeps state from one call to the next: a module-level `let` or `var`, or a
 * module-level `const` holding a Map, Set, array or object that the file writes to after it is loaded.
 *
 * @example
 * const finding: ModuleStateFinding = { file: 'src/cache.ts', line: 3, name: 'seen', why: 'a module-level Set written by .add' };
 */
export interface ModuleStateFinding {
  readonly file: string;
  readonly line: number;
  readonly name: string;
  readonly why: string;
}

/** Methods that change a Map, Set, WeakMap, WeakSet or array in place. */
const MUTATING_METHODS: ReadonlySet<string> = new Set([
  'set',
  'add',
  'delete',
  'clear',
  'push',
  'pop',
  'shift',
  'unshift',
  'splice',
  'sort',
  'reverse',
  'fill',
  'copyWithin',
]);

/** Constructors whose instances are containers that can be written to. */
const CONTAINERS: ReadonlySet<string> = new Set(['Map', 'Set', 'WeakMap', 'WeakSet', 'Array']);

/**
 * The module-level state in TypeScript sources (file name to text), parsed by the TypeScript compiler's API: every
 * top-level `let` and `var`, and every top-level `const` initialised with a Map, Set, array or object literal that
 * its file writes to anywhere (by a mutating method, an assignment to one of its elements or properties, `delete`,
 * `++` or `--`). Reads, and calls of other methods, are not writes; a name shadowed inside a function is not told
 * apart, which can only report too much.
 *
 * @example
 * moduleStateIn({ 'x.ts': 'let count = 0;' }) // [{ file: 'x.ts', line: 1, name: 'count', why: 'a module-level let' }]
 */
export function moduleStateIn(sources: Readonly<Record<string, string>>): ModuleStateFinding[] {
  const root = '/module-state';
  const names = Object.keys(sources);
  const files = Object.fromEntries(names.map((name) => [`${root}/${name}`, sources[name]]));
  // Parsing is all that is needed: no imports are followed and no library is loaded.
  const config = {
    compilerOptions: { noResolve: true, noLib: true, types: [], allowImportingTsExtensions: true, noEmit: true },
    files: names,
  };
  const api = new API({
    cwd: root,
    fs: createVirtualFileSystem({ ...files, [`${root}/tsconfig.json`]: JSON.stringify(config) }),
  });
  try {
    const program = api
      .updateSnapshot({ openProject: `${root}/tsconfig.json` })
      .getProject(`${root}/tsconfig.json`)!.program;
    return names.flatMap((name) => {
      const source = program.getSourceFile(`${root}/${name}`);
      if (!source) throw new Error(`the TypeScript API did not parse ${name}`);
      return findingsIn(name, source);
    });
  } finally {
    api.close();
  }
}

/** A container a const's initializer makes ('Map', 'array', 'object', …), or undefined when it makes none. */
function containerKind(initializer: Expression | undefined): string | undefined {
  let node: Node | undefined = initializer;
  // `new Map() as Map<…>`, `[] satisfies …`, `({…})`
  while (node && (is.isAsExpression(node) || is.isSatisfiesExpression(node) || is.isParenthesizedExpression(node)))
    node = node.expression;
  if (!node) return undefined;
  if (is.isNewExpression(node) && is.isIdentifier(node.expression) && CONTAINERS.has(node.expression.text))
    return node.expression.text;
  if (is.isArrayLiteralExpression(node)) return 'array';
  if (is.isObjectLiteralExpression(node)) return 'object';
  return undefined;
}

/** The identifier a property or element access starts from (`a` of `a.b[c].d`). */
function rootIdentifier(node: Node): Identifier | undefined {
  let current: Node = node;
  while (
    is.isPropertyAccessExpression(current) ||
    is.isElementAccessExpression(current) ||
    is.isNonNullExpression(current) ||
    is.isParenthesizedExpression(current)
  )
    current = current.expression;
  return is.isIdentifier(current) ? current : undefined;
}

function findingsIn(file: string, source: SourceFile): ModuleStateFinding[] {
  const lineOf = (node: Node) => source.getLineAndCharacterOfPosition(node.getStart()).line + 1;
  const findings: ModuleStateFinding[] = [];
  const containers = new Map<string, { kind: string; line: number }>();
  for (const statement of source.statements) {
    if (!is.isVariableStatement(statement)) continue;
    const list = statement.declarationList;
    const isConst = (list.flags & NodeFlags.Const) !== 0;
    const keyword = (list.flags & NodeFlags.Let) !== 0 ? 'let' : 'var';
    for (const declaration of list.declarations) {
      if (!isConst) {
        for (const name of bindingNames(declaration.name))
          findings.push({ file, line: lineOf(declaration), name, why: `a module-level ${keyword}` });
        continue;
      }
      const kind = containerKind(declaration.initializer);
      if (kind && is.isIdentifier(declaration.name))
        containers.set(declaration.name.text, { kind, line: lineOf(declaration) });
    }
  }
  const written = new Map<string, string>();
  const note = (target: Node, how: string) => {
    const name = rootIdentifier(target)?.text;
    if (name !== undefined && containers.has(name) && !written.has(name)) written.set(name, how);
  };
  const visit = (node: Node): void => {
    if (
      is.isCallExpression(node) &&
      is.isPropertyAccessExpression(node.expression) &&
      MUTATING_METHODS.has(node.expression.name.text)
    ) {
      // Only the container itself: `names.push(x)`, not `names.map(f).push(x)` nor `other.get(k).push(x)`.
      if (is.isIdentifier(node.expression.expression))
        note(node.expression.expression, `.${node.expression.name.text}`);
    }
    if (is.isBinaryExpression(node) && isAssignmentOperator(node.operatorToken.kind) && !is.isIdentifier(node.left))
      note(node.left, 'assignment');
    if (is.isDeleteExpression(node)) note(node.expression, 'delete');
    if (
      (is.isPrefixUnaryExpression(node) || is.isPostfixUnaryExpression(node)) &&
      (node.operator === SyntaxKind.PlusPlusToken || node.operator === SyntaxKind.MinusMinusToken)
    ) {
      if (!is.isIdentifier(node.operand)) note(node.operand, node.operator === SyntaxKind.PlusPlusToken ? '++' : '--');
    }
    node.forEachChild((child) => {
      visit(child);
      return undefined;
    });
  };
  if (containers.size > 0) visit(source);
  for (const [name, how] of written) {
    const { kind, line } = containers.get(name)!;
    findings.push({ file, line, name, why: `a module-level ${kind} written by ${how}` });
  }
  return findings.sort((a, b) => a.line - b.line);
}

/** The names a declaration binds: `a`, or each name of a destructuring pattern. */
function bindingNames(name: BindingName): string[] {
  if (is.isIdentifier(name)) return [name.text];
  return name.elements.flatMap((element) =>
    is.isOmittedExpression(element) || !element.name ? [] : bindingNames(element.name),
  );
}
