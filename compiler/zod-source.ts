import { Node, ts, type Type, type TypeChecker } from "ts-morph";
import type { Site } from "../contract/manifest.js";
import { ITERATE_ON_BRAND, stripIterateOn, type CompilerDiagnostic, type ExtractedTask } from "./signatures.js";

/**
 * Turns a checker type into the source text of a zod/mini schema (`z` from "zod/mini"). Every type
 * either maps to a schema that checks it or to an error that says why not: never a silent `any`.
 * A user opts out of validation for one target by typing it `unknown`.
 */

/** Every JS number, NaN and ±Infinity included (`z.number()` rejects them; measured data has NaN). */
const NUMBER = `z.custom<number>((v) => typeof v === "number", "Invalid input: expected number")`;

/** Global classes checked with `instanceof` (their contents are not validated). */
const INSTANCEOF_GLOBALS = new Set([
  "Date", "RegExp", "ArrayBuffer", "SharedArrayBuffer", "DataView", "Buffer",
  "Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array", "Uint16Array", "Int32Array", "Uint32Array",
  "Float16Array", "Float32Array", "Float64Array", "BigInt64Array", "BigUint64Array",
]);

/** Beyond this depth a type is taken as an infinitely expanding generic. */
const MAX_DEPTH = 40;

class Unsupported extends Error {}

interface State {
  at: Node;
  checker: TypeChecker;
  /** Types being converted, outermost first: a type met again is recursive and becomes `z.lazy`. */
  open: Map<object, { name: string; recursive: boolean }>;
  counter: number;
  path: string;
}

export function zodSource(type: Type, at: Node): { code: string } | { error: string } {
  const state: State = { at, checker: at.getProject().getTypeChecker(), open: new Map(), counter: 0, path: "" };
  try {
    return { code: toZod(type, state) };
  } catch (err) {
    if (err instanceof Unsupported) return { error: err.message };
    throw err;
  }
}

function fail(type: Type, state: State, why: string): never {
  const where = state.path ? ` (at ${state.path})` : "";
  throw new Unsupported(`unsupported type ${type.getText(state.at)} for a validator: ${why}${where}`);
}

function toZod(type: Type, state: State): string {
  const seen = state.open.get(type.compilerType);
  if (seen) {
    seen.recursive = true;
    return `z.lazy(() => ${seen.name})`;
  }
  if (state.open.size >= MAX_DEPTH) fail(type, state, "it nests too deeply (an infinitely expanding recursive type?)");
  const entry = { name: `s${state.counter++}`, recursive: false };
  state.open.set(type.compilerType, entry);
  const code = convert(type, state);
  state.open.delete(type.compilerType);
  if (!entry.recursive) return code;
  return `(() => { const ${entry.name}: z.ZodMiniType = ${code}; return ${entry.name}; })()`;
}

function convert(type: Type, state: State): string {
  return primitive(type, state) ?? literal(type) ?? compound(type, state);
}

function primitive(type: Type, state: State): string | undefined {
  if (type.isAny() || type.isUnknown()) return "z.unknown()";
  if (type.isNever()) fail(type, state, "never has no values");
  if (type.isTypeParameter()) fail(type, state, "a generic type parameter is left open");
  if (type.isString()) return "z.string()";
  if (type.isNumber()) return NUMBER;
  if (type.isBoolean()) return "z.boolean()";
  if (type.isBigInt()) return "z.bigint()";
  if (type.isNull()) return "z.null()";
  if (type.isUndefined() || type.isVoid()) return "z.undefined()";
  if (type.isTemplateLiteral()) fail(type, state, "template literal types are not supported; use string");
  if (type.getFlags() & ts.TypeFlags.ESSymbolLike) fail(type, state, "symbols cannot be passed between tasks");
  if (type.getFlags() & ts.TypeFlags.NonPrimitive) fail(type, state, "`object` says nothing to check; use a specific type, Record<string, unknown> or unknown");
  return undefined;
}

function literal(type: Type): string | undefined {
  if (type.isBooleanLiteral()) return `z.literal(${type.getText()})`;
  if (!type.isLiteral()) return undefined;
  const value = type.getLiteralValue();
  if (typeof value === "string") return `z.literal(${JSON.stringify(value)})`;
  if (typeof value === "number") return `z.literal(${value})`;
  if (value) return `z.literal(${value.negative ? "-" : ""}${value.base10Value}n)`;
  return undefined;
}

function compound(type: Type, state: State): string {
  if (type.isUnion()) return union(type, state);
  if (type.isIntersection()) return intersection(type, state);
  const ts = state.checker.compilerObject;
  if (ts.isArrayType(type.compilerType)) return `z.array(${nested(type.getTypeArguments()[0], state, "[]")})`;
  if (ts.isTupleType(type.compilerType)) return tuple(type, state);
  if (type.getCallSignatures().length > 0 || type.getConstructSignatures().length > 0) {
    fail(type, state, "functions cannot be validated or passed between tasks");
  }
  return builtinOrClass(type, state) ?? object(type, state);
}

/** `T | undefined` → `z.optional(T)`, `T | null` → `z.nullable(T)`, the rest → `z.union`. */
function union(type: Type, state: State): string {
  const members = type.getUnionTypes();
  const isUndefined = (t: Type) => t.isUndefined() || t.isVoid();
  const optional = members.some(isUndefined);
  const nullable = members.some((t) => t.isNull());
  const rest = members.filter((t) => !isUndefined(t) && !t.isNull());
  let codes = [...new Set(rest.map((t) => toZod(t, state)))];
  // `boolean` is `true | false` to the checker (also `(true & brand) | (false & brand)`).
  if (codes.includes("z.literal(true)") && codes.includes("z.literal(false)")) {
    codes = [...codes.filter((c) => c !== "z.literal(true)" && c !== "z.literal(false)"), "z.boolean()"];
  }
  if (codes.length === 0) return optional && nullable ? "z.optional(z.null())" : nullable ? "z.null()" : "z.undefined()";
  let code = codes.length === 1 ? codes[0] : `z.union([${codes.join(", ")}])`;
  if (nullable) code = `z.nullable(${code})`;
  return optional ? `z.optional(${code})` : code;
}

/** Object intersections merge their properties; a primitive with a phantom brand is checked as the primitive. */
function intersection(type: Type, state: State): string {
  const members = stripIterateOn(type);
  if (members.length === 1) return toZod(members[0], state);
  const primitives = members.filter((t) => !t.isObject());
  if (primitives.length === 1) return toZod(primitives[0], state);
  if (primitives.length > 1) fail(type, state, "an intersection of primitive types");
  return object(type, state);
}

function tuple(type: Type, state: State): string {
  const flags = (type.compilerType as ts.TypeReference & { target: ts.TupleType }).target.elementFlags;
  const items: string[] = [];
  let rest: string | undefined;
  type.getTupleElements().forEach((element, i) => {
    const flag = flags[i];
    const code = nested(element, state, `[${i}]`);
    if (flag & ts.ElementFlags.Rest && i === flags.length - 1) rest = code;
    else if (flag & ts.ElementFlags.Optional) items.push(ensureOptional(code));
    else if (flag & ts.ElementFlags.Required) items.push(code);
    else fail(type, state, "variadic tuple elements are not supported");
  });
  return rest ? `z.tuple([${items.join(", ")}], ${rest})` : `z.tuple([${items.join(", ")}])`;
}

function builtinOrClass(type: Type, state: State): string | undefined {
  const symbol = type.getSymbol();
  const decls = symbol?.getDeclarations() ?? [];
  const fromLib = decls.length > 0 && decls.every((d) => isLibFile(d.getSourceFile().getFilePath()));
  const name = symbol?.getName() ?? "";
  if (fromLib && INSTANCEOF_GLOBALS.has(name)) return `z.instanceof(${name})`;
  const args = type.getTypeArguments();
  if (fromLib && name === "Map" && args.length === 2) {
    return `z.map(${nested(args[0], state, ".<key>")}, ${nested(args[1], state, ".<value>")})`;
  }
  if (fromLib && name === "Set" && args.length === 1) return `z.set(${nested(args[0], state, ".<value>")})`;
  if (decls.some((d) => Node.isClassDeclaration(d) || Node.isClassExpression(d))) {
    fail(type, state, "class instances are not validated structurally; use a plain object type, or unknown to opt out");
  }
  if (fromLib && decls.some((d) => Node.isInterfaceDeclaration(d))) {
    fail(type, state, `the built-in ${name} is not supported (supported: plain objects, arrays, Map, Set, Date, typed arrays)`);
  }
  return undefined;
}

function isLibFile(file: string): boolean {
  return file.includes("/node_modules/typescript/lib/") || file.includes("/node_modules/@types/node/");
}

function object(type: Type, state: State): string {
  const props: string[] = [];
  for (const prop of type.getProperties()) {
    const name = prop.getName();
    if (name === ITERATE_ON_BRAND) continue;
    if (name.startsWith("__@")) fail(type, state, `symbol-keyed property ${name} cannot be validated`);
    const code = nested(prop.getTypeAtLocation(state.at), state, `.${name}`);
    props.push(`${JSON.stringify(name)}: ${prop.isOptional() ? ensureOptional(code) : code}`);
  }
  const index = type.getStringIndexType() ?? type.getNumberIndexType();
  const value = index && nested(index, state, "[key]");
  if (value && props.length === 0) return `z.record(z.string(), ${value})`;
  const shape = `z.object({ ${props.join(", ")} })`;
  return value ? `z.catchall(${shape}, ${value})` : shape;
}

function ensureOptional(code: string): string {
  return code.startsWith("z.optional(") ? code : `z.optional(${code})`;
}

/** Converts a part of the type, extending the path used in error messages. */
function nested(type: Type, state: State, step: string): string {
  const outer = state.path;
  state.path = outer + step;
  try {
    return toZod(type, state);
  } finally {
    state.path = outer;
  }
}

/**
 * The module `generated/validators.ts`:
 * `export const validators = { "<task id>": { inputs: { name: schema }, outputs: { name: schema } } }`.
 * An unsupported type gives OF120 at the parameter / output and is left out of the module.
 */
export function validatorsModule(tasks: Iterable<ExtractedTask>): { code: string; diagnostics: CompilerDiagnostic[] } {
  const diagnostics: CompilerDiagnostic[] = [];
  let entries = "";
  for (const task of tasks) {
    const inputs = task.spec.inputs.map((input) => ({
      ...input, kind: "input", type: task.inputTypes.get(input.name)!, site: task.inputSites.get(input.name),
    }));
    const outputs = task.spec.outputs.map((output) => ({
      ...output, kind: "output", type: task.outputTypes.get(output.name)!, site: task.outputSites.get(output.name),
    }));
    entries +=
      `  ${JSON.stringify(task.spec.id)}: {\n` +
      `    inputs: {${schemaLines(task, inputs, diagnostics)}},\n` +
      `    outputs: {${schemaLines(task, outputs, diagnostics)}},\n` +
      `  },\n`;
  }
  const code =
    `// Generated by \`outflow build\`: zod validators for every task's inputs and outputs. Do not edit.\n` +
    `import * as z from "zod/mini";\n\n` +
    `export const validators: Record<string, { inputs: Record<string, z.ZodMiniType>; outputs: Record<string, z.ZodMiniType> }> = {\n` +
    entries +
    `};\n`;
  return { code, diagnostics };
}

interface Target {
  kind: string;
  name: string;
  type: Type;
  optional: boolean;
  site: Site | undefined;
}

/** `"name": schema,` lines; an unsupported target becomes an OF120 diagnostic instead. */
function schemaLines(task: ExtractedTask, targets: Target[], diagnostics: CompilerDiagnostic[]): string {
  let out = "";
  for (const target of targets) {
    const result = zodSource(target.type, task.node);
    if ("code" in result) {
      const code = target.optional ? ensureOptional(result.code) : result.code;
      out += `      ${JSON.stringify(target.name)}: ${code},\n`;
    } else {
      const message = `task ${task.spec.name}, ${target.kind} ${target.name}: ${result.error}; type it unknown to skip validation`;
      diagnostics.push({ code: "OF120", message, site: target.site ?? task.spec.site });
    }
  }
  return out && `\n${out}    `;
}
