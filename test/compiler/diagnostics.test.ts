/**
 * The diagnostics catalogue: every check of `outflow build` on a small failing pipeline, asserting the code,
 * the file, the exact line and column, and the words of the message a user needs to fix the problem.
 *
 * One build takes seconds (ts-morph loads the runtime's types), so most cases share one pipeline with one
 * command per case; each case asserts its own diagnostic, and a last test asserts nothing else was reported.
 * Expected positions are located by their text in the fixture (`locate`), so the fixture can be edited freely.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Diagnostic } from "../../contract/diagnostic.js";
import { printDiagnostics } from "../../compiler/build.js";
import { checkPipeline, locate, makePipeline, removePipelines } from "../helpers/pipeline-fixture.js";

afterAll(removePipelines);

const CONFIG = `import { defineConfig } from "outflow";

export default defineConfig({
  plugins: [
    "p",
    "ghost",
  ],
});
`;

const TASKS = `import { task, type IterateOn } from "outflow";

export const MakeText = task(function MakeText(): { value: string } {
  return { value: "x" };
});
export const MakeNumber = task(function MakeNumber(): { value: number } {
  return { value: 1 };
});
export const UseNumber = task(function UseNumber(value: number): void {});
export const Compute = task(function Compute(some_data: number): { result: number } {
  return { result: some_data };
});
export const Sleep = task(function Sleep(seconds: number): void {});
export const MakeArray = task(function MakeArray(): { items: number[] } {
  return { items: [1, 2] };
});
export const MakeStrings = task(function MakeStrings(): { items: string[] } {
  return { items: ["a"] };
});
export const MakeScalar = task(function MakeScalar(): { items: number } {
  return { items: 1 };
});
export const Each = task(function Each(item: IterateOn<"items", number>): { doubled: number } {
  return { doubled: item * 2 };
});
export const EachRow = task(function EachRow(row: IterateOn<"rows", number>): { other: number } {
  return { other: row };
});
export const Scale = task(function Scale(doubled: number, factor: number): { scaled: number } {
  return { scaled: doubled * factor };
});
export const TakeStrings = task(function TakeStrings(results: string[]): void {});
export const A = task(function A(b_out: number): { a_out: number } {
  return { a_out: b_out };
});
export const B = task(function B(a_out: number): { b_out: number } {
  return { b_out: a_out };
});
export const Done = task(function Done(): void {});
export const MakeArrayAndText = task(function MakeArrayAndText(): { items: number[]; factor: string } {
  return { items: [1], factor: "2" };
});
export const ScaleEach = task(function ScaleEach(item: IterateOn<"items", number>, factor: number): { scaled: number } {
  return { scaled: item * factor };
});
export const MakeModeC = task(function MakeModeC(): { mode: "c" } {
  return { mode: "c" };
});
export const TakeMode = task(function TakeMode(mode: "a" | "b"): void {});
export const MakeFrozen = task(function MakeFrozen(): { frozen: readonly number[] } {
  return { frozen: [1] };
});
export const TakeMutable = task(function TakeMutable(frozen: number[]): void {});
export const MaybeNumber = task(function MaybeNumber(): { value?: number } {
  return {};
});
export const AsyncText = task(async function AsyncText(): Promise<{ value: string }> {
  return { value: "" };
});
export const MakeMatrix = task(function MakeMatrix(): { matrix: number[][] } {
  return { matrix: [[1]] };
});
export const RowCells = task(function RowCells(line: IterateOn<"matrix", number[]>): { cells: number[] } {
  return { cells: line };
});
export const Cell = task(function Cell(cell: IterateOn<"cells", number>): { value: number } {
  return { value: cell };
});
export const TakeTextGrid = task(function TakeTextGrid(grid: string[][]): void {});
type Row = IterateOn<"rows", number>;
export const EachAliased = task(function EachAliased(row: Row): void {});
export const MakeTextRows = task(function MakeTextRows(): { rows: string[] } {
  return { rows: ["a"] };
});
export const NeedStrs = task(function NeedStrs(counted: string[]): void {});
export const Pair = task(function Pair(item: IterateOn<"items", number>): { b: number; c: string } {
  return { b: item, c: String(item) };
});
export const TakeWrongPairs = task(function TakeWrongPairs(pairs: { b: string; zzz: boolean }[]): void {});
export const MakeMaybes = task(function MakeMaybes(): { items: (number | null)[] } {
  return { items: [1, null] };
});
`;

const COMMANDS = `import { command, map } from "outflow";
import {
  MakeText, MakeNumber, UseNumber, Compute, Sleep, MakeArray, MakeStrings, MakeScalar, Each, EachRow, Scale, TakeStrings,
  A, B, Done, MakeArrayAndText, ScaleEach, MakeModeC, TakeMode, MakeFrozen, TakeMutable, MaybeNumber, AsyncText,
  MakeMatrix, RowCells, Cell, TakeTextGrid, EachAliased, MakeTextRows, NeedStrs, Pair, TakeWrongPairs, MakeMaybes,
} from "./tasks.js";

export const missing_input = command({
  setup() {
    MakeText().pipe(Compute());
  },
});

export const missing_alone = command({
  setup() {
    Compute();
  },
});

export const missing_in_map = command({
  setup() {
    MakeArray().pipe(map({ outputName: "scaled_all" }, () => {
      Each().pipe(Scale());
    }));
  },
});

export const missing_map_entry = command({
  setup() {
    MakeArray().pipe(map({ outputName: "entries" }, () => {
      Each();
      UseNumber();
    }));
  },
});

export const iterate_outside_map = command({
  setup() {
    MakeArray().pipe(Each());
  },
});

export const edge_mismatch = command({
  setup() {
    MakeText().pipe(UseNumber());
  },
});

export const map_result_mismatch = command({
  setup() {
    const mapped = map({ outputName: "results" }, () => {
      Each();
    });
    MakeArray().pipe(mapped).pipe(TakeStrings());
  },
});

export const nested_map_mismatch = command({
  setup() {
    const rows = map({ outputName: "grid" }, () => {
      RowCells().pipe(map({ outputName: "values" }, () => {
        Cell();
      }));
    });
    MakeMatrix().pipe(rows).pipe(TakeTextGrid());
  },
});

export const pass_through_mismatch = command({
  setup() {
    MakeArrayAndText().pipe(map({ outputName: "scaled" }, () => {
      ScaleEach();
    }));
  },
});

export const literal_mismatch = command({
  setup() {
    MakeModeC().pipe(TakeMode());
  },
});

export const readonly_into_mutable = command({
  setup() {
    MakeFrozen().pipe(TakeMutable());
  },
});

export const optional_output = command({
  setup() {
    MaybeNumber().pipe(UseNumber());
  },
});

export const async_mismatch = command({
  setup() {
    AsyncText().pipe(UseNumber());
  },
});

export const bound_unknown = command({
  setup() {
    Sleep({ sekonds: 60 });
  },
});

export const bound_type = command({
  setup() {
    Sleep({ seconds: "60" });
  },
});

export const bound_variable = command({
  setup() {
    const later = { seconds: "later" };
    Sleep(later);
  },
});

export const ambiguous = command({
  setup() {
    const use = UseNumber();
    MakeNumber().pipe(use);
    MakeText().pipe(use);
  },
});

export const cycle = command({
  setup() {
    const a = A();
    const b = B();
    a.pipe(b);
    b.pipe(a);
  },
});

export const cycle_with_tail = command({
  setup() {
    const a = A();
    const b = B();
    b.pipe(Done());
    a.pipe(b);
    b.pipe(a);
  },
});

export const iterate_missing = command({
  setup() {
    MakeNumber().pipe(map({ outputName: "missing" }, () => {
      Each();
    }));
  },
});

export const map_without_upstream = command({
  setup() {
    map({ outputName: "orphan" }, () => {
      Each();
    });
  },
});

export const iterate_not_array = command({
  setup() {
    MakeScalar().pipe(map({ outputName: "scalar" }, () => {
      Each();
    }));
  },
});

export const iterate_element = command({
  setup() {
    MakeStrings().pipe(map({ outputName: "texts" }, () => {
      Each();
    }));
  },
});

export const aliased_element = command({
  setup() {
    MakeTextRows().pipe(map({ outputName: "aliased" }, () => {
      EachAliased();
    }));
  },
});

export const nothing_to_iterate = command({
  setup() {
    MakeNumber().pipe(map({ outputName: "plain" }, () => {
      UseNumber();
    }));
  },
});

export const conflicting_targets = command({
  setup() {
    MakeArray().pipe(map({ outputName: "conflict" }, () => {
      Each();
      EachRow();
    }));
  },
});

export const first_twin = command({
  name: "twin",
  setup() {
    MakeNumber();
  },
});

export const second_twin = command({
  name: "twin",
  setup() {
    MakeNumber();
  },
});

export const reserved_arg = command({
  args: { backend: { type: "string" } },
  setup() {
    MakeNumber();
  },
});

export const broken_setup = command({
  setup() {
    MakeNumber();
    throw new Error("no graph today");
  },
});

export const bad_pipe = command({
  setup() {
    MakeNumber().pipe(UseNumber as never);
  },
});

export const reduce_mismatch = command({
  setup() {
    MakeArray().pipe(map({ outputName: "counted", reduce: (elements) => elements.length }, () => {
      Each();
    })).pipe(NeedStrs());
  },
});

export const element_object_mismatch = command({
  setup() {
    MakeArray().pipe(map({ outputName: "pairs" }, () => {
      Pair();
    })).pipe(TakeWrongPairs());
  },
});

export const nullable_element = command({
  setup() {
    MakeMaybes().pipe(map({ outputName: "strict" }, () => {
      Each();
    }));
  },
});

export const bad_map_options = command({
  setup() {
    MakeArray().pipe(map({ outputName: "none_at_once", simultaneousTasks: 0 }, () => {
      Each();
    }));
    const limits = { outputName: "negative", simultaneousTasks: -1 };
    MakeArray().pipe(map(limits, () => {
      Each();
    }));
    MakeArray().pipe(map({
      outputName: "cpus",
      cpusPerTask: 0,
      simultaneousTasks: 2,
    }, () => {
      Each();
    }));
    MakeArray().pipe(map({ outputName: "half_cpu", cpusPerTask: 0.5 }, () => {
      Each();
    }));
  },
});

export const no_output_name = command({
  setup() {
    MakeArray().pipe(map({} as any, () => {
      Each();
    }));
  },
});
`;

/** A task that is not exported (so it has no identity), used by a command in the same module. */
const HIDDEN = `import { task, command } from "outflow";

const Hidden = task(function Hidden(): void {});

export const uses_hidden = command({
  setup() {
    Hidden();
  },
});
`;

/** Tasks whose signatures the compiler rejects, and a command that uses one of them. */
const BAD = `import { task, command } from "outflow";

export const Destructured = task(function Destructured({ a }: { a: number }): void {});
export const ReturnsNumber = task(function ReturnsNumber(): number {
  return 1;
});
export const TakesCallback = task(function TakesCallback(callback: () => void): void {});
export const MakesSymbol = task(function MakesSymbol(): { id: symbol } {
  return { id: Symbol() };
});

export const uses_invalid = command({
  setup() {
    ReturnsNumber();
  },
});
`;

const FILES = {
  "outflow.config.ts": CONFIG,
  "plugins/p/tasks.ts": TASKS,
  "plugins/p/commands.ts": COMMANDS,
  "plugins/p/hidden.ts": HIDDEN,
  "plugins/p/bad.ts": BAD,
};
const SOURCES: Record<string, string> = FILES;

type Loc = { line: number; column: number };

/** Position of `snippet` in `file` of the fixture, searched from `after` (e.g. `export const missing_input`). */
function at(file: keyof typeof FILES, snippet: string, after?: string): Loc & { file: string } {
  return { file, ...locate(SOURCES[file], snippet, after) };
}
const inCommand = (name: string, snippet: string) => at("plugins/p/commands.ts", snippet, `export const ${name} = command(`);

interface Case {
  title: string;
  code: string;
  site: Loc & { file: string };
  /** Words the message must contain. */
  words: string[];
}

/** Every diagnostic the shared pipeline must produce, and nothing else. */
const CASES: Case[] = [
  // OF101 missing input
  {
    title: "OF101 missing input lists what upstream provides",
    code: "OF101",
    site: inCommand("missing_input", "Compute()"),
    words: ['"some_data"', "Compute", "MakeText", "provides: value"],
  },
  {
    title: "OF101 missing input of a task with no upstream and nothing bound",
    code: "OF101",
    site: inCommand("missing_alone", "Compute()"),
    words: ['"some_data"', "(number)", "no upstream task"],
  },
  {
    title: "OF101 missing input inside a map body (second task)",
    code: "OF101",
    site: inCommand("missing_in_map", "Scale()"),
    words: ['"factor"', "Scale", "upstream Each provides: doubled"],
  },
  {
    title: "OF101 missing input of an entry task of a map body lists what the map's upstream provides",
    code: "OF101",
    site: inCommand("missing_map_entry", "UseNumber()"),
    words: ['"value"', "map(entries)", "provides: items"],
  },
  {
    title: "OF101 IterateOn parameter outside a map says IterateOn only works first in a map body",
    code: "OF101",
    site: inCommand("iterate_outside_map", "Each()"),
    words: ['"item"', "provides: items", "first task of a map() body"],
  },
  {
    title: "OF101 a bound name that does not exist leaves the real input missing",
    code: "OF101",
    site: inCommand("bound_unknown", "Sleep("),
    words: ['"seconds"', "nothing is bound"],
  },
  // OF102 type mismatch on an edge
  {
    title: "OF102 string output into a number parameter shows both types",
    code: "OF102",
    site: inCommand("edge_mismatch", "UseNumber()"),
    words: ['"value"', "MakeText provides string", "UseNumber expects number"],
  },
  {
    title: "OF102 a map's result array into a parameter of the wrong element type",
    code: "OF102",
    site: inCommand("map_result_mismatch", "TakeStrings()"),
    words: ['"results"', "map(results) provides number[]", "expects string[]"],
  },
  {
    title: "OF102 the result of nested maps is an array of arrays",
    code: "OF102",
    site: inCommand("nested_map_mismatch", "TakeTextGrid()"),
    words: ['"grid"', "map(grid) provides number[][]", "expects string[][]"],
  },
  {
    title: "OF102 a value passed through a map into its body has the wrong type",
    code: "OF102",
    site: inCommand("pass_through_mismatch", "ScaleEach()"),
    words: ['"factor"', "passes through string", "expects number"],
  },
  {
    title: "OF102 a string literal outside the expected union",
    code: "OF102",
    site: inCommand("literal_mismatch", "TakeMode()"),
    words: ['provides "c"', 'expects "a" | "b"'],
  },
  {
    title: "OF102 a readonly array into a mutable array parameter",
    code: "OF102",
    site: inCommand("readonly_into_mutable", "TakeMutable()"),
    words: ["provides readonly number[]", "expects number[]"],
  },
  {
    title: "OF102 an optional output into a required parameter",
    code: "OF102",
    site: inCommand("optional_output", "UseNumber()"),
    words: ["provides number | undefined", "expects number"],
  },
  {
    title: "OF102 an async task's output is checked unwrapped from its Promise",
    code: "OF102",
    site: inCommand("async_mismatch", "UseNumber()"),
    words: ["AsyncText provides string", "expects number"],
  },
  // OF103 bound inputs
  {
    title: "OF103 binding a name the task has no input for lists its inputs",
    code: "OF103",
    site: inCommand("bound_unknown", "Sleep("),
    words: ['"sekonds"', "Sleep", "inputs are: seconds"],
  },
  {
    title: "OF103 a bound value of the wrong type points at the property",
    code: "OF103",
    site: inCommand("bound_type", "seconds:"),
    words: ['"seconds"', "Sleep", '"60"', "expected number"],
  },
  {
    title: "OF103 a bound value passed as a variable is checked by its type, at the argument",
    code: "OF103",
    site: inCommand("bound_variable", "later);"),
    words: ['"seconds"', "Sleep", "string", "expected number"],
  },
  // OF104 ambiguous input
  {
    title: "OF104 two upstreams provide the same input: both are named with their types",
    code: "OF104",
    site: inCommand("ambiguous", "UseNumber()"),
    words: ['"value"', "UseNumber", "MakeNumber (number)", "MakeText (string)"],
  },
  // OF105 cycle
  {
    title: "OF105 a cycle names its tasks, at the pipe that closes it",
    code: "OF105",
    site: inCommand("cycle", "pipe(a)"),
    words: ["Cycle", "A → B → A"],
  },
  // OF106-OF109 maps
  {
    title: "OF106 IterateOn target not provided upstream of the map lists what is",
    code: "OF106",
    site: inCommand("iterate_missing", "Each()"),
    words: ['"items"', "map(missing)", "upstream provides: value"],
  },
  {
    title: "OF106 IterateOn target of a map with no upstream task",
    code: "OF106",
    site: inCommand("map_without_upstream", "Each()"),
    words: ['"items"', "map(orphan)", "no upstream task"],
  },
  {
    title: "OF107 IterateOn target that is not an array",
    code: "OF107",
    site: inCommand("iterate_not_array", "map("),
    words: ['"items"', "map(scalar)", "is number, not an array"],
  },
  {
    title: "OF108 IterateOn element type mismatch shows both types",
    code: "OF108",
    site: inCommand("iterate_element", "Each()"),
    words: ['"item"', "Each", "elements of type string", "expects number"],
  },
  {
    title: "OF108 through a re-aliased IterateOn (type Row = IterateOn<\"rows\", number>)",
    code: "OF108",
    site: inCommand("aliased_element", "EachAliased()"),
    words: ['"row"', "elements of type string", "expects number"],
  },
  {
    title: "OF109 map whose body's first task has no IterateOn parameter",
    code: "OF109",
    site: inCommand("nothing_to_iterate", "map("),
    words: ["map(plain)", "nothing to iterate", "IterateOn"],
  },
  {
    title: "OF109 map whose first tasks iterate different targets",
    code: "OF109",
    site: inCommand("conflicting_targets", "map("),
    words: ["map(conflict)", "conflicting targets: items, rows"],
  },
  {
    title: "OF102 a map's result with reduce is the reduce's return type",
    code: "OF102",
    site: inCommand("reduce_mismatch", "NeedStrs()"),
    words: ['"counted"', "NeedStrs", "the reduce of map(counted) provides number", "NeedStrs expects string[]"],
  },
  {
    title: "OF102 the elements of a body whose last task has several outputs are objects of them",
    code: "OF102",
    site: inCommand("element_object_mismatch", "TakeWrongPairs()"),
    words: ['"pairs"', "TakeWrongPairs", "map(pairs) provides { b: number; c: string; }[]", "expects { b: string; zzz: boolean; }[]"],
  },
  {
    title: "OF108 an IterateOn<\"items\", number> over elements that may be null",
    code: "OF108",
    site: inCommand("nullable_element", "Each()"),
    words: ['"item"', "elements of type number | null", "Each expects number"],
  },
  // OF113-OF114 map options
  {
    title: "OF113 simultaneousTasks: 0, at the option",
    code: "OF113",
    site: inCommand("bad_map_options", "simultaneousTasks: 0"),
    words: ["map(none_at_once)", "simultaneousTasks", "positive integer", "got 0"],
  },
  {
    title: "OF113 simultaneousTasks: -1 in a const the map is given, at the option",
    code: "OF113",
    site: inCommand("bad_map_options", "simultaneousTasks: -1"),
    words: ["map(negative)", "simultaneousTasks", "positive integer", "got -1"],
  },
  {
    title: "OF113 cpusPerTask: 0",
    code: "OF113",
    site: inCommand("bad_map_options", "cpusPerTask: 0,"),
    words: ["map(cpus)", "cpusPerTask", "positive integer", "got 0"],
  },
  {
    title: "OF113 cpusPerTask: 0.5",
    code: "OF113",
    site: inCommand("bad_map_options", "cpusPerTask: 0.5"),
    words: ["map(half_cpu)", "cpusPerTask", "positive integer", "got 0.5"],
  },
  {
    title: "OF114 a map without an outputName, at the map",
    code: "OF114",
    site: inCommand("no_output_name", "map("),
    words: ["map()", "outputName"],
  },
  // Command-level checks
  {
    title: "OF110 duplicate command names point at the second and name the first",
    code: "OF110",
    site: inCommand("second_twin", "command("),
    words: ['"twin"', `also defined at plugins/p/commands.ts:${inCommand("first_twin", "command(").line}:${inCommand("first_twin", "command(").column}`],
  },
  {
    title: "OF112 a command arg that reuses a built-in option",
    code: "OF112",
    site: inCommand("reserved_arg", "backend: {"),
    words: ["reserved_arg", '"backend"', "built-in option"],
  },
  {
    title: "OF100 setup() throws: at the throw, with the error's message",
    code: "OF100",
    site: inCommand("broken_setup", "new Error"),
    words: ["broken_setup", "no graph today"],
  },
  {
    title: "OF100 pipe() of a task instead of a node: at the pipe, saying how to fix it",
    code: "OF100",
    site: inCommand("bad_pipe", "pipe(UseNumber"),
    words: ["bad_pipe", "call the task"],
  },
  // Task-level checks
  {
    title: "OF111 a task that is not exported, at its task() call",
    code: "OF111",
    site: at("plugins/p/hidden.ts", "task(function Hidden"),
    words: ["Hidden", "must be exported"],
  },
  {
    title: "OF121 a destructured parameter, at the parameter",
    code: "OF121",
    site: at("plugins/p/bad.ts", "{ a }: { a: number }"),
    words: ["Destructured", "plain named parameter"],
  },
  {
    title: "OF121 a task that returns a non-object, at the return type",
    code: "OF121",
    site: at("plugins/p/bad.ts", "number {", "ReturnsNumber"),
    words: ["ReturnsNumber", "must return an object", "not number"],
  },
  {
    title: "OF120 a function-typed input cannot be validated, at the parameter",
    code: "OF120",
    site: at("plugins/p/bad.ts", "callback: () => void"),
    words: ["TakesCallback", "input callback", "() => void", "unknown"],
  },
  {
    title: "OF120 a symbol-typed output cannot be validated, at the output property",
    code: "OF120",
    site: at("plugins/p/bad.ts", "id: symbol"),
    words: ["MakesSymbol", "output id", "symbol", "unknown"],
  },
  // Config
  {
    title: "OF130 a plugin listed in outflow.config.ts that does not exist, at its name in the list",
    code: "OF130",
    site: at("outflow.config.ts", '"ghost"'),
    words: ['"ghost"', "plugins/ghost/", "does not exist"],
  },
];

function show(list: Diagnostic[]): string {
  return list.map((d) => `  ${d.code} ${d.site.file}:${d.site.line}:${d.site.column} ${d.message}`).join("\n");
}

describe("diagnostics catalogue (one shared failing pipeline)", () => {
  let diagnostics: Diagnostic[];
  beforeAll(async () => {
    diagnostics = await checkPipeline(makePipeline(FILES));
  });

  /** The diagnostics with this code on this line of this file. */
  const onLine = (code: string, site: { file: string; line: number }) =>
    diagnostics.filter((d) => d.code === code && d.site.file === site.file && d.site.line === site.line);

  for (const c of CASES) {
    it(c.title, () => {
      const found = onLine(c.code, c.site);
      expect(found, `expected ${c.code} at ${c.site.file}:${c.site.line}; all diagnostics:\n${show(diagnostics)}`).toHaveLength(1);
      expect(found[0].site.column, found[0].message).toBe(c.site.column);
      for (const word of c.words) expect(found[0].message).toContain(word);
    });
  }

  it("OF105 a cycle with a task downstream of it names only the tasks on the cycle, at a pipe of the cycle", () => {
    const found = diagnostics.filter((d) => d.code === "OF105" && d.site.file === "plugins/p/commands.ts");
    const tail = found.filter((d) => d.site.line > inCommand("cycle_with_tail", "command(").line);
    expect(tail, show(found)).toHaveLength(1);
    expect(tail[0].message).toContain("A → B");
    // Done is downstream of the cycle, not on it.
    expect(tail[0].message).not.toContain("Done");
    const cycleEdges = [inCommand("cycle_with_tail", "pipe(b)"), inCommand("cycle_with_tail", "pipe(a)")];
    expect(cycleEdges.map((e) => `${e.line}:${e.column}`)).toContain(`${tail[0].site.line}:${tail[0].site.column}`);
  });

  it("OF111 a command using a non-exported task: at the call, naming the task as written in the source", () => {
    const found = onLine("OF111", at("plugins/p/hidden.ts", "Hidden();"));
    expect(found, show(diagnostics)).toHaveLength(1);
    expect(found[0].site.column).toBe(at("plugins/p/hidden.ts", "Hidden();").column);
    // Not a bundler-renamed function name such as "Hidden2".
    expect(found[0].message).toMatch(/\bHidden\b/);
  });

  it("a command using a task rejected by OF121 is not told the task is not exported", () => {
    const use = at("plugins/p/bad.ts", "ReturnsNumber();");
    const found = diagnostics.filter((d) => d.site.file === use.file && d.site.line === use.line);
    for (const d of found) expect(d.message, `${d.code}: ${d.message}`).not.toMatch(/not known|exported/);
  });

  it("lists the diagnostics in file, line, column order", () => {
    const key = (d: Diagnostic) => [d.site.file, d.site.line, d.site.column] as const;
    const sorted = [...diagnostics].sort((a, b) => {
      const [fa, la, ca] = key(a);
      const [fb, lb, cb] = key(b);
      return fa < fb ? -1 : fa > fb ? 1 : la - lb || ca - cb;
    });
    expect(show(diagnostics)).toBe(show(sorted));
  });

  it("prints diagnostics in file, line, column order whatever order they come in", () => {
    let printed = "";
    printDiagnostics("/nonexistent", [...diagnostics].reverse(), (t) => (printed += t));
    const heads = printed.split("\n").filter((l) => / - error OF\d+:/.test(l)).map((l) => l.slice(0, l.indexOf(" - error")));
    const expected = diagnostics.map((d) => `${d.site.file}:${d.site.line}:${d.site.column}`);
    expect(heads).toEqual(expected);
  });

  it("reports nothing beyond the catalogue", () => {
    const expected = new Set(CASES.map((c) => `${c.code} ${c.site.file}:${c.site.line}`));
    const hiddenCall = at("plugins/p/hidden.ts", "Hidden();");
    const invalidUse = at("plugins/p/bad.ts", "ReturnsNumber();");
    // Checked by their own tests: the cycles, the call of the hidden task, the use of the invalid task, OF130's position.
    const checkedAbove = (d: Diagnostic) =>
      d.code === "OF130" ||
      (d.code === "OF105" && d.site.file === "plugins/p/commands.ts") ||
      (d.code === "OF111" && d.site.file === hiddenCall.file && d.site.line === hiddenCall.line) ||
      (d.site.file === invalidUse.file && d.site.line === invalidUse.line);
    const unexpected = diagnostics.filter((d) => !expected.has(`${d.code} ${d.site.file}:${d.site.line}`) && !checkedAbove(d));
    expect(unexpected, show(unexpected)).toEqual([]);
  });
});

describe("diagnostics of a module that fails to import", () => {
  const TASKS_THAT_THROW = `import { task } from "outflow";

export const Load = task(function Load(): { table: number[] } {
  return { table: [] };
});

const calibration = process.env.OUTFLOW_TEST_NO_SUCH_VARIABLE;
if (!calibration) throw new Error("calibration file not configured");
`;
  const LOAD_COMMAND = `import { command } from "outflow";
import { Load } from "./tasks.js";

export const load = command({
  setup() {
    Load();
  },
});
`;

  it("OF100 at the throw in the module, with the error's message (not a crash of the compiler)", async () => {
    const root = makePipeline({ "plugins/p/tasks.ts": TASKS_THAT_THROW, "plugins/p/commands.ts": LOAD_COMMAND });
    const diagnostics = await checkPipeline(root);
    const where = locate(TASKS_THAT_THROW, "new Error");
    expect(diagnostics.map((d) => d.code)).toEqual(["OF100"]);
    expect(diagnostics[0].site).toEqual({ file: "plugins/p/tasks.ts", ...where });
    expect(diagnostics[0].message).toContain("calibration file not configured");
  });

  it("OF100 at a process.exit() in a module's top level or in setup(), which would otherwise end the recording silently", async () => {
    const exiting = TASKS_THAT_THROW.replace('if (!calibration) throw new Error("calibration file not configured");', "if (!calibration) process.exit(3);");
    const diagnostics = await checkPipeline(makePipeline({ "plugins/p/tasks.ts": exiting, "plugins/p/commands.ts": LOAD_COMMAND }));
    expect(diagnostics).toEqual([{ code: "OF100", message: "Importing the pipeline modules failed: process.exit(3) was called while the pipeline modules were imported", site: { file: "plugins/p/tasks.ts", ...locate(exiting, "exit(3)") } }]);
    const fine = TASKS_THAT_THROW.replace('if (!calibration) throw new Error("calibration file not configured");', "");
    const inSetup = LOAD_COMMAND.replace("    Load();", "    Load();\n    process.exit(0);");
    const second = await checkPipeline(makePipeline({ "plugins/p/tasks.ts": fine, "plugins/p/commands.ts": inSetup }));
    expect(second).toEqual([{ code: "OF100", message: "setup() of command load threw: process.exit(0) was called while setup() of command load ran", site: { file: "plugins/p/commands.ts", ...locate(inSetup, "exit(0)") } }]);
  });

  it("OF100 without a position when the recording process itself dies, printed as one line", async () => {
    const killing = TASKS_THAT_THROW.replace('if (!calibration) throw new Error("calibration file not configured");', 'if (!calibration) process.kill(process.pid, "SIGKILL");');
    const root = makePipeline({ "plugins/p/tasks.ts": killing, "plugins/p/commands.ts": LOAD_COMMAND });
    const diagnostics = await checkPipeline(root);
    expect(diagnostics).toEqual([{ code: "OF100", message: "Recording the command graphs failed: its process was killed by SIGKILL", site: { file: "", line: 0, column: 0 } }]);
    let printed = "";
    printDiagnostics(root, diagnostics, (t) => (printed += t));
    expect(printed).toBe("error OF100: Recording the command graphs failed: its process was killed by SIGKILL\nFound 1 error.\n");
  });

  it("OF140 where a module does not compile: a syntax error and an import that does not resolve, each at its position", async () => {
    const small = `import { command } from "outflow";\nimport { MakeNumber } from "./tasks.js";\n\nexport const one = command({ setup() { MakeNumber(); } });\n`;
    const broken = small.replace("\nexport const one", '\nexport const other = (;\nexport const one');
    const diagnostics = await checkPipeline(makePipeline({ "plugins/p/tasks.ts": TASKS, "plugins/p/commands.ts": broken }));
    expect(diagnostics).toEqual([{ code: "OF140", message: 'Unexpected ";"', site: { file: "plugins/p/commands.ts", ...locate(broken, ";\nexport const one") } }]);
    const unresolved = small.replace("\nexport const one", '\nimport { Missing } from "./missing.js";\nexport const missing = Missing;\nexport const one');
    const second = await checkPipeline(makePipeline({ "plugins/p/tasks.ts": TASKS, "plugins/p/commands.ts": unresolved }));
    expect(second).toEqual([{ code: "OF140", message: 'Could not resolve "./missing.js"', site: { file: "plugins/p/commands.ts", ...locate(unresolved, '"./missing.js"') } }]);
    // Columns count characters, not UTF-8 bytes.
    const accented = small.replace("\nexport const one", '\nconst label = "ééééé"; export const other = (;\nexport const one');
    const fourth = await checkPipeline(makePipeline({ "plugins/p/tasks.ts": TASKS, "plugins/p/commands.ts": accented }));
    expect(fourth.map((d) => d.site)).toEqual([{ file: "plugins/p/commands.ts", ...locate(accented, ";\nexport const one") }]);
    // Paths in esbuild's words are the pipeline's own, not relative to wherever the build was started.
    const wrongName = small.replace("import { MakeNumber }", "import { MakeNumber, Nope }") + "export const nope = Nope;\n";
    const third = await checkPipeline(makePipeline({ "plugins/p/tasks.ts": TASKS, "plugins/p/commands.ts": wrongName }));
    expect(third.map((d) => d.message)).toEqual(['No matching export in "plugins/p/tasks.ts" for import "Nope"']);
  });

  it("OF141 at each import of outflow that the tsconfig cannot resolve, instead of a map with nothing to iterate", async () => {
    const tasks = `import { task, type IterateOn } from "outflow";\nexport const Gen = task(function Gen(): { xs: number[] } { return { xs: [1, 2] }; });\nexport const Dbl = task(function Dbl(x: IterateOn<"xs", number>): { y: number } { return { y: x * 2 }; });\n`;
    const commands = `import { command, map } from "outflow";\nimport { Gen, Dbl } from "./tasks.js";\nexport const go = command({ setup() { Gen().pipe(map({ outputName: "ys" }, () => { Dbl(); })); } });\n`;
    // "classic" resolution never looks in node_modules; esbuild (which bundles) still finds the package.
    const tsconfig = JSON.stringify({ compilerOptions: { strict: true, module: "esnext", target: "es2022", moduleResolution: "classic" } });
    const diagnostics = await checkPipeline(makePipeline({ "tsconfig.json": tsconfig, "plugins/p/tasks.ts": tasks, "plugins/p/commands.ts": commands }));
    expect(diagnostics.map((d) => [d.code, d.site])).toEqual([
      ["OF141", { file: "plugins/p/commands.ts", ...locate(commands, '"outflow"') }],
      ["OF141", { file: "plugins/p/tasks.ts", ...locate(tasks, '"outflow"') }],
    ]);
    expect(diagnostics[0].message).toBe('TypeScript cannot resolve "outflow" here with tsconfig.json (moduleResolution "classic"), so no task type can be read. Install outflow in this project\'s node_modules, or use the tsconfig.json that `outflow init` writes (moduleResolution "bundler").');
    // A subpath that does not exist, with a setup that resolves outflow: an ordinary unresolved import.
    const typo = commands.replace('import { Gen, Dbl }', 'import { nothing } from "outflow/nope";\nexport const n = nothing;\nimport { Gen, Dbl }');
    const second = await checkPipeline(makePipeline({ "plugins/p/tasks.ts": tasks, "plugins/p/commands.ts": typo }));
    expect(second.map((d) => d.code)).not.toContain("OF141");
    expect(second).toContainEqual(expect.objectContaining({ code: "OF140", site: { file: "plugins/p/commands.ts", ...locate(typo, '"outflow/nope"') } }));
  });

  it("reports outflow.config.ts that does not compile (OF140 at the position), throws (OF100) or lists plugins wrongly (OF130)", async () => {
    const small = `import { command } from "outflow";\nimport { MakeNumber } from "./tasks.js";\n\nexport const one = command({ setup() { MakeNumber(); } });\n`;
    const files = { "plugins/p/tasks.ts": TASKS, "plugins/p/commands.ts": small };
    const good = `import { defineConfig } from "outflow";\n\nexport default defineConfig({ plugins: ["p"] });\n`;
    const broken = good + "export const other = (;\n";
    expect(await checkPipeline(makePipeline({ ...files, "outflow.config.ts": broken }))).toEqual([{ code: "OF140", message: 'Unexpected ";"', site: { file: "outflow.config.ts", ...locate(broken, ";\n", "= (") } }]);
    const throwing = good + 'throw new Error("no config today");\n';
    expect(await checkPipeline(makePipeline({ ...files, "outflow.config.ts": throwing }))).toEqual([{ code: "OF100", message: "Importing outflow.config.ts failed: no config today", site: { file: "outflow.config.ts", line: 1, column: 1 } }]);
    const numbers = good.replace('plugins: ["p"]', "plugins: [1, 2]");
    expect(await checkPipeline(makePipeline({ ...files, "outflow.config.ts": numbers }))).toEqual([{ code: "OF130", message: "plugins must be a list of plugin folder names", site: { file: "outflow.config.ts", line: 1, column: 1 } }]);
  });
});

describe("the results of loops and map bodies are type-checked where they flow", () => {
  const TASKS = `import { task, Skipped, type IterateOn, type SkippedValue } from "outflow";

export const Seed = task(function Seed(): { v: number } {
  return { v: 1 };
});
export const Step = task(function Step(v: number): { out: string } {
  return { out: String(v) };
});
export const TakeOutNumber = task(function TakeOutNumber(out: number): void {});
export const Gen = task(function Gen(): { xs: number[] } {
  return { xs: [1, 2] };
});
export const First = task(function First(x: IterateOn<"xs", number>): { a: number } {
  return { a: x };
});
export const Second = task(function Second(x: IterateOn<"xs", number>): { b: number } {
  return { b: -x };
});
export const TakeNumbers = task(function TakeNumbers(ys: number[]): void {});
export const TakeStrings = task(function TakeStrings(ys: string[]): void {});
export const Elem = task(function Elem(x: IterateOn<"xs", number>): { value: number } {
  return { value: x };
});
export const Label = task(function Label(value: number): { label: string } {
  return { label: String(value) };
});
export const LabelN = task(function LabelN(value: number): { label: number } {
  return { label: value };
});
export const Big = task(function Big(value: number): { big: string } {
  return { big: String(value) };
});
export const Small = task(function Small(value: number): { small: string } {
  return { small: String(value) };
});
export const TakeBoth = task(function TakeBoth(ys: { big: string; small: string }[]): void {});
export const TakeEither = task(function TakeEither(ys: { big?: string; small?: string }[]): void {});
export const MaybeSkip = task(function MaybeSkip(x: IterateOn<"xs", number>): { a: number } | SkippedValue {
  return x > 1 ? Skipped : { a: x };
});
export const TakeAs = task(function TakeAs(ys: { a: number; b: number }[]): void {});
export const GenRecord = task(function GenRecord(): { xs: Record<number, number> } {
  return { xs: { 0: 1 } };
});
export const GenOptional = task(function GenOptional(): { xs?: number[] } {
  return {};
});
export const GenTyped = task(function GenTyped(): { xs: number[] | Float64Array } {
  return { xs: [1] };
});
export const Generic = task(function Generic<T>(x: IterateOn<"xs", T>): { y: T } {
  return { y: x };
});
`;
  const COMMANDS = `import { command, map, loop, ifThenElse, merge } from "outflow";
import {
  Seed, Step, TakeOutNumber, Gen, First, Second, TakeNumbers, TakeStrings, Elem, Label, LabelN, Big, Small, TakeBoth, TakeEither,
  MaybeSkip, TakeAs, GenRecord, GenOptional, GenTyped, Generic,
} from "./tasks.js";

export const loop_output = command({
  setup() {
    Seed().pipe(loop({ iterations: 2 }, () => {
      Step();
    })).pipe(TakeOutNumber());
  },
});

export const two_terminals = command({
  setup() {
    Gen().pipe(map({ outputName: "ys" }, () => {
      First();
      Second();
    })).pipe(TakeNumbers());
  },
});

export const skippable_terminal = command({
  setup() {
    Gen().pipe(map({ outputName: "ys" }, () => {
      MaybeSkip();
      Second();
    })).pipe(TakeAs());
  },
});

export const branches_in_map = command({
  setup() {
    Gen().pipe(map({ outputName: "ys" }, () => {
      const [ifNode, thenNode, elseNode] = ifThenElse((inputs) => (inputs.value as number) > 1);
      Elem().pipe(ifNode);
      thenNode.pipe(Label());
      elseNode.pipe(LabelN());
    })).pipe(TakeStrings());
  },
});

export const then_only_in_map = command({
  setup() {
    Gen().pipe(map({ outputName: "ys" }, () => {
      const [ifNode, thenNode] = ifThenElse((inputs) => (inputs.value as number) > 1);
      Elem().pipe(ifNode);
      thenNode.pipe(Label());
    })).pipe(TakeStrings());
  },
});

export const loop_in_map = command({
  setup() {
    Gen().pipe(map({ outputName: "ys" }, () => {
      Elem().pipe(loop({ iterations: 1 }, () => {
        Label();
      }));
    })).pipe(TakeNumbers());
  },
});

export const merge_names = command({
  setup() {
    const body = () => {
      const [ifNode, thenNode, elseNode] = ifThenElse((inputs) => (inputs.value as number) > 1);
      const join = merge();
      Elem().pipe(ifNode);
      thenNode.pipe(Big()).pipe(join);
      elseNode.pipe(Small()).pipe(join);
    };
    Gen().pipe(map({ outputName: "ys" }, body)).pipe(TakeBoth());
    Gen().pipe(map({ outputName: "ys" }, body)).pipe(TakeEither());
  },
});

export const record_target = command({
  setup() {
    GenRecord().pipe(map({ outputName: "ys" }, () => {
      Elem();
    }));
  },
});

export const optional_target = command({
  setup() {
    GenOptional().pipe(map({ outputName: "ys" }, () => {
      Elem();
    }));
  },
});

export const typed_target = command({
  setup() {
    GenTyped().pipe(map({ outputName: "ys" }, () => {
      Elem();
    }));
  },
});

export const generic = command({
  setup() {
    Gen().pipe(map({ outputName: "ys" }, () => {
      Generic();
    })).pipe(TakeNumbers());
  },
});
`;
  let diagnostics: Diagnostic[];
  beforeAll(async () => {
    diagnostics = await checkPipeline(makePipeline({ "plugins/p/tasks.ts": TASKS, "plugins/p/commands.ts": COMMANDS }));
  });
  const inCmd = (name: string, snippet: string) => ({ file: "plugins/p/commands.ts", ...locate(COMMANDS, snippet, `export const ${name} = command(`) });
  const mismatch = (name: string, snippet: string, message: string) => ({ code: "OF102", message, site: inCmd(name, snippet) });

  it("reports each mistake once, at its place, and nothing else", () => {
    expect(diagnostics).toEqual([
      mismatch("loop_output", "TakeOutNumber()", 'Type mismatch on input "out" of task TakeOutNumber: loop() provides string, TakeOutNumber expects number'),
      mismatch("two_terminals", "TakeNumbers()", 'Type mismatch on input "ys" of task TakeNumbers: map(ys) provides { a: number; b: number; }[], TakeNumbers expects number[]'),
      // MaybeSkip may return Skipped: its `a` is missing from those elements.
      mismatch("skippable_terminal", "TakeAs()", 'Type mismatch on input "ys" of task TakeAs: map(ys) provides { a?: number; b: number; }[], TakeAs expects { a: number; b: number; }[]'),
      mismatch("branches_in_map", "TakeStrings()", 'Type mismatch on input "ys" of task TakeStrings: map(ys) provides (string | number)[], TakeStrings expects string[]'),
      // The else node is a terminal too: its elements are { value }.
      mismatch("then_only_in_map", "TakeStrings()", 'Type mismatch on input "ys" of task TakeStrings: map(ys) provides { value?: number; label?: string; }[], TakeStrings expects string[]'),
      mismatch("loop_in_map", "TakeNumbers()", 'Type mismatch on input "ys" of task TakeNumbers: map(ys) provides string[], TakeNumbers expects number[]'),
      mismatch("merge_names", "TakeBoth()", 'Type mismatch on input "ys" of task TakeBoth: map(ys) provides { big?: string; small?: string; }[], TakeBoth expects { big: string; small: string; }[]'),
      { code: "OF107", message: 'IterateOn target "xs" of map(ys) is Record<number, number>, not an array', site: inCmd("record_target", "map(") },
      {
        code: "OF107",
        message: 'IterateOn target "xs" of map(ys) is number[] | undefined, not an array (it may be undefined or null: an optional output, say, is undefined when not returned)',
        site: inCmd("optional_target", "map("),
      },
      {
        code: "OF120",
        message: "task Generic is generic (<T>): a type parameter cannot be validated at run time; give its inputs and outputs concrete types (or unknown)",
        site: { file: "plugins/p/tasks.ts", ...locate(TASKS, "task(function Generic") },
      },
    ]);
  });
});

describe("a setup() that never returns", () => {
  const TASKS = `import { task } from "outflow";

export const Gen = task(function Gen(): { xs: number[] } {
  return { xs: [1] };
});
export const TakeYs = task(function TakeYs(ys: number[]): void {});
`;
  const COMMANDS = `import { command } from "outflow";
import { Gen, TakeYs } from "./tasks.js";

export const before = command({
  setup() {
    Gen().pipe(TakeYs());
  },
});

export const spin = command({
  setup() {
    for (;;) {}
  },
});

export const after = command({
  setup() {
    Gen().pipe(TakeYs());
  },
});
`;

  it("is named at its command, and the other commands are still checked", async () => {
    const previous = process.env.OUTFLOW_RECORD_TIMEOUT_MS;
    process.env.OUTFLOW_RECORD_TIMEOUT_MS = "1500";
    let diagnostics: Diagnostic[];
    try {
      diagnostics = await checkPipeline(makePipeline({ "plugins/p/tasks.ts": TASKS, "plugins/p/commands.ts": COMMANDS }));
    } finally {
      if (previous === undefined) delete process.env.OUTFLOW_RECORD_TIMEOUT_MS;
      else process.env.OUTFLOW_RECORD_TIMEOUT_MS = previous;
    }
    const at = (name: string, snippet: string) => ({ file: "plugins/p/commands.ts", ...locate(COMMANDS, snippet, `export const ${name} = command(`) });
    const missing = (name: string) => ({ code: "OF101", message: 'Task TakeYs needs input "ys" (number[]) but nothing provides it; upstream Gen provides: xs', site: at(name, "TakeYs()") });
    expect(diagnostics).toEqual([
      missing("before"),
      { code: "OF100", message: "setup() of command spin did not return within 1.5 s (an endless loop?); its graph is not checked", site: at("spin", "command(") },
      missing("after"),
    ]);
  }, 30_000);
});

describe("a map's reduce", () => {
  const tasks = `import { task, type IterateOn } from "outflow";

export const Gen = task(function Gen(): { xs: number[] } {
  return { xs: [1, 2, 3] };
});
export const Sq = task(function Sq(x: IterateOn<"xs", number>): { y: number } {
  return { y: x * x };
});
export const Show = task(function Show(total: number): void {
  console.log(total);
});
`;
  const commands = `import { command, map } from "outflow";
import { Gen, Sq, Show } from "./tasks.js";

// The elements are the numbers themselves (one output name): a reduce over { y } objects is a mistake.
export const wrong_shape = command({
  setup() {
    Gen().pipe(map({ outputName: "total", reduce: (els: { y: number }[]) => els.reduce((a, e) => a + e.y, 0) }, () => { Sq(); })).pipe(Show());
  },
});

// A typed reduce that fits, and an untyped one: no diagnostic.
export const typed = command({
  setup() {
    Gen().pipe(map({ outputName: "total", reduce: (ys: number[]) => ys.reduce((a, b) => a + b, 0) }, () => { Sq(); })).pipe(Show());
  },
});
export const untyped = command({
  setup() {
    Gen().pipe(map({ outputName: "total", reduce: (ys) => ys.length }, () => { Sq(); })).pipe(Show());
  },
});
`;
  let diagnostics: Diagnostic[];
  beforeAll(async () => {
    diagnostics = await checkPipeline(makePipeline({ "plugins/p/tasks.ts": tasks, "plugins/p/commands.ts": commands }));
  }, 120_000);

  it("OF102 at the reduce when the elements do not fit what it takes, and nothing for one that fits", () => {
    expect(diagnostics).toEqual([
      { code: "OF102", message: "Type mismatch on the reduce of map(total): it takes { y: number; }[], the elements are number[]", site: { file: "plugins/p/commands.ts", ...locate(commands, "reduce: (els") } },
    ]);
  });
});
