import path from "node:path";
import {
  Node,
  SyntaxKind,
  type ArrowFunction,
  type CallExpression,
  type FunctionDeclaration,
  type FunctionExpression,
  type ParameterDeclaration,
  type Project,
  type SourceFile,
  type Type,
  type TypeChecker,
  type TypeNode,
} from "ts-morph";
import type { InputSpec, OutputSpec, Site, TaskSpec } from "../contract/manifest.js";

/**
 * Reads every `task(fn)` of the pipeline: its id (module + export name), parameters (input targets,
 * `IterateOn`, optionality) and returned keys (output targets), keeping the checker's types for the
 * graph checks and the validators.
 */

export interface ExtractedTask {
  spec: TaskSpec;
  /** Parameter types by input name (for an `IterateOn` input: the parameter's type, which is `T` or a union holding `T & brand`). */
  inputTypes: Map<string, Type>;
  outputTypes: Map<string, Type>;
  /**
   * Element types of `IterateOn` inputs: `T` exactly as written in `IterateOn<K, T>`. For a parameter
   * whose type is not written (typed by its context) or goes through a generic alias, this is the
   * parameter's type, which is `T` (its branded members are subsets of `T`).
   */
  iterateElementTypes: Map<string, Type>;
  /** The `task(` call. */
  node: Node;
  /** Where each input (the parameter) and output (the property, or the return type) is written. */
  inputSites: Map<string, Site>;
  outputSites: Map<string, Site>;
  /** The function has type parameters (reported OF120 once, at the task): its types are not checked. */
  generic: boolean;
}

export interface CompilerDiagnostic {
  code: string;
  message: string;
  site: Site;
}

type TaskFunctionNode = FunctionDeclaration | FunctionExpression | ArrowFunction;

/** The module that declares `task` and `IterateOn`, wherever "outflow" resolves to. */
const TASK_MODULE = "/runtime/api/task.ts";
/** The property of the branded member of `IterateOn<K, T>` (`T | (T & { readonly __iterateOn?: K })`). */
export const ITERATE_ON_BRAND = "__iterateOn";

interface Context {
  root: string;
  checker: TypeChecker;
  diagnostics: CompilerDiagnostic[];
}

export function extractTasks(
  project: Project,
  root: string,
  files: SourceFile[],
): { tasks: Map<string, ExtractedTask>; diagnostics: CompilerDiagnostic[] } {
  const ctx: Context = { root, checker: project.getTypeChecker(), diagnostics: [] };
  const tasks = new Map<string, ExtractedTask>();
  for (const file of files) {
    for (const call of file.getDescendantsOfKind(SyntaxKind.CallExpression)) {
      const callee = taskCallee(call);
      if (!callee) continue;
      const extracted = extractTask(call, callee, ctx);
      if (extracted) tasks.set(extracted.spec.id, extracted);
    }
  }
  return { tasks, diagnostics: ctx.diagnostics };
}

/** The `task` identifier of a call to outflow's `task()` (`task(`, `t(` for an alias, `of.task(`). */
function taskCallee(call: CallExpression): Node | undefined {
  const expr = call.getExpression();
  const name = Node.isPropertyAccessExpression(expr) ? expr.getNameNode() : expr;
  if (!Node.isIdentifier(name)) return undefined;
  const symbol = name.getSymbol();
  const target = symbol?.isAlias() ? symbol.getAliasedSymbol() : symbol;
  const isOutflowTask = target
    ?.getDeclarations()
    .some((d) => Node.isFunctionDeclaration(d) && d.getName() === "task" && isInTaskModule(d));
  return isOutflowTask ? name : undefined;
}

function isInTaskModule(node: Node): boolean {
  return node.getSourceFile().getFilePath().endsWith(TASK_MODULE);
}

function extractTask(call: CallExpression, callee: Node, ctx: Context): ExtractedTask | undefined {
  const file = call.getSourceFile();
  const module = relativePath(ctx.root, file.getFilePath());
  const site = siteOf(callee, ctx.root);
  const { local, exported } = exportNames(call);
  const fn = taskFunction(call.getArguments()[0]);
  // `export default task(function Dflt(...))`: the id says `#default`, messages and records say Dflt.
  const displayName = (exported === "default" ? undefined : exported) ?? local ?? fnName(fn) ?? exported ?? "(anonymous)";
  if (!exported) {
    report(ctx, "OF111", site, `task ${displayName} must be exported (\`export const ${displayName} = task(...)\` or \`export { ${displayName} }\`): a task is identified by its module and export name`);
    return undefined;
  }
  if (!fn) {
    report(ctx, "OF121", site, `task ${displayName}: task() takes a function written in place or the name of a function declaration`);
    return undefined;
  }
  const task: ExtractedTask = {
    spec: {
      id: `${module}#${exported}`,
      name: displayName,
      plugin: pluginOf(module),
      module,
      site,
      async: false,
      inputs: [],
      outputs: [],
    },
    inputTypes: new Map(),
    outputTypes: new Map(),
    iterateElementTypes: new Map(),
    node: call,
    inputSites: new Map(),
    outputSites: new Map(),
    generic: fn.getTypeParameters().length > 0,
  };
  if (task.generic) {
    // One diagnostic for the task, not one per parameter and output typed by its type parameters.
    const params = fn.getTypeParameters().map((t) => t.getName()).join(", ");
    report(ctx, "OF120", site, `task ${displayName} is generic (<${params}>): a type parameter cannot be validated at run time; give its inputs and outputs concrete types (or unknown)`);
  }
  const paramsOk = readInputs(fn, task, ctx);
  const outputsOk = readOutputs(fn, task, ctx);
  return paramsOk && outputsOk ? task : undefined;
}

/** The variable a `task(` call initialises and its first export name in source order (`default` for `export default task(...)`). */
function exportNames(call: CallExpression): { local?: string; exported?: string } {
  const assigned = call.getParentIfKind(SyntaxKind.ExportAssignment);
  if (assigned && !assigned.isExportEquals() && Node.isSourceFile(assigned.getParent())) return { exported: "default" };
  const decl = call.getParentIfKind(SyntaxKind.VariableDeclaration);
  if (!decl || decl.getInitializer() !== call || !Node.isIdentifier(decl.getNameNode())) return {};
  const local = decl.getName();
  const statement = decl.getVariableStatement();
  if (!statement || !Node.isSourceFile(statement.getParent())) return { local };
  const candidates: { name: string; pos: number }[] = [];
  if (statement.isExported()) candidates.push({ name: local, pos: statement.getStart() });
  const file = call.getSourceFile();
  for (const exportDecl of file.getExportDeclarations()) {
    if (exportDecl.getModuleSpecifier()) continue;
    for (const spec of exportDecl.getNamedExports()) {
      if (spec.getNameNode().getText() !== local) continue;
      candidates.push({ name: spec.getAliasNode()?.getText() ?? local, pos: spec.getStart() });
    }
  }
  for (const assignment of file.getExportAssignments()) {
    if (!assignment.isExportEquals() && assignment.getExpression().getText() === local) {
      candidates.push({ name: "default", pos: assignment.getStart() });
    }
  }
  candidates.sort((a, b) => a.pos - b.pos);
  return { local, exported: candidates[0]?.name };
}

/** `task(function F() {})`, `task(() => ...)` or `task(F)` with `function F` / `const F = () => ...`. */
function taskFunction(arg: Node | undefined): TaskFunctionNode | undefined {
  if (Node.isArrowFunction(arg) || Node.isFunctionExpression(arg)) return arg;
  if (!Node.isIdentifier(arg)) return undefined;
  const symbol = arg.getSymbol();
  const target = symbol?.isAlias() ? symbol.getAliasedSymbol() : symbol;
  for (const decl of target?.getDeclarations() ?? []) {
    if (Node.isFunctionDeclaration(decl)) return decl.getImplementation() ?? decl;
    if (Node.isVariableDeclaration(decl)) {
      const init = decl.getInitializer();
      if (Node.isArrowFunction(init) || Node.isFunctionExpression(init)) return init;
    }
  }
  return undefined;
}

function fnName(fn: TaskFunctionNode | undefined): string | undefined {
  return fn && !Node.isArrowFunction(fn) ? fn.getName() : undefined;
}

function readInputs(fn: TaskFunctionNode, task: ExtractedTask, ctx: Context): boolean {
  let ok = true;
  for (const param of fn.getParameters()) {
    if (param.getName() === "this") continue;
    const input = readInput(param, task, ctx);
    if (!input) {
      ok = false;
      continue;
    }
    task.spec.inputs.push(input);
    task.inputTypes.set(input.name, parameterType(param));
    task.inputSites.set(input.name, siteOf(param, ctx.root));
  }
  return ok;
}

function readInput(param: ParameterDeclaration, task: ExtractedTask, ctx: Context): InputSpec | undefined {
  const site = siteOf(param, ctx.root);
  const taskName = task.spec.name;
  if (param.isRestParameter() || !Node.isIdentifier(param.getNameNode())) {
    report(ctx, "OF121", site, `task ${taskName}: parameter \`${param.getText()}\` must be a plain named parameter (no destructuring or rest): parameter names are the task's input targets`);
    return undefined;
  }
  const name = param.getName();
  const type = parameterType(param);
  const input: InputSpec = {
    name,
    type: param.getTypeNode()?.getText() ?? type.getText(param),
    optional: param.isOptional(),
    hasDefault: param.hasInitializer(),
  };
  const iterate = iterateOnOf(param, type);
  if (typeof iterate === "string") {
    report(ctx, "OF121", site, `task ${taskName}: parameter ${name}: ${iterate}`);
    return undefined;
  }
  if (iterate) {
    input.iterateOn = { target: iterate.target, elementType: iterate.elementText };
    task.iterateElementTypes.set(name, iterate.element);
  }
  return input;
}

/** The type the body sees: for `x = 3` the checker says `number | undefined` (the caller's view), we want `number`. */
function parameterType(param: ParameterDeclaration): Type {
  const type = param.getType();
  if (!param.hasInitializer() || !type.isUnion()) return type;
  // getNonNullableType() also drops `null`: keep the type as it is when `null` is part of it.
  return type.getUnionTypes().some((t) => t.isNull()) ? type : type.getNonNullableType();
}

interface IterateOnInfo {
  target: string;
  element: Type;
  elementText: string;
}

const targetError = (written: string) => `IterateOn needs one string literal target (IterateOn<"upstream_array", T>), got ${written}`;

/**
 * Finds `IterateOn<K, T>` on a parameter. As written, directly or through the user's own aliases
 * (`type RowItem = IterateOn<"rows", Row>`): that gives `T` exactly, for any `T` (`null`, `unknown` and
 * `any` leave no room for a brand). Else (a parameter typed by its context, a generic alias) by the brand
 * on the parameter's type. Returns an error message for a target that is not one string literal.
 */
export function iterateOnOf(param: ParameterDeclaration, type: Type): IterateOnInfo | string | undefined {
  const written = writtenIterateOn(param.getTypeNode());
  if (!written) return brandedIterateOn(type, param);
  const key = written.key.getType();
  if (!key.isStringLiteral()) return targetError(written.text);
  const element = written.element.getType();
  return { target: key.getLiteralValue() as string, element, elementText: element.getText(param) };
}

/** The `K` and `T` of `IterateOn<K, T>` written in a type node, through non-generic type aliases. */
function writtenIterateOn(node: TypeNode | undefined, seen = new Set<Node>()): { key: TypeNode; element: TypeNode; text: string } | undefined {
  while (Node.isParenthesizedTypeNode(node)) node = node.getTypeNode();
  if (!Node.isTypeReference(node)) return undefined;
  const symbol = node.getTypeName().getSymbol();
  const target = symbol?.isAlias() ? symbol.getAliasedSymbol() : symbol;
  for (const decl of target?.getDeclarations() ?? []) {
    if (!Node.isTypeAliasDeclaration(decl) || seen.has(decl)) continue;
    if (decl.getName() === "IterateOn" && isInTaskModule(decl)) {
      const [key, element] = node.getTypeArguments();
      return key && element ? { key, element, text: node.getText() } : undefined;
    }
    // A generic alias's `T` is the reference's argument: left to the brand.
    if (decl.getTypeParameters().length === 0) return writtenIterateOn(decl.getTypeNode(), seen.add(decl));
  }
  return undefined;
}

/** `IterateOn` found by the brand of a union member (`number | (number & brand)`), or an intersection's. */
function brandedIterateOn(type: Type, at: Node): IterateOnInfo | string | undefined {
  const members = type.isUnion() ? type.getUnionTypes() : [type];
  const targets = new Set<string | null>();
  for (const member of members) {
    const target = brandTarget(member, at);
    if (target !== undefined) targets.add(target);
  }
  if (targets.size === 0) return undefined;
  const [target] = targets;
  if (targets.size > 1 || target === null) return targetError(type.getText(at));
  const direct = directIterateOnElement(type);
  if (direct) return { target, element: direct, elementText: direct.getText(at) };
  // The type is `T` (a branded member is a subset of its plain one): its text without the brand.
  const stripped = members.map(stripIterateOn);
  const element = stripped.length === 1 && stripped[0].length === 1 ? stripped[0][0] : type;
  const texts = new Set(stripped.map((parts) => parts.map((t) => t.getText(at)).join(" & ")));
  return { target, element, elementText: [...texts].join(" | ").replace(/\bfalse \| true\b/, "boolean") };
}

/** The brand's target: the key string, `null` when it is not a string literal, undefined without a brand. */
function brandTarget(type: Type, at: Node): string | null | undefined {
  const brand = type.getProperty(ITERATE_ON_BRAND);
  if (!brand) return undefined;
  const key = brand.getTypeAtLocation(at).getNonNullableType();
  return key.isStringLiteral() ? (key.getLiteralValue() as string) : null;
}

/** `T` of a type that is `IterateOn<K, T>` itself (the alias symbol is kept then). */
function directIterateOnElement(type: Type): Type | undefined {
  const alias = type.getAliasSymbol();
  const args = type.getAliasTypeArguments();
  const isIterateOn = alias?.getName() === "IterateOn" && alias.getDeclarations().some(isInTaskModule);
  return isIterateOn && args.length === 2 ? args[1] : undefined;
}

/** `{ readonly __iterateOn?: K }`: the brand `IterateOn` intersects with `T` in its branded member. */
export function isIterateOnBrand(type: Type): boolean {
  const props = type.getProperties();
  return type.isObject() && props.length === 1 && props[0].getName() === ITERATE_ON_BRAND;
}

/** The intersection members of `type` without the `IterateOn` brand (`[type]` when not an intersection). */
export function stripIterateOn(type: Type): Type[] {
  if (!type.isIntersection()) return [type];
  return type.getIntersectionTypes().filter((t) => !isIterateOnBrand(t));
}

function readOutputs(fn: TaskFunctionNode, task: ExtractedTask, ctx: Context): boolean {
  const declared = fn.getReturnType();
  const unwrapped = ctx.checker.getAwaitedType(declared) ?? declared;
  task.spec.async = fn.isAsync() || unwrapped.compilerType !== declared.compilerType;
  const awaited = withoutSkipped(unwrapped);
  task.spec.skippable = maySkip(unwrapped, ctx.checker);
  if (isVoidLike(awaited)) return true;
  const returnSite = siteOf(fn.getReturnTypeNode() ?? fn, ctx.root);
  if (!isObjectLike(awaited, ctx.checker)) {
    report(ctx, "OF121", returnSite, `task ${task.spec.name} must return an object whose keys are its output targets (or void), not ${awaited.getText(fn)}`);
    return false;
  }
  for (const prop of awaited.getProperties()) {
    const type = prop.getTypeAtLocation(fn);
    const decl = prop.getDeclarations()[0];
    const typeNode = Node.isPropertySignature(decl) ? decl.getTypeNode() : undefined;
    const output: OutputSpec = {
      name: prop.getName(),
      type: typeNode?.getText() ?? type.getText(fn),
      optional: prop.isOptional(),
    };
    task.spec.outputs.push(output);
    task.outputTypes.set(output.name, type);
    task.outputSites.set(output.name, decl ? siteOf(decl, ctx.root) : returnSite);
  }
  return true;
}

/** `{ x: number } | SkippedValue` → `{ x: number }`: returning `Skipped` is not an output. */
function withoutSkipped(type: Type): Type {
  if (!type.isUnion()) return type;
  const kept = type.getUnionTypes().filter((t) => !isSkippedValue(t));
  if (kept.length === 1) return kept[0];
  if (kept.length > 1 && kept.every((t) => t.isVoid() || t.isUndefined())) return kept[0];
  return type;
}

/**
 * Whether a task's (awaited) return type lets it `return Skipped`: a union with `SkippedValue`, or a type
 * `Skipped` fits as it is (`any`, `unknown`, `{}`, `Record<string, unknown>`: an object type without
 * properties of its own).
 */
function maySkip(type: Type, checker: TypeChecker): boolean {
  return (type.isUnion() ? type.getUnionTypes() : [type]).some(
    (t) => isSkippedValue(t) || t.isAny() || t.isUnknown() || (isObjectLike(t, checker) && !t.isIntersection() && t.getProperties().length === 0),
  );
}

function isSkippedValue(type: Type): boolean {
  return type.getProperty("__outflowSkipped") !== undefined;
}

function isVoidLike(type: Type): boolean {
  const members = type.isUnion() ? type.getUnionTypes() : [type];
  return members.every((t) => t.isVoid() || t.isUndefined());
}

function isObjectLike(type: Type, checker: TypeChecker): boolean {
  if (type.isIntersection()) return type.getIntersectionTypes().every((t) => isObjectLike(t, checker));
  const ts = checker.compilerObject;
  return (
    type.isObject() &&
    !ts.isArrayType(type.compilerType) &&
    !ts.isTupleType(type.compilerType) &&
    type.getCallSignatures().length === 0
  );
}

function pluginOf(module: string): string {
  const parts = module.split("/");
  const at = parts.indexOf("plugins");
  // `plugins/<name>/...`: the folder right under plugins/, never the file itself.
  return at >= 0 && at + 2 < parts.length ? parts[at + 1] : "";
}

export function relativePath(root: string, file: string): string {
  return path.relative(root, file).split(path.sep).join("/");
}

export function siteOf(node: Node, root: string): Site {
  const file = node.getSourceFile();
  const { line, column } = file.getLineAndColumnAtPos(node.getStart());
  return { file: relativePath(root, file.getFilePath()), line, column };
}

function report(ctx: Context, code: string, site: Site, message: string): void {
  ctx.diagnostics.push({ code, message, site });
}
