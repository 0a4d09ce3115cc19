import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build, transformSync } from "esbuild";
import type { SourceFile } from "ts-morph";
import * as z from "zod/mini";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { extractTasks } from "../../compiler/signatures.js";
import { taskProject } from "../helpers/task-project.js";
import { GUARD_HELPERS, validatorsModule, zodSource } from "../../compiler/zod-source.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));

function pipeline(files: Record<string, string>) {
  return taskProject(files, "outflow-zod-");
}

/** Evaluates schema source text against the test's own zod/mini. */
function evaluate(code: string): z.ZodMiniType {
  const js = transformSync(`(${code})`, { loader: "ts" }).code;
  return new Function("z", `return ${js}`)(z) as z.ZodMiniType;
}

/** Evaluates a guard's source with the generated module's combinators. */
function evaluateGuard(code: string): (v: unknown) => boolean {
  const js = transformSync(`${GUARD_HELPERS}\nexport default (${code});`, { loader: "ts", format: "cjs" }).code;
  const module = { exports: {} as { default: (v: unknown) => boolean } };
  new Function("module", "exports", js)(module, module.exports);
  return module.exports.default;
}

const TYPES = `import type { IterateOn } from "outflow";

export interface Point { x: number; y?: number; label?: string }
export interface Tree { value: number; children: Tree[] }
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
enum Color { Red = "red", Green = "green" }
class Thing { constructor(public n: number) {} }

export type Cases = {
  str: string; num: number; bool: boolean; big: bigint;
  lit: "a"; litNum: 3; litTrue: true; choice: "x" | "y" | 1; color: Color;
  maybe: string | undefined; nullable: number | null; nul: null; undef: undefined;
  arr: number[]; roArr: readonly string[]; roArr2: ReadonlyArray<number>;
  tuple: [string, number]; optTuple: [string, number?]; restTuple: [string, ...number[]];
  point: Point; nested: { inner: { deep?: { v: boolean } } };
  date: Date; f64: Float64Array; u8: Uint8Array; buf: ArrayBuffer;
  map: Map<string, number>; set: Set<string>;
  rec: Record<string, number>; index: { [k: string]: boolean }; mixed: { id: string; [k: string]: string };
  unknownV: unknown; anyV: any;
  item: IterateOn<"rows", Point>; flag: IterateOn<"flags", boolean>;
  tree: Tree; json: Json;
  branded: string & { __brand: "Id" };
  undefProp: { u: undefined; n: number };
};

export type Bad = {
  fn: () => void; method: { run(): void }; sym: symbol; thing: Thing; never: never;
  promise: Promise<number>; obj: object; template: \`id-\${string}\`; deep: { list: Array<{ cb: (x: number) => void }> };
};
`;

describe("zodSource", () => {
  let env: ReturnType<typeof pipeline>;
  let file: SourceFile;
  const source = (alias: string, prop: string) => {
    const node = file.getTypeAliasOrThrow(alias);
    const type = node.getType().getPropertyOrThrow(prop).getTypeAtLocation(node);
    return zodSource(type, node);
  };
  const schema = (prop: string) => {
    const result = source("Cases", prop);
    if (!("code" in result)) throw new Error(result.error);
    return { schema: evaluate(result.code), guard: result.guard === undefined ? undefined : evaluateGuard(result.guard) };
  };
  // Every case checks the schema and, where the type has one, the guard: it must give the same answer.
  const accepts = (prop: string, ...values: unknown[]) => {
    const s = schema(prop);
    for (const value of values) {
      expect(s.schema.safeParse(value).success, `${prop} should accept ${String(value)}`).toBe(true);
      if (s.guard) expect(s.guard(value), `the guard of ${prop} should accept ${String(value)}`).toBe(true);
    }
  };
  const rejects = (prop: string, ...values: unknown[]) => {
    const s = schema(prop);
    for (const value of values) {
      expect(s.schema.safeParse(value).success, `${prop} should reject ${String(value)}`).toBe(false);
      if (s.guard) expect(s.guard(value), `the guard of ${prop} should reject ${String(value)}`).toBe(false);
    }
  };

  beforeAll(() => {
    env = pipeline({ "types.ts": TYPES });
    file = env.sources[0];
  });
  afterAll(() => rmSync(env.root, { recursive: true, force: true }));

  it("maps primitives; number accepts NaN and ±Infinity", () => {
    accepts("num", 0, -1.5, NaN, Infinity, -Infinity);
    rejects("num", "1", null, undefined, 1n);
    accepts("str", "", "a");
    rejects("str", 1, undefined);
    accepts("bool", true, false);
    rejects("bool", 0, "true");
    accepts("big", 1n);
    rejects("big", 1);
  });

  it("maps literals, literal unions and enums", () => {
    accepts("lit", "a");
    rejects("lit", "b");
    accepts("litNum", 3);
    rejects("litNum", 4);
    accepts("litTrue", true);
    rejects("litTrue", false);
    accepts("choice", "x", "y", 1);
    rejects("choice", "z", 2);
    accepts("color", "red", "green");
    rejects("color", "blue");
  });

  it("maps undefined and null in unions", () => {
    accepts("maybe", "s", undefined);
    rejects("maybe", 1, null);
    accepts("nullable", 1, null);
    rejects("nullable", undefined, "1");
    accepts("nul", null);
    rejects("nul", undefined);
    accepts("undef", undefined);
    rejects("undef", null);
  });

  it("maps arrays, readonly arrays and tuples", () => {
    accepts("arr", [], [1, NaN]);
    rejects("arr", ["1"], 1);
    accepts("roArr", ["a"]);
    rejects("roArr", [1]);
    accepts("roArr2", [1]);
    rejects("roArr2", ["1"]);
    accepts("tuple", ["a", 1]);
    rejects("tuple", [1, "a"], ["a"]);
    accepts("optTuple", ["a"], ["a", 1]);
    rejects("optTuple", ["a", "b"]);
    accepts("restTuple", ["a"], ["a", 1, 2]);
    rejects("restTuple", ["a", 1, "b"]);
  });

  it("maps interfaces and nested object types with optional properties", () => {
    accepts("point", { x: 1 }, { x: 1, y: 2, label: "p" }, { x: 1, extra: true });
    rejects("point", { x: "1" }, { x: 1, y: "2" }, {}, null);
    accepts("nested", { inner: {} }, { inner: { deep: { v: true } } });
    rejects("nested", { inner: { deep: { v: 1 } } }, {});
  });

  it("maps Date, typed arrays, ArrayBuffer, Map and Set", () => {
    accepts("date", new Date());
    rejects("date", "2024-01-01", 0);
    accepts("f64", new Float64Array(2));
    rejects("f64", [1, 2], new Float32Array(2));
    accepts("u8", new Uint8Array(1));
    accepts("buf", new ArrayBuffer(4));
    rejects("buf", new Uint8Array(4));
    accepts("map", new Map([["a", 1]]));
    rejects("map", new Map([["a", "1"]]), { a: 1 });
    accepts("set", new Set(["a"]));
    rejects("set", new Set([1]), ["a"]);
  });

  it("maps Record and index signatures", () => {
    accepts("rec", {}, { a: 1, b: NaN });
    rejects("rec", { a: "1" }, null);
    accepts("index", { a: true });
    rejects("index", { a: 1 });
    accepts("mixed", { id: "x", other: "y" });
    rejects("mixed", { id: "x", other: 1 }, { other: "y" });
  });

  it("gives a guard to primitives, literals, arrays, plain objects and their unions; zod alone checks the rest", () => {
    const guarded = ["str", "num", "bool", "big", "lit", "litNum", "litTrue", "choice", "color", "maybe", "nullable", "nul", "undef", "arr", "roArr", "roArr2", "point", "nested", "date", "f64", "u8", "buf", "unknownV", "item", "flag", "branded"];
    const zodOnly = ["tuple", "optTuple", "restTuple", "map", "set", "rec", "index", "mixed", "tree", "json"];
    for (const prop of guarded) expect(source("Cases", prop), prop).toHaveProperty("guard");
    for (const prop of zodOnly) expect(source("Cases", prop), prop).not.toHaveProperty("guard");
    expect(source("Cases", "arr")).toMatchObject({ guard: "$arr($num)" });
    expect(source("Cases", "point")).toMatchObject({ guard: '$obj({ "x": $num, "y": $opt($num), "label": $opt($str) })' });
  });

  it("a required property that may be undefined leaves the object to zod (a missing key is not an undefined one)", () => {
    expect(source("Cases", "undefProp")).not.toHaveProperty("guard");
    rejects("undefProp", {});
    accepts("undefProp", { u: undefined, n: 1 });
  });

  it("maps unknown and any to z.unknown()", () => {
    expect(source("Cases", "unknownV")).toEqual({ code: "z.unknown()", guard: "$any" });
    expect(source("Cases", "anyV")).toEqual({ code: "z.unknown()", guard: "$any" });
    accepts("unknownV", undefined, null, () => 1);
  });

  it("validates the element of an IterateOn type, without the brand", () => {
    const item = source("Cases", "item");
    expect("code" in item && item.code).not.toContain("__iterateOn");
    accepts("item", { x: 1 });
    rejects("item", { x: "1" }, 1);
    expect(source("Cases", "flag")).toEqual({ code: "z.boolean()", guard: "$bool" });
  });

  it("maps recursive types with z.lazy", () => {
    accepts("tree", { value: 1, children: [{ value: 2, children: [] }] });
    rejects("tree", { value: 1, children: [{ value: "2", children: [] }] });
    accepts("json", { a: [1, "b", null, { c: true }] }, "s", null);
    rejects("json", { a: [undefined] }, { a: () => 1 });
  });

  it("checks a phantom-branded primitive as the primitive", () => {
    accepts("branded", "id-1");
    rejects("branded", 1);
  });

  it.each([
    ["fn", "unsupported type () => void for a validator: functions"],
    ["method", "unsupported type () => void for a validator: functions cannot be validated or passed between tasks (at .run)"],
    ["sym", "unsupported type symbol for a validator: symbols"],
    ["thing", "unsupported type Thing for a validator: class instances"],
    ["never", "unsupported type never for a validator"],
    ["promise", "unsupported type Promise<number> for a validator: the built-in Promise"],
    ["obj", "unsupported type object for a validator"],
    ["template", "unsupported type `id-${string}` for a validator: template literal"],
    ["deep", "(at .list[].cb)"],
  ])("refuses %s", (prop, message) => {
    const result = source("Bad", prop);
    expect("error" in result && result.error).toContain(message);
  });
});

const TASKS = `import { task, type IterateOn } from "outflow";

interface Row { id: number; tags?: string[] }

export const Compute = task(async function Compute(
  some_data: IterateOn<"some_data_array", number>,
  rows: readonly Row[],
  factor = 2,
): Promise<{ computation_result: number; note?: string }> {
  return { computation_result: some_data * factor };
});

export const Generic = task(function Generic<T>(value: T): { same: T } {
  return { same: value };
});

export const Callback = task(function Callback(done: () => void, opaque: unknown): { when: Date } {
  return { when: new Date() };
});

export const Elements = task(function Elements(maybe: IterateOn<"maybes", number | null>, weird: IterateOn<"weirds", unknown>, row: IterateOn<"rows", Row | undefined>): void {});
`;

/** The site of `snippet` (its first occurrence) in TASKS. */
function siteIn(snippet: string) {
  const index = TASKS.indexOf(snippet);
  if (index < 0) throw new Error(`no ${snippet} in TASKS`);
  const lineStart = TASKS.lastIndexOf("\n", index - 1) + 1;
  return { file: "plugins/demo/tasks.ts", line: TASKS.slice(0, index).split("\n").length, column: index - lineStart + 1 };
}

describe("validatorsModule", () => {
  let env: ReturnType<typeof pipeline>;
  let result: ReturnType<typeof validatorsModule>;
  let validators: Record<string, { inputs: Record<string, { schema: z.ZodMiniType; is?: (v: unknown) => boolean }>; outputs: Record<string, { schema: z.ZodMiniType; is?: (v: unknown) => boolean }> }>;

  beforeAll(async () => {
    env = pipeline({ "plugins/demo/tasks.ts": TASKS });
    const { tasks, diagnostics } = extractTasks(env.project, env.root, env.sources);
    // A generic task is one OF120 at its signature; its inputs and outputs are then unknown to the validators.
    expect(diagnostics.map((d) => [d.code, d.message])).toEqual([["OF120", "task Generic is generic (<T>): a type parameter cannot be validated at run time; give its inputs and outputs concrete types (or unknown)"]]);
    result = validatorsModule(tasks.values());
    // Bundle the generated module with the installed zod and import it, as a command bundle would.
    const bundled = await build({
      stdin: { contents: result.code, loader: "ts", resolveDir: REPO },
      bundle: true,
      format: "esm",
      platform: "node",
      write: false,
    });
    const out = join(env.root, "validators.mjs");
    writeFileSync(out, bundled.outputFiles[0].text);
    ({ validators } = await import(pathToFileURL(out).href));
  });
  afterAll(() => rmSync(env.root, { recursive: true, force: true }));

  it("writes a module that type-checks", () => {
    const generated = env.project.createSourceFile(join(env.root, "generated/validators.ts"), result.code);
    expect(generated.getPreEmitDiagnostics().map((d) => d.getMessageText())).toEqual([]);
  });

  it("validates inputs and outputs of each task by target", () => {
    const compute = validators["plugins/demo/tasks.ts#Compute"];
    expect(Object.keys(compute.inputs)).toEqual(["some_data", "rows", "factor"]);
    // Schema and guard agree on every value.
    const both = (check: { schema: z.ZodMiniType; is?: (v: unknown) => boolean }, value: unknown, expected: boolean) => {
      expect(check.schema.safeParse(value).success).toBe(expected);
      expect(check.is, "a guard").toBeTypeOf("function");
      expect(check.is!(value)).toBe(expected);
    };
    both(compute.inputs.some_data, NaN, true);
    both(compute.inputs.some_data, "4", false);
    both(compute.inputs.rows, [{ id: 1 }, { id: 2, tags: ["a"] }], true);
    both(compute.inputs.rows, [{ id: 1, tags: [1] }], false);
    // An input with a default may be absent.
    both(compute.inputs.factor, undefined, true);
    both(compute.inputs.factor, "2", false);
    expect(Object.keys(compute.outputs)).toEqual(["computation_result", "note"]);
    both(compute.outputs.note, undefined, true);
    both(compute.outputs.computation_result, undefined, false);
  });

  it("keeps the supported targets of a task with an unsupported one, and unknown opts out", () => {
    const callback = validators["plugins/demo/tasks.ts#Callback"];
    expect(Object.keys(callback.inputs)).toEqual(["opaque"]);
    expect(callback.inputs.opaque.schema.safeParse(() => 1).success).toBe(true);
    expect(callback.outputs.when.schema.safeParse(new Date()).success).toBe(true);
    expect(callback.outputs.when.is!(new Date())).toBe(true);
  });

  it("checks an IterateOn input against T itself: null for number | null, anything for unknown", () => {
    const elements = validators["plugins/demo/tasks.ts#Elements"];
    for (const [name, good, bad] of [["maybe", [1, null, NaN], ["1", undefined]], ["weird", [null, undefined, "x", 1, {}], []], ["row", [undefined, { id: 1 }], [null, { id: "1" }]]] as const) {
      const check = elements.inputs[name];
      for (const v of good) expect(check.schema.safeParse(v).success && (check.is?.(v) ?? true), `${name} accepts ${String(v)}`).toBe(true);
      for (const v of bad) expect(check.schema.safeParse(v).success || (check.is?.(v) ?? false), `${name} rejects ${String(v)}`).toBe(false);
    }
  });

  it("reports unsupported types as OF120 at the target, naming task and target", () => {
    // (The generic task was said once, at its signature: see above.)
    expect(result.diagnostics.map((d) => [d.code, d.site])).toEqual([["OF120", siteIn("done: () => void")]]);
    expect(result.diagnostics.map((d) => d.message)).toEqual([
      "task Callback, input done: unsupported type () => void for a validator: functions cannot be validated or passed between tasks; type it unknown to skip validation",
    ]);
  });
});
