/**
 * Pipelines that MUST build without diagnostics: the compiler's checks must not reject what TypeScript accepts
 * (subtypes, literals, readonly arrays, defaults, async and void tasks, maps, ...). One shared pipeline with one
 * command per feature; each test asserts that no diagnostic falls in its commands or tasks, and that the feature
 * was really recorded. Then a real build (check: false) of the same pipeline: generated/manifest.json and dist/.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CommandSpec, GraphSpec, Manifest } from "../../contract/manifest.js";
import { build, type BuildResult } from "../../compiler/build.js";
import { buildPipeline, locate, makePipeline, removePipelines, repoRoot } from "../helpers/pipeline-fixture.js";
import { runBundle } from "../helpers/run-bundle.js";

afterAll(removePipelines);

const TASKS = `import { task, logger, Skipped, type IterateOn } from "outflow";

type Row = IterateOn<"rows", number>;

export const MakePair = task(function MakePair(): { pair: { a: number; b: string } } {
  return { pair: { a: 1, b: "x" } };
});
export const TakeA = task(function TakeA(pair: { a: number }): void {});

export const MakeMode = task(function MakeMode(): { mode: "a" } {
  return { mode: "a" };
});
export const TakeMode = task(function TakeMode(mode: "a" | "b"): void {});

export const MakeList = task(function MakeList(): { list: number[] } {
  return { list: [1, 2] };
});
export const MakeFrozen = task(function MakeFrozen(): { frozen: readonly number[] } {
  return { frozen: [1, 2] };
});
export const TakeReadonly = task(function TakeReadonly(list: readonly number[]): void {});
export const EachFrozen = task(function EachFrozen(x: IterateOn<"frozen", number>): { y: number } {
  return { y: x };
});

export const Defaults = task(function Defaults(count = 3, label?: string, flag: boolean = false): void {});

export const Sleep = task(function Sleep(seconds: number): void {});

export const Fetch = task(async function Fetch(): Promise<{ body: string }> {
  return { body: "" };
});
export const Parse = task(async (body: string) => ({ length: body.length }));
export const Report = task(function Report(length: number): void {});

export const Log = task(function Log(): void {});
export const Quiet = task(async function Quiet(): Promise<void> {});

export const Source = task(function Source(): { x: number } {
  return { x: 1 };
});
export const Left = task(function Left(x: number): { left: number } {
  return { left: x };
});
export const Right = task(function Right(x: number): { right: string } {
  return { right: String(x) };
});
export const Join = task(function Join(left: number, right: string): void {});

export const MakeRows = task(function MakeRows(): { rows: number[] } {
  return { rows: [1, 2, 3] };
});
export const EachRow = task(function EachRow(row: Row): { doubled: number } {
  return { doubled: row * 2 };
});
export const Sum = task(function Sum(doubled_all: number[]): { total: number } {
  return { total: doubled_all.reduce((a, b) => a + b, 0) };
});

export const MakeMatrix = task(function MakeMatrix(): { matrix: number[][] } {
  return { matrix: [[1, 2], [3]] };
});
export const RowCells = task(function RowCells(line: IterateOn<"matrix", number[]>): { cells: number[] } {
  return { cells: line };
});
export const Cell = task(function Cell(cell: IterateOn<"cells", number>): { value: number } {
  return { value: cell + 1 };
});
export const Grid = task(function Grid(grid: number[][]): void {});

export const Extra = task(function Extra(x: number): void {});

export const Show = task(function Show(out: unknown): void {});
export const ShowList = task(function ShowList(grid: unknown[]): void {});
export const ShowEither = task(function ShowEither(doubled_all: number | unknown[]): void {});

export const Pair = task(function Pair(row: Row): { b: number; c: string } {
  return { b: row, c: String(row) };
});
export const TakePairs = task(function TakePairs(pairs: { b: number; c: string }[]): void {});
export const Half = task(function Half(doubled: number): { half: number } {
  return { half: doubled / 2 };
});
export const Label = task(function Label(doubled: number): { label: string } {
  return { label: String(doubled) };
});
export const TakeHalves = task(function TakeHalves(both: readonly { half: number; label: string }[]): void {});
export const TakeNumbers = task(function TakeNumbers(halves: number[]): void {});
export const TakeTotal = task(function TakeTotal(total: number): void {});
export const TakeLoose = task(function TakeLoose(loose: string[]): void {});

export const MakeMaybe = task(function MakeMaybe(): { maybe: (number | null)[] } {
  return { maybe: [1, null, 3] };
});
export const Fill = task(function Fill(maybe: IterateOn<"maybe", number | null>): { filled: number } {
  return { filled: maybe ?? -1 };
});
export const ShowFilled = task(function ShowFilled(filled_all: number[]): void {
  logger.info("FILLED " + JSON.stringify(filled_all));
});
export const MakeWeird = task(function MakeWeird(): { weird: unknown[] } {
  return { weird: [1, "a", null] };
});
export const Kind = task(function Kind(weird: IterateOn<"weird", unknown>): { kind: string } {
  return { kind: weird === null ? "null" : typeof weird };
});
export const ShowKinds = task(function ShowKinds(kinds: string[]): void {
  logger.info("KINDS " + JSON.stringify(kinds));
});
export const MakeHoles = task(function MakeHoles(): { holes: (number | undefined)[] } {
  return { holes: [1, undefined, 3] };
});
export const MakeHole = task(function MakeHole(): { hole: number | undefined } {
  return { hole: undefined };
});
export const OptionalEach = task(function OptionalEach(hole?: IterateOn<"holes", number>): { y: number } {
  return { y: hole ?? -1 };
});
export const DefaultEach = task(function DefaultEach(hole: IterateOn<"holes", number> = 0): { y: number } {
  return { y: hole };
});
export const DefaultPlain = task(function DefaultPlain(hole: number = 7): void {});
export const ShowYs = task(function ShowYs(ys: number[]): void {
  logger.info("YS " + JSON.stringify(ys));
});
export const Renamed = task(function Renamed(doubled: number): { label: string } {
  return { label: "n" + doubled };
});
export const TakeLabels = task(function TakeLabels(labels: string[]): void {});
export const TakeHalfObjects = task(function TakeHalfObjects(objects: { half?: number; doubled?: number }[]): void {});
export const High = task(function High(doubled: number): { x: number } {
  return { x: doubled * 100 };
});
export const Low = task(function Low(doubled: number): { x: number } {
  return { x: doubled };
});
export const Mid = task(function Mid(doubled: number): { x: number } {
  return { x: -doubled };
});
export const Side = task(function Side(doubled: number): { y: number } {
  return { y: doubled + 1 };
});
export const ShowXYs = task(function ShowXYs(xys: { x: number; y: number }[]): void {
  logger.info("XYS " + JSON.stringify(xys));
});
export const UseXY = task(function UseXY(x: number, y: number): void {
  logger.info("XY " + x + " " + y);
});
export const SkipRecord = task(function SkipRecord(doubled: number): Record<string, unknown> {
  return doubled > 2 ? Skipped : { seen: doubled };
});
export const SkipEmpty = task(function SkipEmpty(doubled: number): {} {
  return doubled > 2 ? {} : Skipped;
});
export default task(function Dflt(row: Row): { plus: number } {
  return { plus: row + 100 };
});
export const GiveAB = task(function GiveAB(): { a: number; b: number } {
  return { a: 1, b: 2 };
});
export const TakeAC = task(function TakeAC(a: number, c: number): { ac: number } {
  logger.info("AC " + a + " " + c);
  return { ac: a + c };
});
export const ShowB = task(function ShowB(b: number, ac: number): void {
  logger.info("B " + b + " " + ac);
});
export const DefaultA = task(function DefaultA(a = 100): void {
  logger.info("DEFAULT_A " + a);
});
export const GiveXsFactor = task(function GiveXsFactor(): { xs: number[]; factor: number } {
  return { xs: [1, 2], factor: 2 };
});
export const DoubleX = task(function DoubleX(x: IterateOn<"xs", number>): { y: number } {
  return { y: 2 * x };
});
export const TimesFactor = task(function TimesFactor(y: number, factor: number): { z: number } {
  return { z: y * factor };
});
export const ShowZs = task(function ShowZs(zs: number[]): void {
  logger.info("ZS " + JSON.stringify(zs));
});
`;

const COMMANDS = `import { command, map, loop, pipe, ifThenElse, merge } from "outflow";
import {
  TakeNumbers, MakePair, TakeA, MakeMode, TakeMode, MakeList, MakeFrozen, TakeReadonly, EachFrozen, Defaults, Sleep, Fetch, Parse, Report,
  Log, Quiet, Source, Left, Right, Join, MakeRows, EachRow, Sum, MakeMatrix, RowCells, Cell, Grid, Extra,
  Show, ShowList, ShowEither, Pair, TakePairs, Half, Label, TakeHalves, TakeTotal, TakeLoose,
  MakeMaybe, Fill, ShowFilled, MakeWeird, Kind, ShowKinds, MakeHoles, MakeHole, OptionalEach, DefaultEach, DefaultPlain, ShowYs,
  Renamed, TakeLabels, TakeHalfObjects, High, Low, Mid, Side, ShowXYs, UseXY, SkipRecord, SkipEmpty,
  GiveAB, TakeAC, ShowB, DefaultA, GiveXsFactor, DoubleX, TimesFactor, ShowZs,
} from "./tasks.js";
import Dflt from "./tasks.js";

export const subtype = command({
  setup() {
    MakePair().pipe(TakeA());
  },
});

export const literal = command({
  setup() {
    MakeMode().pipe(TakeMode());
  },
});

export const readonly_arrays = command({
  setup() {
    MakeList().pipe(TakeReadonly());
    MakeFrozen().pipe(map({ outputName: "ys" }, () => {
      EachFrozen();
    }));
  },
});

export const defaults = command({
  setup() {
    Defaults();
  },
});

export const bound = command({
  setup() {
    Sleep({ seconds: 60 });
  },
});

export const async_tasks = command({
  setup() {
    Fetch().pipe(Parse()).pipe(Report());
  },
});

export const void_tasks = command({
  setup() {
    Log().pipe(Quiet()).pipe(Defaults());
  },
});

export const fan = command({
  setup() {
    const source = Source();
    const join = Join();
    source.pipe(Left()).pipe(join);
    source.pipe(Right()).pipe(join);
  },
});

export const free_pipe = command({
  setup() {
    pipe(Source(), Left(), Log());
  },
});

export const mapped = command({
  description: "Doubles every row and sums them",
  setup() {
    const doubled = map({ outputName: "doubled_all", cpusPerTask: 2 }, () => {
      EachRow();
    });
    MakeRows().pipe(doubled).pipe(Sum());
  },
});

export const nested_maps = command({
  setup() {
    const rows = map({ outputName: "grid" }, () => {
      RowCells().pipe(map({ outputName: "values" }, () => {
        Cell();
      }));
    });
    MakeMatrix().pipe(rows).pipe(Grid());
  },
});

export const into_unknown = command({
  setup() {
    MakeRows().pipe(map({ outputName: "out" }, () => {
      EachRow();
    })).pipe(Show());
    MakeMatrix().pipe(map({ outputName: "grid" }, () => {
      RowCells().pipe(map({ outputName: "values" }, () => {
        Cell();
      }));
    })).pipe(ShowList());
    MakeRows().pipe(map({ outputName: "doubled_all" }, () => {
      EachRow();
    })).pipe(ShowEither());
  },
});

export const branching_body = command({
  setup() {
    // Two terminals, one per branch, of one name: an element is that name's value.
    MakeRows().pipe(map({ outputName: "halves" }, () => {
      const [ifNode, thenNode, elseNode] = ifThenElse((v) => (v.doubled as number) > 2);
      EachRow().pipe(ifNode);
      thenNode.pipe(Half());
      elseNode.pipe(Half());
    })).pipe(TakeNumbers());
    // Half, and the else node (which passes on { doubled }): an element has one of the two names.
    MakeRows().pipe(map({ outputName: "objects" }, () => {
      const [ifNode, thenNode] = ifThenElse((v) => (v.doubled as number) > 2);
      EachRow().pipe(ifNode);
      thenNode.pipe(Half());
    })).pipe(TakeHalfObjects());
    // A merge() of branches giving the same name: that name, the union of their types.
    MakeRows().pipe(map({ outputName: "labels" }, () => {
      const [ifNode, thenNode, elseNode] = ifThenElse((v) => (v.doubled as number) > 2);
      const join = merge();
      EachRow().pipe(ifNode);
      thenNode.pipe(Label()).pipe(join);
      elseNode.pipe(Renamed()).pipe(join);
    })).pipe(TakeLabels());
  },
});

export const covered_branches = command({
  db: false,
  setup() {
    // x from the then side and from the else side of one if node: always there, like y.
    MakeRows().pipe(map({ outputName: "xys" }, () => {
      const [ifNode, thenNode, elseNode] = ifThenElse((v) => (v.doubled as number) > 2);
      const doubled = EachRow();
      doubled.pipe(ifNode);
      thenNode.pipe(High());
      elseNode.pipe(Low());
      doubled.pipe(Side());
    })).pipe(ShowXYs());
    // The same with a nested if node on the then side.
    MakeRows().pipe(map({ outputName: "xys" }, () => {
      const [ifNode, thenNode, elseNode] = ifThenElse((v) => (v.doubled as number) > 2);
      const [innerIf, innerThen, innerElse] = ifThenElse((v) => (v.doubled as number) > 4);
      const doubled = EachRow();
      doubled.pipe(ifNode);
      thenNode.pipe(innerIf);
      innerThen.pipe(High());
      innerElse.pipe(Mid());
      elseNode.pipe(Low());
      doubled.pipe(Side());
    })).pipe(ShowXYs());
    // A loop's outputs: x is a number, not number | undefined.
    MakeRows().pipe(map({ outputName: "ignored" }, () => {
      EachRow().pipe(loop({ iterations: 1 }, () => {
        const [ifNode, thenNode, elseNode] = ifThenElse((v) => (v.doubled as number) > 2);
        thenNode.pipe(High());
        elseNode.pipe(Low());
        Side();
      })).pipe(UseXY());
    }));
  },
});

export const skip_untyped = command({
  db: false,
  setup() {
    // Record<string, unknown> and {} let a task return Skipped: the merge() has a branch that may be skipped.
    MakeRows().pipe(map({ outputName: "rows_seen" }, () => {
      const join = merge();
      const doubled = EachRow();
      doubled.pipe(SkipRecord()).pipe(join);
      doubled.pipe(SkipEmpty()).pipe(join);
    }));
  },
});

export const optional_undefined = command({
  db: false,
  setup() {
    MakeHoles().pipe(map({ outputName: "ys" }, () => {
      OptionalEach();
    })).pipe(ShowYs());
    MakeHoles().pipe(map({ outputName: "ys" }, () => {
      DefaultEach();
    })).pipe(ShowYs());
    // Not MakeHoles: a hole it gave too would reach the maps' first tasks beside their element (OF104).
    MakeHole().pipe(DefaultPlain());
  },
});

export const default_export = command({
  db: false,
  setup() {
    MakeRows().pipe(map({ outputName: "ys" }, () => {
      Dflt();
    })).pipe(ShowYs());
  },
});

export const element_objects = command({
  setup() {
    MakeRows().pipe(map({ outputName: "pairs" }, () => {
      Pair();
    })).pipe(TakePairs());
    MakeRows().pipe(map({ outputName: "both" }, () => {
      const doubled = EachRow();
      doubled.pipe(Half());
      doubled.pipe(Label());
    })).pipe(TakeHalves());
  },
});

export const reduced = command({
  setup() {
    MakeRows().pipe(map({ outputName: "total", reduce: (elements) => elements.length }, () => {
      EachRow();
    })).pipe(TakeTotal());
    MakeRows().pipe(map({ outputName: "loose", reduce: (elements): any => elements }, () => {
      EachRow();
    })).pipe(TakeLoose());
  },
});

export const nullable_elements = command({
  db: false,
  setup() {
    MakeMaybe().pipe(map({ outputName: "filled_all" }, () => {
      Fill();
    })).pipe(ShowFilled());
    MakeWeird().pipe(map({ outputName: "kinds" }, () => {
      Kind();
    })).pipe(ShowKinds());
  },
});

export const group = command({
  description: "A group of commands",
  invokable: false,
  subcommands: {
    first: command({
      setup() {
        Log();
      },
    }),
    second_one: command({
      name: "second",
      setup() {
        Quiet();
      },
    }),
  },
});

export const renamedCommand = command({
  name: "custom-name",
  setup() {
    Log();
  },
});

export const with_flag = command({
  args: {
    extra: { type: "boolean", default: true, description: "Also run Extra" },
    level: { type: "integer", default: 2 },
  },
  setup({ args }) {
    const source = Source();
    if (args.extra) source.pipe(Extra());
  },
});

export const without_flag = command({
  args: { extra: { type: "boolean", default: false } },
  setup({ args }) {
    const source = Source();
    if (args.extra) source.pipe(Extra());
  },
});

export const bound_alongside = command({
  setup() {
    // GiveAB's b reaches TakeAC, which neither reads nor binds it; nothing else gives c. GiveAB's b does not
    // reach ShowB (TakeAC, in between, gives only ac): ShowB binds its own.
    GiveAB().pipe(TakeAC({ c: 5 })).pipe(ShowB({ b: 7 }));
    // A default is no provider: the upstream a wins over it; bound with nothing upstream, the bound value.
    GiveAB().pipe(DefaultA());
    DefaultA({ a: 3 });
    // The map passes factor through to its first task only: TimesFactor, after it, binds its own.
    GiveXsFactor().pipe(map({ outputName: "zs" }, () => {
      DoubleX().pipe(TimesFactor({ factor: 10 }));
    })).pipe(ShowZs());
  },
});
`;

const TASKS_FILE = "plugins/p/tasks.ts";
const COMMANDS_FILE = "plugins/p/commands.ts";

/** Lines [from, to] of the declaration starting `export const <name> =` (up to the next top-level export). */
function region(source: string, name: string): [number, number] {
  const from = locate(source, `export const ${name} =`).line;
  const lines = source.split("\n");
  let to = from;
  while (to < lines.length && !lines[to].startsWith("export const ")) to++;
  return [from, to];
}

describe("valid pipelines build without diagnostics", () => {
  let root: string;
  let result: BuildResult;
  beforeAll(async () => {
    root = makePipeline({ "plugins/p/tasks.ts": TASKS, "plugins/p/commands.ts": COMMANDS });
    // A check first: a failure of the bundling step (below) must not hide what these tests check.
    result = await build({ root, outflowRoot: repoRoot, check: true });
  });

  function command(path: string[]): CommandSpec {
    const found = result.manifest?.commands.find((c) => c.path.join(" ") === path.join(" "));
    if (!found) throw new Error(`command ${path.join(" ")} not in the manifest: ${result.manifest?.commands.map((c) => c.path.join(" ")).join(", ")}`);
    return found;
  }
  const taskNames = (graph: GraphSpec | null) => (graph?.nodes ?? []).map((n) => (n.kind === "map" ? `map(${n.map!.options.outputName})` : n.task!.split("#")[1]));

  /** No diagnostic in these commands' or tasks' declarations. */
  function expectClean(commands: string[], tasks: string[]) {
    const regions = [
      ...commands.map((c) => ({ file: COMMANDS_FILE, lines: region(COMMANDS, c) })),
      ...tasks.map((t) => ({ file: TASKS_FILE, lines: region(TASKS, t) })),
    ];
    const inside = result.diagnostics.filter((d) => regions.some((r) => r.file === d.site.file && d.site.line >= r.lines[0] && d.site.line <= r.lines[1]));
    expect(inside.map((d) => `${d.code} ${d.site.file}:${d.site.line}:${d.site.column} ${d.message}`)).toEqual([]);
  }

  it("a subtype output ({ a: number; b: string }) into a { a: number } parameter", () => {
    expectClean(["subtype"], ["MakePair", "TakeA"]);
    expect(taskNames(command(["subtype"]).graph)).toEqual(["MakePair", "TakeA"]);
  });

  it('a literal output ("a") into a union parameter ("a" | "b")', () => {
    expectClean(["literal"], ["MakeMode", "TakeMode"]);
    expect(command(["literal"]).graph?.edges).toHaveLength(1);
  });

  it("readonly arrays: number[] into readonly number[], and a map iterating a readonly array", () => {
    expectClean(["readonly_arrays"], ["MakeList", "MakeFrozen", "TakeReadonly", "EachFrozen"]);
    expect(taskNames(command(["readonly_arrays"]).graph)).toEqual(["MakeList", "TakeReadonly", "MakeFrozen", "map(ys)"]);
  });

  it("parameter defaults and optional parameters with nothing upstream", () => {
    expectClean(["defaults"], ["Defaults"]);
    const spec = result.manifest!.tasks["plugins/p/tasks.ts#Defaults"];
    expect(spec.inputs.map((i) => [i.name, i.optional, i.hasDefault])).toEqual([
      ["count", true, true],
      ["label", true, false],
      ["flag", true, true],
    ]);
  });

  it("a bound constant: Sleep({ seconds: 60 })", () => {
    expectClean(["bound"], ["Sleep"]);
    expect(command(["bound"]).graph?.nodes[0].bound).toEqual(["seconds"]);
  });

  it("async tasks (a Promise of outputs, also from an arrow function)", () => {
    expectClean(["async_tasks"], ["Fetch", "Parse", "Report"]);
    expect(result.manifest!.tasks["plugins/p/tasks.ts#Parse"]).toMatchObject({ async: true, outputs: [{ name: "length", type: "number" }] });
    expect(result.manifest!.tasks["plugins/p/tasks.ts#Fetch"]).toMatchObject({ async: true, outputs: [{ name: "body", type: "string" }] });
  });

  it("void tasks (sync and async) upstream of a task with only optional inputs", () => {
    expectClean(["void_tasks"], ["Log", "Quiet"]);
    expect(result.manifest!.tasks["plugins/p/tasks.ts#Quiet"]).toMatchObject({ async: true, outputs: [] });
    expect(taskNames(command(["void_tasks"]).graph)).toEqual(["Log", "Quiet", "Defaults"]);
  });

  it("fan-out and fan-in", () => {
    expectClean(["fan"], ["Source", "Left", "Right", "Join"]);
    const graph = command(["fan"]).graph!;
    expect(taskNames(graph)).toEqual(["Source", "Join", "Left", "Right"]);
    expect(graph.edges.map((e) => [e.from, e.to])).toEqual([[0, 2], [2, 1], [0, 3], [3, 1]]);
  });

  it("the free pipe(a, b, c): edges at the pipe( call", () => {
    expectClean(["free_pipe"], []);
    const graph = command(["free_pipe"]).graph!;
    const site = { file: COMMANDS_FILE, ...locate(COMMANDS, "pipe(Source()") };
    expect(graph.edges).toEqual([
      { from: 0, to: 1, site },
      { from: 1, to: 2, site },
    ]);
  });

  it('a re-aliased IterateOn (type Row = IterateOn<"rows", number>) and a map result feeding number[]', () => {
    expectClean(["mapped"], ["MakeRows", "EachRow", "Sum"]);
    expect(result.manifest!.tasks["plugins/p/tasks.ts#EachRow"].inputs[0].iterateOn).toEqual({ target: "rows", elementType: "number" });
  });

  it("nested maps whose result (number[][]) feeds a number[][] parameter", () => {
    expectClean(["nested_maps"], ["MakeMatrix", "RowCells", "Cell", "Grid"]);
    const outer = command(["nested_maps"]).graph!.nodes[0];
    expect(taskNames(outer.map!.body)).toEqual(["RowCells", "map(values)"]);
    expect(taskNames(outer.map!.body.nodes[1].map!.body)).toEqual(["Cell"]);
  });

  it("a map's result into unknown, a nested map's into unknown[], and into a union with an array member", () => {
    expectClean(["into_unknown"], ["Show", "ShowList", "ShowEither"]);
    expect(taskNames(command(["into_unknown"]).graph)).toEqual(["MakeRows", "map(out)", "Show", "MakeMatrix", "map(grid)", "ShowList", "MakeRows", "map(doubled_all)", "ShowEither"]);
  });

  it("element results of several outputs are objects of them: one task's, and two terminal tasks' together", () => {
    expectClean(["element_objects"], ["Pair", "TakePairs", "Half", "Label", "TakeHalves"]);
  });

  it("a map body whose terminals are on different branches: the one name they give, an object with optional names, a merge() of one name", () => {
    expectClean(["branching_body"], ["TakeNumbers", "Renamed", "TakeLabels", "TakeHalfObjects"]);
  });

  it("a name the then side and the else side of one if node both give is always there (a map element's property, a loop's output), nested ifs too", () => {
    expectClean(["covered_branches"], ["High", "Low", "Mid", "Side", "ShowXYs", "UseXY"]);
  });

  it("a task returning Record<string, unknown> or {} may return Skipped: a merge() of two such branches is not refused", () => {
    expectClean(["skip_untyped"], ["SkipRecord", "SkipEmpty"]);
    expect(result.manifest!.tasks["plugins/p/tasks.ts#SkipRecord"].skippable).toBe(true);
    expect(result.manifest!.tasks["plugins/p/tasks.ts#SkipEmpty"].skippable).toBe(true);
    expect(result.manifest!.tasks["plugins/p/tasks.ts#Half"].skippable).toBe(false);
  });

  it("an optional or defaulted parameter takes T | undefined (an IterateOn element, or an edge)", () => {
    expectClean(["optional_undefined"], ["MakeHoles", "MakeHole", "OptionalEach", "DefaultEach", "DefaultPlain", "ShowYs"]);
  });

  it("a default-exported task: its id says #default, its name is the function's", () => {
    expectClean(["default_export"], []);
    expect(result.manifest!.tasks["plugins/p/tasks.ts#default"]).toMatchObject({ id: "plugins/p/tasks.ts#default", name: "Dflt", inputs: [{ name: "row" }] });
    expect(taskNames(command(["default_export"]).graph!.nodes.find((n) => n.kind === "map")!.map!.body)).toEqual(["default"]);
  });

  it("a map with reduce provides the reduce's return type; a reduce returning any is not checked", () => {
    expectClean(["reduced"], ["TakeTotal", "TakeLoose"]);
    expect(command(["reduced"]).graph!.nodes.filter((n) => n.map?.customReduce)).toHaveLength(2);
  });

  it("IterateOn over elements that may be null, and over unknown[]", () => {
    expectClean(["nullable_elements"], ["MakeMaybe", "Fill", "ShowFilled", "MakeWeird", "Kind", "ShowKinds"]);
    expect(result.manifest!.tasks["plugins/p/tasks.ts#Fill"].inputs[0].iterateOn).toEqual({ target: "maybe", elementType: "number | null" });
    expect(result.manifest!.tasks["plugins/p/tasks.ts#Kind"].inputs[0].iterateOn).toEqual({ target: "weird", elementType: "unknown" });
  });

  it("subcommands of a non-invokable group, one with a name override", () => {
    expectClean(["group"], []);
    expect(command(["group"])).toMatchObject({ invokable: false, graph: null, subcommands: ["first", "second"] });
    expect(command(["group", "first"])).toMatchObject({ invokable: true, source: "plugins/p/commands.ts#group/first" });
    expect(command(["group", "second"])).toMatchObject({ name: "second", source: "plugins/p/commands.ts#group/second_one" });
  });

  it("a command with a name override", () => {
    expectClean(["renamedCommand"], []);
    expect(command(["custom-name"]).source).toBe("plugins/p/commands.ts#renamedCommand");
    expect(result.manifest!.commands.some((c) => c.name === "renamed_command")).toBe(false);
  });

  it("a graph that depends on a boolean arg is recorded with the arg's default", () => {
    expectClean(["with_flag", "without_flag"], ["Extra"]);
    expect(taskNames(command(["with_flag"]).graph)).toEqual(["Source", "Extra"]);
    expect(taskNames(command(["without_flag"]).graph)).toEqual(["Source"]);
  });

  it("a bound input that nothing else reaching the task gives, beside upstream names it does not read, and a default an upstream output overrides", () => {
    expectClean(["bound_alongside"], ["GiveAB", "TakeAC", "ShowB", "DefaultA", "GiveXsFactor", "DoubleX", "TimesFactor", "ShowZs"]);
    expect(command(["bound_alongside"]).graph!.nodes.filter((n) => n.bound).map((n) => [n.task!.split("#")[1], n.bound])).toEqual([
      ["TakeAC", ["c"]],
      ["ShowB", ["b"]],
      ["DefaultA", ["a"]],
    ]);
  });

  it("the whole pipeline builds: no diagnostics at all", () => {
    expect(result.diagnostics.map((d) => `${d.code} ${d.site.file}:${d.site.line}:${d.site.column} ${d.message}`)).toEqual([]);
    expect(result.ok).toBe(true);
  });

  describe("the real build's output (check: false)", () => {
    let manifest: Manifest;
    beforeAll(async () => {
      const built = await buildPipeline(root);
      expect(built.diagnostics).toEqual([]);
      manifest = JSON.parse(readFileSync(join(root, "generated/manifest.json"), "utf8")) as Manifest;
    });

    it("generated/manifest.json lists every task by module#export with its inputs, incl. iterateOn", () => {
      expect(manifest.format).toBe(1);
      expect(manifest.configModule).toBe("outflow.config.ts");
      expect(manifest.plugins).toEqual([{ name: "p", dir: "plugins/p" }]);
      expect(Object.keys(manifest.tasks)).toHaveLength(70);
      expect(manifest.tasks["plugins/p/tasks.ts#RowCells"]).toEqual({
        id: "plugins/p/tasks.ts#RowCells",
        name: "RowCells",
        plugin: "p",
        module: TASKS_FILE,
        site: { file: TASKS_FILE, ...locate(TASKS, "task(function RowCells") },
        async: false,
        inputs: [{ name: "line", type: 'IterateOn<"matrix", number[]>', optional: false, hasDefault: false, iterateOn: { target: "matrix", elementType: "number[]" } }],
        outputs: [{ name: "cells", type: "number[]", optional: false }],
        skippable: false,
      });
    });

    it("a command's graph: nodes with their task and site, edges with the site of .pipe(, the map with its options and body", () => {
      const mapped = manifest.commands.find((c) => c.name === "mapped")!;
      const at = (snippet: string) => ({ file: COMMANDS_FILE, ...locate(COMMANDS, snippet, "export const mapped") });
      expect(mapped).toMatchObject({ path: ["mapped"], source: "plugins/p/commands.ts#mapped", description: "Doubles every row and sums them", invokable: true, db: true, subcommands: [] });
      expect(mapped.site).toEqual(at("command("));
      expect(mapped.graph).toEqual({
        nodes: [
          {
            id: 0,
            kind: "map",
            site: at("map("),
            map: {
              options: { outputName: "doubled_all", cpusPerTask: 2 },
              customReduce: false,
              body: { nodes: [{ id: 0, kind: "task", task: "plugins/p/tasks.ts#EachRow", site: at("EachRow()") }], edges: [] },
            },
          },
          { id: 1, kind: "task", task: "plugins/p/tasks.ts#MakeRows", site: at("MakeRows()") },
          { id: 2, kind: "task", task: "plugins/p/tasks.ts#Sum", site: at("Sum()") },
        ],
        edges: [
          { from: 1, to: 0, site: at("pipe(doubled)") },
          { from: 0, to: 2, site: at("pipe(Sum())") },
        ],
      });
    });

    it("the args of a command are in the manifest with their defaults", () => {
      const withFlag = manifest.commands.find((c) => c.name === "with_flag")!;
      expect(withFlag.args).toEqual({
        extra: { type: "boolean", default: true, description: "Also run Extra" },
        level: { type: "integer", default: 2 },
      });
    });

    it.each(["sequential", "threads"])("null and unknown elements reach their IterateOn task and pass its validator (%s)", (backend) => {
      const r = runBundle(root, "nullable_elements", ["--backend", backend]);
      expect(r.code, r.output).toBe(0);
      expect(r.output).toContain("FILLED [1,-1,3]");
      expect(r.output).toContain('KINDS ["number","string","null"]');
    });

    it.each(["sequential", "threads"])("a name given on both sides of an if node is in every element and loop output at run time too (%s)", (backend) => {
      const r = runBundle(root, "covered_branches", ["--backend", backend]);
      expect(r.code, r.output).toBe(0);
      // rows [1, 2, 3] → doubled 2, 4, 6: else (Low), then (High, or Mid for 4 in the nested if).
      expect(r.output).toContain('XYS [{"x":2,"y":3},{"x":400,"y":5},{"x":600,"y":7}]');
      expect(r.output).toContain('XYS [{"x":2,"y":3},{"x":-4,"y":5},{"x":600,"y":7}]');
      for (const line of ["XY 2 3", "XY 400 5", "XY 600 7"]) expect(r.output).toContain(line);
    });

    it.each(["sequential", "threads"])("optional and defaulted IterateOn parameters get undefined elements, a default-exported task runs (%s)", (backend) => {
      const r = runBundle(root, "optional_undefined", ["--backend", backend]);
      expect(r.code, r.output).toBe(0);
      expect(r.output).toContain("YS [1,-1,3]");
      expect(r.output).toContain("YS [1,0,3]");
      const d = runBundle(root, "default_export", ["--backend", backend]);
      expect(d.code, d.output).toBe(0);
      expect(d.output).toContain("YS [101,102,103]");
    });

    it("bound values, upstream values and defaults reach the tasks they are meant for at run time", () => {
      const r = runBundle(root, "bound_alongside", []);
      expect(r.code, r.output).toBe(0);
      for (const line of ["AC 1 5", "B 7 6", "DEFAULT_A 1", "DEFAULT_A 3", "ZS [20,40]"]) expect(r.output).toContain(line);
      expect(r.output).not.toContain("DEFAULT_A 100");
    });

        it("dist/ has one bundle per top-level command (not per subcommand), manage.js and the native addon", () => {
      for (const name of ["subtype", "mapped", "nested_maps", "group", "custom-name", "with_flag", "manage"]) {
        expect(existsSync(join(root, "dist", `${name}.js`)), `${name}.js`).toBe(true);
      }
      expect(existsSync(join(root, "dist", "first.js"))).toBe(false);
      expect(existsSync(join(root, "dist", "better_sqlite3.node"))).toBe(true);
      expect(existsSync(join(root, "generated", "validators.ts"))).toBe(true);
    });
  });
});
