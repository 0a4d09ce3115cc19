import { Node, ts, type Type, type TypeChecker } from "ts-morph";
import type { Site } from "../contract/manifest.js";
import { ITERATE_ON_BRAND, stripIterateOn, type CompilerDiagnostic, type ExtractedTask } from "./signatures.js";

/**
 * Turns a checker type into the source text of a zod/mini schema (`z` from "zod/mini"). Every type
 * either maps to a schema that checks it or to an error that says why not: never a silent `any`.
 * A user opts out of validation for one target by typing it `unknown`.
 *
 * Beside the schema, most types also get a **guard**: a predicate built from the small allocation-free
 * combinators of `GUARD_HELPERS` that accepts a subset of what the schema accepts (exactly the same set
 * for the types it covers). The runtime calls the guard first and the schema only when the guard says no
 * (for the error message, or the final word): a `number[]` of 1e6 elements is checked in a loop instead of
 * being copied by zod's parse. Types without a guard (tuples, records, Map/Set, recursive types) use zod.
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

/** A converted type: its zod source and, when one exists, its guard's source (`undef`: the guard accepts undefined). */
interface Out {
  zod: string;
  is?: string;
  undef?: boolean;
}

/** The guard combinators a generated validators module starts with. */
export const GUARD_HELPERS = `type Is = (v: unknown) => boolean;
const $any: Is = () => true;
const $num: Is = (v) => typeof v === "number";
const $str: Is = (v) => typeof v === "string";
const $bool: Is = (v) => typeof v === "boolean";
const $big: Is = (v) => typeof v === "bigint";
const $lit = (x: unknown): Is => (v) => v === x;
const $inst = (c: abstract new (...a: never[]) => unknown): Is => (v) => v instanceof c;
const $opt = (f: Is): Is => (v) => v === undefined || f(v);
const $nul = (f: Is): Is => (v) => v === null || f(v);
const $or = (...fs: Is[]): Is => (v) => { for (let i = 0; i < fs.length; i++) if (fs[i](v)) return true; return false; };
const $arr = (f: Is): Is => (v) => { if (!Array.isArray(v)) return false; for (let i = 0; i < v.length; i++) if (!f(v[i])) return false; return true; };
const $obj = (shape: Record<string, Is>): Is => {
  const keys = Object.keys(shape);
  const fs = Object.values(shape);
  return (v) => {
    if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
    for (let i = 0; i < keys.length; i++) if (!fs[i]((v as Record<string, unknown>)[keys[i]])) return false;
    return true;
  };
};
`;

const out = (zod: string, is?: string, undef = false): Out => ({ zod, is, undef });

interface State {
  at: Node;
  checker: TypeChecker;
  /** Types being converted, outermost first: a type met again is recursive and becomes `z.lazy`. */
  open: Map<object, { name: string; recursive: boolean }>;
  counter: number;
  path: string;
}

/** The schema source of a type (`code`) and its guard's source when it has one. */
export function zodSource(type: Type, at: Node): { code: string; guard?: string } | { error: string } {
  const result = convertType(type, at);
  if ("error" in result) return result;
  return result.is === undefined ? { code: result.zod } : { code: result.zod, guard: result.is };
}

function convertType(type: Type, at: Node): Out | { error: string } {
  const state: State = { at, checker: at.getProject().getTypeChecker(), open: new Map(), counter: 0, path: "" };
  try {
    return toZod(type, state);
  } catch (err) {
    if (err instanceof Unsupported) return { error: err.message };
    throw err;
  }
}

function fail(type: Type, state: State, why: string): never {
  const where = state.path ? ` (at ${state.path})` : "";
  throw new Unsupported(`unsupported type ${type.getText(state.at)} for a validator: ${why}${where}`);
}

function toZod(type: Type, state: State): Out {
  const seen = state.open.get(type.compilerType);
  if (seen) {
    seen.recursive = true;
    return out(`z.lazy(() => ${seen.name})`);
  }
  if (state.open.size >= MAX_DEPTH) fail(type, state, "it nests too deeply (an infinitely expanding recursive type?)");
  const entry = { name: `s${state.counter++}`, recursive: false };
  state.open.set(type.compilerType, entry);
  const code = convert(type, state);
  state.open.delete(type.compilerType);
  if (!entry.recursive) return code;
  // Recursive types keep zod's z.lazy and have no guard.
  return out(`(() => { const ${entry.name}: z.ZodMiniType = ${code.zod}; return ${entry.name}; })()`);
}

function convert(type: Type, state: State): Out {
  return primitive(type, state) ?? literal(type) ?? compound(type, state);
}

function primitive(type: Type, state: State): Out | undefined {
  if (type.isAny() || type.isUnknown()) return out("z.unknown()", "$any", true);
  if (type.isNever()) fail(type, state, "never has no values");
  if (type.isTypeParameter()) fail(type, state, "a generic type parameter is left open");
  if (type.isString()) return out("z.string()", "$str");
  if (type.isNumber()) return out(NUMBER, "$num");
  if (type.isBoolean()) return out("z.boolean()", "$bool");
  if (type.isBigInt()) return out("z.bigint()", "$big");
  if (type.isNull()) return out("z.null()", "$lit(null)");
  if (type.isUndefined() || type.isVoid()) return out("z.undefined()", "$lit(undefined)", true);
  if (type.isTemplateLiteral()) fail(type, state, "template literal types are not supported; use string");
  if (type.getFlags() & ts.TypeFlags.ESSymbolLike) fail(type, state, "symbols cannot be passed between tasks");
  if (type.getFlags() & ts.TypeFlags.NonPrimitive) fail(type, state, "`object` says nothing to check; use a specific type, Record<string, unknown> or unknown");
  return undefined;
}

function literal(type: Type): Out | undefined {
  const lit = (text: string) => out(`z.literal(${text})`, `$lit(${text})`);
  if (type.isBooleanLiteral()) return lit(type.getText());
  if (!type.isLiteral()) return undefined;
  const value = type.getLiteralValue();
  if (typeof value === "string") return lit(JSON.stringify(value));
  if (typeof value === "number") return lit(String(value));
  if (value) return lit(`${value.negative ? "-" : ""}${value.base10Value}n`);
  return undefined;
}

/** Wraps a guard-able part: `wrap("$arr", inner)` is `$arr(inner)` when `inner` has a guard. */
function wrapGuard(fn: string, inner: Out): string | undefined {
  return inner.is === undefined ? undefined : `${fn}(${inner.is})`;
}

function compound(type: Type, state: State): Out {
  if (type.isUnion()) return union(type, state);
  if (type.isIntersection()) return intersection(type, state);
  const ts = state.checker.compilerObject;
  if (ts.isArrayType(type.compilerType)) {
    const element = nested(type.getTypeArguments()[0], state, "[]");
    return out(`z.array(${element.zod})`, wrapGuard("$arr", element));
  }
  if (ts.isTupleType(type.compilerType)) return tuple(type, state);
  if (type.getCallSignatures().length > 0 || type.getConstructSignatures().length > 0) {
    fail(type, state, "functions cannot be validated or passed between tasks");
  }
  return builtinOrClass(type, state) ?? object(type, state);
}

/** `T | undefined` → `z.optional(T)`, `T | null` → `z.nullable(T)`, the rest → `z.union`. */
function union(type: Type, state: State): Out {
  const members = type.getUnionTypes();
  const isUndefined = (t: Type) => t.isUndefined() || t.isVoid();
  const optional = members.some(isUndefined);
  const nullable = members.some((t) => t.isNull());
  const rest = members.filter((t) => !isUndefined(t) && !t.isNull());
  const byZod = new Map<string, Out>();
  for (const t of rest) {
    const o = toZod(t, state);
    byZod.set(o.zod, o);
  }
  // `boolean` is `true | false` to the checker (also `(true & brand) | (false & brand)`).
  if (byZod.has("z.literal(true)") && byZod.has("z.literal(false)")) {
    byZod.delete("z.literal(true)");
    byZod.delete("z.literal(false)");
    byZod.set("z.boolean()", out("z.boolean()", "$bool"));
  }
  const parts = [...byZod.values()];
  if (parts.length === 0) {
    if (optional && nullable) return out("z.optional(z.null())", "$opt($lit(null))", true);
    return nullable ? out("z.null()", "$lit(null)") : out("z.undefined()", "$lit(undefined)", true);
  }
  const guards = parts.every((p) => p.is !== undefined) ? parts.map((p) => p.is!) : undefined;
  let code: Out = parts.length === 1 ? parts[0] : out(`z.union([${parts.map((p) => p.zod).join(", ")}])`, guards && `$or(${guards.join(", ")})`, parts.some((p) => p.undef));
  if (nullable) code = out(`z.nullable(${code.zod})`, wrapGuard("$nul", code), code.undef);
  return optional ? ensureOptional(code) : code;
}

/** Object intersections merge their properties; a primitive with a phantom brand is checked as the primitive. */
function intersection(type: Type, state: State): Out {
  const members = stripIterateOn(type);
  if (members.length === 1) return toZod(members[0], state);
  const primitives = members.filter((t) => !t.isObject());
  if (primitives.length === 1) return toZod(primitives[0], state);
  if (primitives.length > 1) fail(type, state, "an intersection of primitive types");
  return object(type, state);
}

/** Tuples are checked by zod only (length rules): no guard. */
function tuple(type: Type, state: State): Out {
  const flags = (type.compilerType as ts.TypeReference & { target: ts.TupleType }).target.elementFlags;
  const items: string[] = [];
  let rest: string | undefined;
  type.getTupleElements().forEach((element, i) => {
    const flag = flags[i];
    const code = nested(element, state, `[${i}]`);
    if (flag & ts.ElementFlags.Rest && i === flags.length - 1) rest = code.zod;
    else if (flag & ts.ElementFlags.Optional) items.push(ensureOptional(code).zod);
    else if (flag & ts.ElementFlags.Required) items.push(code.zod);
    else fail(type, state, "variadic tuple elements are not supported");
  });
  return out(rest ? `z.tuple([${items.join(", ")}], ${rest})` : `z.tuple([${items.join(", ")}])`);
}

function builtinOrClass(type: Type, state: State): Out | undefined {
  const symbol = type.getSymbol();
  const decls = symbol?.getDeclarations() ?? [];
  const fromLib = decls.length > 0 && decls.every((d) => isLibFile(d.getSourceFile().getFilePath()));
  const name = symbol?.getName() ?? "";
  if (fromLib && INSTANCEOF_GLOBALS.has(name)) return out(`z.instanceof(${name})`, `$inst(${name})`);
  const args = type.getTypeArguments();
  if (fromLib && name === "Map" && args.length === 2) {
    return out(`z.map(${nested(args[0], state, ".<key>").zod}, ${nested(args[1], state, ".<value>").zod})`);
  }
  if (fromLib && name === "Set" && args.length === 1) return out(`z.set(${nested(args[0], state, ".<value>").zod})`);
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

/**
 * Plain object types. The guard covers objects without an index signature whose required properties
 * reject undefined (zod tells a missing key from an undefined one; the guard does not try to).
 */
function object(type: Type, state: State): Out {
  const props: string[] = [];
  let guards: string[] | undefined = [];
  for (const prop of type.getProperties()) {
    const name = prop.getName();
    if (name === ITERATE_ON_BRAND) continue;
    if (name.startsWith("__@")) fail(type, state, `symbol-keyed property ${name} cannot be validated`);
    let code = nested(prop.getTypeAtLocation(state.at), state, `.${name}`);
    if (prop.isOptional()) code = ensureOptional(code);
    else if (code.undef) guards = undefined;
    props.push(`${JSON.stringify(name)}: ${code.zod}`);
    if (code.is === undefined) guards = undefined;
    guards?.push(`${JSON.stringify(name)}: ${code.is}`);
  }
  const index = type.getStringIndexType() ?? type.getNumberIndexType();
  const value = index && nested(index, state, "[key]");
  if (value && props.length === 0) return out(`z.record(z.string(), ${value.zod})`);
  const shape = `z.object({ ${props.join(", ")} })`;
  if (value) return out(`z.catchall(${shape}, ${value.zod})`);
  return out(shape, guards && `$obj({ ${guards.join(", ")} })`);
}

function ensureOptional(code: Out): Out {
  if (code.zod.startsWith("z.optional(")) return code;
  return out(`z.optional(${code.zod})`, code.is === undefined || code.undef ? code.is : `$opt(${code.is})`, true);
}

/** Converts a part of the type, extending the path used in error messages. */
function nested(type: Type, state: State, step: string): Out {
  const outer = state.path;
  state.path = outer + step;
  try {
    return toZod(type, state);
  } finally {
    state.path = outer;
  }
}

/**
 * The module `generated/validators.ts`: `export const validators = { "<task id>": { inputs: { name: check },
 * outputs: { name: check } } }`, a check being `{ schema, is? }` (the zod schema, built on first use, and the guard).
 * An unsupported type gives OF120 at the parameter / output and is left out of the module.
 */
export function validatorsModule(tasks: Iterable<ExtractedTask>): { code: string; diagnostics: CompilerDiagnostic[] } {
  const diagnostics: CompilerDiagnostic[] = [];
  let entries = "";
  for (const task of tasks) {
    // An `IterateOn<K, T>` input is checked as `T` (null passes for `number | null`).
    const inputs = task.spec.inputs.map((input) => ({
      ...input, kind: "input", type: task.iterateElementTypes.get(input.name) ?? task.inputTypes.get(input.name)!, site: task.inputSites.get(input.name),
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
    `// Generated by \`outflow build\`: zod validators (and fast guards) for every task's inputs and outputs. Do not edit.\n` +
    `import * as z from "zod/mini";\n\n` +
    GUARD_HELPERS +
    `type Check = { readonly schema: z.ZodMiniType; is?: Is };\n` +
    `/** A target's check. Its zod schema is built on first use: while the guard says yes, zod builds nothing. */\n` +
    `const $check = (make: () => z.ZodMiniType, is?: Is): Check => {\n` +
    `  let built: z.ZodMiniType | undefined;\n` +
    `  return { get schema() { return (built ??= make()); }, is };\n` +
    `};\n\n` +
    `export const validators: Record<string, { inputs: Record<string, Check>; outputs: Record<string, Check> }> = {\n` +
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
  // A generic task is reported once, at the task (compiler/signatures.ts): not again per target.
  if (task.generic) return "";
  let lines = "";
  for (const target of targets) {
    const result = convertType(target.type, task.node);
    if (!("error" in result)) {
      const code = target.optional ? ensureOptional(result) : result;
      lines += `      ${JSON.stringify(target.name)}: $check(() => ${code.zod}${code.is === undefined ? "" : `, ${code.is}`}),\n`;
    } else {
      const message = `task ${task.spec.name}, ${target.kind} ${target.name}: ${result.error}; type it unknown to skip validation`;
      diagnostics.push({ code: "OF120", message, site: target.site ?? task.spec.site });
    }
  }
  return lines && `\n${lines}    `;
}
