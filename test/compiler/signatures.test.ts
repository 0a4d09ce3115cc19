import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { taskProject } from "../helpers/task-project.js";
import { extractTasks, type CompilerDiagnostic, type ExtractedTask } from "../../compiler/signatures.js";

/** A pipeline in a temp dir (see taskProject), with its tasks extracted. */
function pipeline(files: Record<string, string>) {
  const { root, project, sources } = taskProject(files, "outflow-signatures-");
  return { root, project, ...extractTasks(project, root, sources) };
}

const TASKS = `import { task, type IterateOn } from "outflow";
import { task as t } from "outflow";
import * as of from "outflow";

interface Row { id: number; label: string }
type RowItem = IterateOn<"rows", Row>;
type Flag = IterateOn<"flags", boolean>;

export const Params = task(function Params(a: number, b?: string, c = 3, d: boolean = false): { sum: number; note?: string } {
  return { sum: a + c };
});

export const Fetch = task(async function Fetch(url: string): Promise<{ body: string; sizes: number[] }> {
  return { body: url, sizes: [] };
});

export const Later = task((n: number) => Promise.resolve({ doubled: n * 2 }));

export const Print = task(function Print(value: number): void {});
export const PrintAsync = task(async (value: number): Promise<void> => {});

export const Each = task(function Each(item: IterateOn<"some_data_array", number>): { out: number } {
  return { out: item };
});
export const EachRow = t(function EachRow(row: RowItem, scale: number): { id: number } {
  return { id: row.id * scale };
});
export const EachFlag = of.task(function EachFlag(flag: Flag): void {});
export const EachChoice = task(function EachChoice(choice: IterateOn<"choices", "a" | "b">): void {});

function declared(x: number): { y: number } {
  return { y: x };
}
const Local = task(declared);
export { Local as Renamed, Local };

const Hidden = task(function Hidden(): void {});
export const Destructured = task(function Destructured({ a }: { a: number }): void {});
export const Rest = task(function Rest(...xs: number[]): void {});
export const ReturnsNumber = task(function ReturnsNumber(): number {
  return 1;
});

function task2(fn: () => void) { return fn; }
export const NotATask = task2(() => {});

type MaybeRow = IterateOn<"maybe_rows", Row | null>;
export const MaybeEach = task(function MaybeEach(maybe: IterateOn<"maybe", number | null>): { n: number } {
  return { n: maybe ?? 0 };
});
export const UnknownEach = task(function UnknownEach(weird: IterateOn<"weird", unknown>): void {});
export const AnyEach = task(function AnyEach(loose: IterateOn<"loose", any>): void {});
export const UndefinedEach = task(function UndefinedEach(nothing: IterateOn<"nothings", undefined>): void {});
export const MaybeRowEach = task(function MaybeRowEach(row: MaybeRow): void {});
const unannotated: (cell: IterateOn<"cells", number>) => void = (cell) => {};
export const Unannotated = task(unannotated);
`;

/** The site of `snippet` (its first occurrence) in TASKS, plus `offset` characters. */
function siteIn(snippet: string, offset = 0) {
  const index = TASKS.indexOf(snippet) + offset;
  if (index < offset) throw new Error(`no ${snippet} in TASKS`);
  const lineStart = TASKS.lastIndexOf("\n", index - 1) + 1;
  return { file: "plugins/demo/tasks.ts", line: TASKS.slice(0, index).split("\n").length, column: index - lineStart + 1 };
}

describe("extractTasks", () => {
  let result: ReturnType<typeof pipeline>;
  let tasks: Map<string, ExtractedTask>;
  const get = (name: string) => {
    const found = tasks.get(`plugins/demo/tasks.ts#${name}`);
    if (!found) throw new Error(`no task ${name}; have ${[...tasks.keys()].join(", ")}`);
    return found;
  };
  const diagnostic = (code: string, text: string): CompilerDiagnostic | undefined =>
    result.diagnostics.find((d) => d.code === code && d.message.includes(text));

  beforeAll(() => {
    result = pipeline({ "plugins/demo/tasks.ts": TASKS });
    tasks = result.tasks;
  });
  afterAll(() => rmSync(result.root, { recursive: true, force: true }));

  it("finds exported tasks with id, name, plugin and the site of `task`", () => {
    expect([...tasks.keys()].sort()).toEqual(
      ["AnyEach", "Each", "EachChoice", "EachFlag", "EachRow", "Fetch", "Later", "MaybeEach", "MaybeRowEach", "Params", "Print", "PrintAsync", "Renamed", "Unannotated", "UndefinedEach", "UnknownEach"]
        .map((n) => `plugins/demo/tasks.ts#${n}`)
        .sort(),
    );
    const params = get("Params").spec;
    expect(params).toMatchObject({ id: "plugins/demo/tasks.ts#Params", name: "Params", plugin: "demo", module: "plugins/demo/tasks.ts" });
    expect(params.site).toEqual({ file: "plugins/demo/tasks.ts", line: 9, column: 23 });
    expect(params.site).toEqual(siteIn("task(function Params"));
    expect(get("EachFlag").spec.site).toEqual(siteIn("of.task(function EachFlag", 3));
    expect(get("EachRow").spec.site).toEqual(siteIn("t(function EachRow"));
  });

  it("reads parameters in order with optional vs default", () => {
    expect(get("Params").spec.inputs).toEqual([
      { name: "a", type: "number", optional: false, hasDefault: false },
      { name: "b", type: "string", optional: true, hasDefault: false },
      { name: "c", type: "number", optional: true, hasDefault: true },
      { name: "d", type: "boolean", optional: true, hasDefault: true },
    ]);
    expect(get("Params").inputTypes.get("c")?.getText()).toBe("number");
  });

  it("reads outputs from the returned object, with optionality", () => {
    const params = get("Params");
    expect(params.spec.async).toBe(false);
    expect(params.spec.outputs).toEqual([
      { name: "sum", type: "number", optional: false },
      { name: "note", type: "string", optional: true },
    ]);
    expect(params.outputTypes.get("sum")?.isNumber()).toBe(true);
  });

  it("unwraps Promise for async functions and for functions returning a Promise", () => {
    const fetch = get("Fetch").spec;
    expect(fetch.async).toBe(true);
    expect(fetch.outputs).toEqual([
      { name: "body", type: "string", optional: false },
      { name: "sizes", type: "number[]", optional: false },
    ]);
    const later = get("Later").spec;
    expect(later.async).toBe(true);
    expect(later.outputs).toEqual([{ name: "doubled", type: "number", optional: false }]);
  });

  it("gives void tasks no outputs", () => {
    expect(get("Print").spec).toMatchObject({ async: false, outputs: [] });
    expect(get("PrintAsync").spec).toMatchObject({ async: true, outputs: [] });
  });

  it("detects IterateOn written directly", () => {
    const each = get("Each");
    expect(each.spec.inputs[0]).toEqual({
      name: "item",
      type: 'IterateOn<"some_data_array", number>',
      optional: false,
      hasDefault: false,
      iterateOn: { target: "some_data_array", elementType: "number" },
    });
    expect(each.iterateElementTypes.get("item")?.isNumber()).toBe(true);
    // The parameter's own type takes a plain number (the task stays an ordinary function).
    const checker = result.project.getTypeChecker().compilerObject;
    expect(checker.isTypeAssignableTo(checker.getNumberType(), each.inputTypes.get("item")!.compilerType)).toBe(true);
  });

  it("detects a re-aliased IterateOn by its brand", () => {
    const row = get("EachRow");
    expect(row.spec.inputs.map((i) => [i.name, i.type, i.iterateOn])).toEqual([
      ["row", "RowItem", { target: "rows", elementType: "Row" }],
      ["scale", "number", undefined],
    ]);
    expect(row.iterateElementTypes.get("row")?.getText()).toBe("Row");
    expect(row.iterateElementTypes.has("scale")).toBe(false);
  });

  it("detects IterateOn over unions (distributed over boolean and literal unions)", () => {
    expect(get("EachFlag").spec.inputs[0].iterateOn).toEqual({ target: "flags", elementType: "boolean" });
    expect(get("EachChoice").spec.inputs[0].iterateOn).toEqual({ target: "choices", elementType: '"a" | "b"' });
    // Written directly, the element is exactly T, even for a union.
    expect(get("EachChoice").iterateElementTypes.get("choice")?.getText()).toBe('"a" | "b"');
    // Through a re-alias too, the element is exactly T.
    expect(get("EachFlag").iterateElementTypes.get("flag")?.getText()).toBe("boolean");
    const checker = result.project.getTypeChecker().compilerObject;
    const flagElement = get("EachFlag").iterateElementTypes.get("flag")!;
    const booleanType = get("Params").inputTypes.get("d")!;
    expect(checker.isTypeAssignableTo(booleanType.compilerType, flagElement.compilerType)).toBe(true);
    const numberType = get("Params").inputTypes.get("a")!;
    expect(checker.isTypeAssignableTo(numberType.compilerType, flagElement.compilerType)).toBe(false);
  });

  it.each([
    ["MaybeEach", "maybe", "maybe", "number | null"],
    ["UnknownEach", "weird", "weird", "unknown"],
    ["AnyEach", "loose", "loose", "any"],
    ["UndefinedEach", "nothing", "nothings", "undefined"],
    ["MaybeRowEach", "row", "maybe_rows", "Row | null"],
  ])("the element of %s's IterateOn is exactly T, also when T is or holds null, undefined, unknown or any", (name, param, target, element) => {
    const found = get(name);
    expect(found.spec.inputs[0].iterateOn).toEqual({ target, elementType: element });
    expect(found.iterateElementTypes.get(param)?.getText()).toBe(element);
  });

  it("null is an element of IterateOn<K, number | null>, not of IterateOn<K, number>", () => {
    const checker = result.project.getTypeChecker().compilerObject;
    const nullable = get("MaybeEach").iterateElementTypes.get("maybe")!.compilerType;
    expect(checker.isTypeAssignableTo(checker.getNullType(), nullable)).toBe(true);
    expect(checker.isTypeAssignableTo(checker.getNullType(), get("Each").iterateElementTypes.get("item")!.compilerType)).toBe(false);
  });

  it("detects IterateOn on a parameter with no type written (typed by its context), by its brand", () => {
    expect(get("Unannotated").spec.inputs[0].iterateOn).toEqual({ target: "cells", elementType: "number" });
  });

  it("a task with IterateOn parameters stays an ordinary function: .fn takes plain values, the body sees T", () => {
    const use = result.project.createSourceFile(
      join(result.root, "plugins/demo/use.ts"),
      `import { Each, MaybeEach, UnknownEach, AnyEach, UndefinedEach } from "./tasks.js";
const out: number = Each.fn(3).out;
const n: number = MaybeEach.fn(null).n + MaybeEach.fn(2).n;
UnknownEach.fn("anything");
AnyEach.fn({});
UndefinedEach.fn(undefined);
const takesNull: null extends Parameters<typeof MaybeEach.fn>[0] ? true : false = true;
const takesAnything: undefined extends Parameters<typeof UnknownEach.fn>[0] ? true : false = true;
// @ts-expect-error null is not an element of IterateOn<"some_data_array", number>
Each.fn(null);
`,
    );
    expect(use.getPreEmitDiagnostics().map((d) => d.getMessageText())).toEqual([]);
  });

  it("accepts a function declaration and uses the first export name in source order", () => {
    const local = get("Renamed");
    expect(local.spec.name).toBe("Renamed");
    expect(local.spec.inputs.map((i) => i.name)).toEqual(["x"]);
    expect(local.spec.outputs.map((o) => o.name)).toEqual(["y"]);
  });

  it("reports a task that is not exported (OF111)", () => {
    const d = diagnostic("OF111", "Hidden");
    expect(d?.message).toMatch(/^task Hidden must be exported/);
    expect(d?.site).toEqual(siteIn("task(function Hidden"));
  });

  it("reports destructured and rest parameters (OF121)", () => {
    const destructured = diagnostic("OF121", "Destructured");
    expect(destructured?.message).toContain("{ a }: { a: number }");
    expect(destructured?.site).toEqual(siteIn("{ a }: { a: number }"));
    expect(diagnostic("OF121", "task Rest")?.message).toContain("...xs");
  });

  it("reports a non-object return type (OF121)", () => {
    const d = diagnostic("OF121", "ReturnsNumber");
    expect(d?.message).toBe("task ReturnsNumber must return an object whose keys are its output targets (or void), not number");
    expect(d?.site).toEqual(siteIn("number {\n  return 1;"));
  });

  it("reports exactly the expected diagnostics", () => {
    expect(result.diagnostics.map((d) => d.code).sort()).toEqual(["OF111", "OF121", "OF121", "OF121"]);
  });
});

describe("extractTasks outside plugins/", () => {
  it("gives an empty plugin and forward-slash ids, and ignores other functions named task", () => {
    const { tasks, diagnostics, root } = pipeline({
      "lib/more/steps.ts": `import { task } from "outflow";\nexport const Step = task(function Step(): void {});\n`,
      "lib/fake.ts": `function task(fn: () => void) { return fn; }\nexport const Fake = task(() => {});\nconst Hidden = task(() => {});\n`,
    });
    expect([...tasks.values()].map((t) => [t.spec.id, t.spec.plugin])).toEqual([["lib/more/steps.ts#Step", ""]]);
    expect(diagnostics).toEqual([]);
    rmSync(root, { recursive: true, force: true });
  });
});

describe("extractTasks: default exports, generic tasks, Skipped", () => {
  it("a default-exported task is `#default`, named after its function or variable; a generic one is OF120 once, at the task", () => {
    // This project's "outflow" has only task and IterateOn: Skipped's type is recognised by its property.
    const tasksFile = `import { task } from "outflow";
interface SkippedValue { readonly __outflowSkipped: true }
export default task(function Dflt(x: number): { y: number } | SkippedValue {
  return { y: x };
});
`;
    const other = `import { task } from "outflow";
const Inner = task(function Inner(): void {});
export default Inner;
export const Generic = task(function Generic<T, U>(x: T, u: U): { y: T } {
  return { y: x };
});
`;
    const { tasks, diagnostics, root } = pipeline({ "plugins/demo/tasks.ts": tasksFile, "plugins/demo/other.ts": other });
    const dflt = tasks.get("plugins/demo/tasks.ts#default");
    expect(dflt?.spec).toMatchObject({ id: "plugins/demo/tasks.ts#default", name: "Dflt", inputs: [{ name: "x" }], outputs: [{ name: "y" }], skippable: true });
    expect(tasks.get("plugins/demo/other.ts#default")?.spec).toMatchObject({ name: "Inner", skippable: false });
    expect(tasks.get("plugins/demo/other.ts#Generic")?.generic).toBe(true);
    const at = other.indexOf("task(function Generic");
    expect(diagnostics).toEqual([
      {
        code: "OF120",
        message: "task Generic is generic (<T, U>): a type parameter cannot be validated at run time; give its inputs and outputs concrete types (or unknown)",
        site: { file: "plugins/demo/other.ts", line: other.slice(0, at).split("\n").length, column: at - other.lastIndexOf("\n", at) },
      },
    ]);
    rmSync(root, { recursive: true, force: true });
  });
});
