import { afterAll, beforeAll, describe, expect, it } from "vitest";
import Database from "better-sqlite3";
import { join } from "node:path";
import { buildPipeline, makePipeline, removePipelines } from "../helpers/pipeline-fixture.js";
import { runBundle } from "../helpers/run-bundle.js";

const tasks = `
import { task, context, logger, Skipped, type IterateOn, type SkippedValue } from "outflow";

// Odd elements are skipped: left out of the map's results.
export const EvenHalf = task(function EvenHalf(value: IterateOn<"values", number>): { half: number } | SkippedValue {
  return value % 2 ? Skipped : { half: value / 2 };
});
export const PlusOne = task(function PlusOne(half: number): { plus: number } {
  return { plus: half + 1 };
});
// A pass-through whose every read is counted: how often the map body's task input is checked.
let reads = 0;
export const Counted = task(function Counted(): { values: number[]; settings: { scale: number } } {
  return { values: [1, 2, 3, 4, 5, 6], settings: { get scale() { reads++; return 10; } } };
});
export const Scale = task(function Scale(value: IterateOn<"values", number>, settings: { scale: number }): { scaled: number } {
  return { scaled: value * settings.scale };
});
export const Scale2 = task(function Scale2(scaled: number): { again: number } {
  return { again: scaled + 1 };
});
export const ShowReads = task(function ShowReads(scaled: unknown[]): void {
  logger.info("READS " + reads + " " + JSON.stringify(scaled));
});
export const Numbers = task(function Numbers(): { values: number[] } {
  return { values: [5, 1, 4, 2, 3] };
});
// Uneven durations: later elements finish first unless results are put back in input order.
export const Slow = task(async function Slow(value: IterateOn<"values", number>): Promise<{ doubled: number }> {
  await new Promise((r) => setTimeout(r, value * 15));
  return { doubled: value * 2 };
});
export const Show = task(function Show(all: number[]): void {
  logger.info("RESULT " + JSON.stringify(all));
});
export const Explode = task(function Explode(value: IterateOn<"values", number>): { doubled: number } {
  if (value === Number(context.args.bad)) throw new Error("element " + value + " is bad");
  if (value === Number(context.args.crash)) process.exit(7);
  return { doubled: value * 2 };
});
export const Start = task(function Start(): { t0: number } {
  return { t0: Date.now() };
});
function spin(ms: number) {
  const end = Date.now() + ms;
  while (Date.now() < end);
}
export const Left = task(function Left(t0: number): { left: [number, number] } {
  const s = Date.now(); spin(400); return { left: [s, Date.now()] };
});
export const Right = task(function Right(t0: number): { right: [number, number] } {
  const s = Date.now(); spin(400); return { right: [s, Date.now()] };
});
export const Join = task(function Join(left: [number, number], right: [number, number]): void {
  logger.info("SPANS " + JSON.stringify({ left, right }));
});
export const Lying = task(function Lying(): { count: number } {
  return { count: "seven" as unknown as number };
});
export const Forgetful = task(function Forgetful(): { count: number; label: string } {
  return { count: 1 } as unknown as { count: number; label: string };
});
export const Loose = task(function Loose(): { count: any } {
  return { count: [1, 2] };
});
export const Count = task(function Count(count: number): void {
  logger.info("count " + count);
});
export const Thrower = task(function Thrower(): void {
  throw new RangeError("out of range: 42");
});
export const Vector = task(function Vector(): { vec: Float64Array } {
  return { vec: new Float64Array([1.5, 2.5]) };
});
export const Pick = task(function Pick(value: IterateOn<"values", number>): { picked: number } {
  return { picked: value };
});
export const ShowPicks = task(function ShowPicks(picks: unknown[]): void {
  logger.info("PICKS " + JSON.stringify(picks));
});
// Enough elements for the threads backend to pack batches into Float64Arrays.
export const LongVec = task(function LongVec(): { lv: Float64Array } {
  const lv = new Float64Array(40).map((_, i) => i * 1.5);
  lv[3] = -0;
  lv[5] = NaN;
  return { lv };
});
export const HalfLong = task(function HalfLong(v: IterateOn<"lv", number>): { h: number } {
  return { h: v / 2 };
});
export const ShowLong = task(function ShowLong(hs: number[]): void {
  logger.info("LONG " + [Array.isArray(hs), hs.length, Object.is(hs[3], -0), Number.isNaN(hs[5]), hs[39]].join(" "));
});
export const Ints = task(function Ints(): { ints: Int32Array } {
  return { ints: Int32Array.from({ length: 24 }, (_, i) => (i === 0 ? -2147483648 : i === 1 ? 2147483647 : i - 10)) };
});
export const Negate = task(function Negate(v: IterateOn<"ints", number>): { neg: number } {
  return { neg: -v };
});
export const ShowInts = task(function ShowInts(negs: number[]): void {
  logger.info("INTS " + JSON.stringify(negs.map((n) => (Object.is(n, -0) ? "-0" : n))));
});
export const Half = task(function Half(v: IterateOn<"vec", number>): { half: number } {
  return { half: v / 2 };
});
export const ShowHalves = task(function ShowHalves(halves: number[]): void {
  logger.info("HALVES " + Array.isArray(halves) + " " + JSON.stringify(halves));
});
// Values the compiler cannot vouch for (any): the element task's own checks catch them, element by element.
export const Mixed = task(function Mixed(): { values: any[] } {
  return { values: [1, 2, "three", 6] };
});
export const Halve = task(function Halve(value: IterateOn<"values", number>): { half: number } {
  return { half: value === 4 ? ("two" as unknown as number) : value / 2 };
});
// unknown opts out of validation: a function passes the element's check, but cannot leave a worker.
export const Closure = task(function Closure(value: IterateOn<"values", number>): { fn: unknown } {
  return { fn: () => value };
});
export const Range = task(function Range(): { range: number[] } {
  return { range: Array.from({ length: Number(context.args.count) }, (_, i) => i) };
});
export const Triple = task(function Triple(n: IterateOn<"range", number>): { tripled: number } {
  return { tripled: n * 3 + 1 };
});
export const CheckTriples = task(function CheckTriples(all_tripled: number[]): void {
  const wrong = all_tripled.findIndex((t, i) => t !== i * 3 + 1);
  logger.info("TRIPLES " + all_tripled.length + " " + wrong);
});
export const MakeFn = task(function MakeFn(): { fn: unknown } {
  return { fn: () => 1 };
});
export const UseA = task(function UseA(fn: unknown): { a: number } {
  return { a: typeof fn === "function" ? 1 : 0 };
});
export const UseB = task(function UseB(fn: unknown): { b: number } {
  return { b: typeof fn === "function" ? 2 : 0 };
});
export const Sum = task(function Sum(vec: Float64Array): void {
  logger.info("SUM " + (vec instanceof Float64Array) + " " + (vec[0] + vec[1]));
});
export const Rows = task(function Rows(): { rows: number[][] } {
  return { rows: [[1, 2], [3], [4, 5, 6]] };
});
export const Row = task(function Row(row: IterateOn<"rows", number[]>): { cells: number[] } {
  return { cells: row };
});
export const Cell = task(function Cell(cell: IterateOn<"cells", number>): { square: number } {
  return { square: cell * cell };
});
export const ShowNested = task(function ShowNested(squares: number[][]): void {
  logger.info("NESTED " + JSON.stringify(squares));
});
// An inner map at the start of an outer map's body, whose task reads the outer map's iterated array whole.
export const Grid = task(function Grid(): { grid: number[][]; labels: string[] } {
  return { grid: [[1, 2], [3]], labels: ["a", "b"] };
});
export const RowLength = task(function RowLength(row: IterateOn<"grid", number[]>): { length: number } {
  return { length: row.length };
});
export const Label = task(function Label(label: IterateOn<"labels", string>, grid: number[][]): { text: string } {
  return { text: label + grid.length };
});
export const ShowGrid = task(function ShowGrid(rows: { length: number; texts: string[] }[]): void {
  logger.info("GRID " + JSON.stringify(rows));
});
// Threads batches of numbers travel as Float64Arrays: -0, NaN, ±Infinity and big integers must survive, and
// a batch that is not all numbers travels as it is.
// 190 and 195 share a batch with 200 (results written packed until the string moves them to an array).
const SPECIAL: Record<number, number | string> = { 3: -0, 17: NaN, 190: -0, 195: NaN, 200: "half", 500: Infinity, 998: -Infinity, 999: 2 ** 53 + 2 };
export const Specials = task(function Specials(): { specials: number[] } {
  return { specials: Array.from({ length: 1000 }, (_, i) => (typeof SPECIAL[i] === "number" ? (SPECIAL[i] as number) : i + 0.5)) };
});
export const Same = task(function Same(special: IterateOn<"specials", number>): { same: number | string } {
  return { same: special === 200.5 ? "half" : special };
});
export const CheckSpecials = task(function CheckSpecials(all_same: (number | string)[]): void {
  const bad = all_same.map((x, i) => (Object.is(x, i in SPECIAL ? SPECIAL[i] : i + 0.5) ? -1 : i)).filter((i) => i >= 0);
  logger.info("SPECIALS " + all_same.length + " " + JSON.stringify(bad));
});
export const Stamp = task(function Stamp(value: IterateOn<"values", number>): { span: [number, number] } {
  const s = Date.now(); spin(150); return { span: [s, Date.now()] };
});
export const ShowSpans = task(function ShowSpans(spans: [number, number][]): void {
  logger.info("SPANS " + JSON.stringify(spans));
});
export const Extra = task(function Extra(missing_input: string): void {
  logger.info(missing_input);
});
`;

const commands = `
import { command, map, ifThenElse } from "outflow";
import * as t from "./tasks.js";

export const even_halves = command({ setup() { t.Numbers().pipe(map({ outputName: "all" }, () => { t.EvenHalf(); })).pipe(t.Show()); } });
export const even_halves_body = command({ setup() { t.Numbers().pipe(map({ outputName: "all" }, () => { t.EvenHalf().pipe(t.PlusOne()); })).pipe(t.Show()); } });
export const pass_through_once = command({ setup() { t.Counted().pipe(map({ outputName: "scaled" }, () => { t.Scale(); })).pipe(t.ShowReads()); } });
export const pass_through_once_body = command({ setup() { t.Counted().pipe(map({ outputName: "scaled" }, () => { t.Scale().pipe(t.Scale2()); })).pipe(t.ShowReads()); } });

export const ordered = command({
  description: "map with uneven durations",
  setup() {
    t.Numbers().pipe(map({ outputName: "all" }, () => { t.Slow(); })).pipe(t.Show());
  },
});
export const failing = command({
  args: { bad: { type: "number", default: -1 }, crash: { type: "number", default: -1 } },
  setup() {
    t.Numbers().pipe(map({ outputName: "all" }, () => { t.Explode(); })).pipe(t.Show());
  },
});
export const branches = command({
  setup() {
    const start = t.Start();
    const join = t.Join();
    start.pipe(t.Left()).pipe(join);
    start.pipe(t.Right()).pipe(join);
  },
});
export const lying = command({ setup() { t.Lying().pipe(t.Count()); } });
export const forgetful = command({ setup() { t.Forgetful().pipe(t.Count()); } });
export const loose = command({ setup() { t.Loose().pipe(t.Count()); } });
export const throwing = command({ setup() { t.Thrower(); } });
export const triples = command({
  args: { count: { type: "number", default: 400000 } },
  db: false,
  setup() { t.Range().pipe(map({ outputName: "all_tripled" }, () => { t.Triple(); })).pipe(t.CheckTriples()); },
});
export const fn_branches = command({ setup() { const made = t.MakeFn(); made.pipe(t.UseA()); made.pipe(t.UseB()); } });
export const closures = command({ setup() { t.Numbers().pipe(map({ outputName: "fns" }, () => { t.Closure(); })); } });
export const bad_element_input = command({ setup() { t.Mixed().pipe(map({ outputName: "all" }, () => { t.Halve(); })).pipe(t.Show()); } });
export const bad_element_output = command({ setup() { t.Numbers().pipe(map({ outputName: "all" }, () => { t.Halve(); })).pipe(t.Show()); } });
export const vectors = command({ setup() { t.Vector().pipe(t.Sum()); } });
export const if_in_map = command({
  setup() {
    const body = map({ outputName: "picks" }, () => {
      t.Pick();
      // A control node at the start of a body sees every outer value, the iterated array among them.
      const [check] = ifThenElse((inputs) => Array.isArray(inputs.values));
      void check;
    });
    t.Numbers().pipe(body).pipe(t.ShowPicks());
  },
});
export const long_vector_map = command({ setup() { t.LongVec().pipe(map({ outputName: "hs" }, () => { t.HalfLong(); })).pipe(t.ShowLong()); } });
export const int_map = command({ setup() { t.Ints().pipe(map({ outputName: "negs" }, () => { t.Negate(); })).pipe(t.ShowInts()); } });
export const vector_map = command({ setup() { t.Vector().pipe(map({ outputName: "halves" }, () => { t.Half(); })).pipe(t.ShowHalves()); } });
export const nested = command({
  setup() {
    const outer = map({ outputName: "squares" }, () => {
      t.Row().pipe(map({ outputName: "square_row" }, () => { t.Cell(); }));
    });
    t.Rows().pipe(outer).pipe(t.ShowNested());
  },
});
export const nested_whole = command({
  setup() {
    const outer = map({ outputName: "rows" }, () => {
      t.RowLength();
      map({ outputName: "texts" }, () => { t.Label(); });
    });
    t.Grid().pipe(outer).pipe(t.ShowGrid());
  },
});
export const specials = command({
  setup() {
    t.Specials().pipe(map({ outputName: "all_same" }, () => { t.Same(); })).pipe(t.CheckSpecials());
  },
});
export const wide_elements = command({
  args: { cpus: { type: "integer", default: 1 } },
  setup({ args }) {
    t.Numbers().pipe(map({ outputName: "spans", cpusPerTask: args.cpus }, () => { t.Stamp(); })).pipe(t.ShowSpans());
  },
});
export const conditional = command({
  // A number: the compiler records it with its default only (booleans and enums it varies and checks itself).
  args: { level: { type: "integer", default: 0 } },
  setup({ args }) {
    const n = t.Numbers();
    if (args.level > 1) n.pipe(t.Extra());
  },
});
`;

let root: string;
beforeAll(async () => {
  root = makePipeline({ "plugins/p/tasks.ts": tasks, "plugins/p/commands.ts": commands });
  const result = await buildPipeline(root);
  expect(result.diagnostics).toEqual([]);
}, 120_000);
afterAll(removePipelines);

describe.each(["sequential", "threads"])("backend %s", (backend) => {
  it("returns map results in input order", () => {
    const r = runBundle(root, "ordered", ["--backend", backend]);
    expect(r.output).toContain("RESULT [10,2,8,4,6]");
    expect(r.code).toBe(0);
  });

  it("logs each map's element count and wall time at DEBUG, and nothing at the default level", () => {
    const debug = runBundle(root, "ordered", ["--backend", backend, "--log-level", "DEBUG"]);
    expect(debug.stderr).toMatch(/outflow\.map - - - DEBUG - map\(all\): 5 elements in \d+\.\d{3} s/);
    const seconds = Number(/map\(all\): 5 elements in ([\d.]+) s/.exec(debug.stderr)![1]);
    // Slow sleeps 15 ms per unit of its element (5 + 1 + 4 + 2 + 3 units): at least the longest element.
    expect(seconds).toBeGreaterThanOrEqual(0.075);
    expect(runBundle(root, "ordered", ["--backend", backend]).stderr).not.toContain("outflow.map");
    // Inner maps run where the elements run (a worker thread): --log-level reaches them too.
    const nested = runBundle(root, "nested", ["--backend", backend, "--log-level", "DEBUG"]);
    expect(nested.stderr.match(/outflow\.map - - - DEBUG - map\(square_row\): \d elements? in/g)).toHaveLength(3);
    expect(nested.stderr.match(/outflow\.map - - - DEBUG - map\(squares\): 3 elements in/g)).toHaveLength(1);
  });

  it("runs nested maps", () => {
    const r = runBundle(root, "nested", ["--backend", backend]);
    expect(r.output).toContain("NESTED [[1,4],[9],[16,25,36]]");
    expect(r.code).toBe(0);
  });

  it("gives an inner map's body the outer map's iterated array when it reads it whole", () => {
    const r = runBundle(root, "nested_whole", ["--backend", backend]);
    expect(r.stderr).not.toMatch(/error:/);
    expect(r.output).toContain('GRID [{"length":2,"texts":["a2","b2"]},{"length":1,"texts":["a2","b2"]}]');
    expect(r.code).toBe(0);
  });

  it("reports the failing element with task name and index", () => {
    const r = runBundle(root, "failing", ["--backend", backend, "--bad", "4"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error: task Explode \(map element 2\) failed: element 4 is bad/);
    expect(r.stderr).toMatch(/plugins\/p\/tasks\.ts:\d+/);
  });

  it("passes every number (-0, NaN, ±Infinity, beyond 2^53) and mixed batches through a map intact", () => {
    const r = runBundle(root, "specials", ["--backend", backend, "--workers", "2"]);
    expect(r.output).toContain("SPECIALS 1000 []");
    expect(r.code).toBe(0);
  });

  it("maps over a typed array: one element per number, results in a JS array", () => {
    const r = runBundle(root, "vector_map", ["--backend", backend]);
    expect(r.output).toContain("HALVES true [0.75,1.25]");
    expect(r.code).toBe(0);
    // 40 elements: packed batches on threads; -0 and NaN survive, the results are a JS array.
    const long = runBundle(root, "long_vector_map", ["--backend", backend, "--workers", "2"]);
    expect(long.output).toContain("LONG true 40 true true 29.25");
    // An Int32Array at its limits: -(-2^31) leaves int32 and must come back as 2147483648, 0 as -0.
    const ints = runBundle(root, "int_map", ["--backend", backend, "--workers", "2"]);
    const expected = [2147483648, -2147483647, ...Array.from({ length: 22 }, (_, k) => (k + 2 - 10 === 0 ? "-0" : -(k + 2 - 10)))];
    expect(ints.output).toContain("INTS " + JSON.stringify(expected));
  });

  it("passes typed arrays through intact", () => {
    const r = runBundle(root, "vectors", ["--backend", backend]);
    expect(r.output).toContain("SUM true 4");
  });
});

describe("both local backends", () => {
  it("give a control node at the start of a map body the same outer values (the iterated array too)", () => {
    const sequential = runBundle(root, "if_in_map", ["--backend", "sequential"]);
    const threads = runBundle(root, "if_in_map", ["--backend", "threads"]);
    expect(sequential.code, sequential.stderr).toBe(0);
    expect(threads.code, threads.stderr).toBe(0);
    const picks = (r: { output: string }) => /PICKS (.*)/.exec(r.output)?.[1];
    expect(picks(sequential)).toContain('"picked":5');
    expect(picks(threads)).toBe(picks(sequential));
  });
});

describe("map elements that return Skipped", () => {
  it.each(["sequential", "threads"])("are left out of the map's results, which keep input order (%s)", (backend) => {
    const one = runBundle(root, "even_halves", ["--backend", backend]);
    expect(one.code, one.stderr).toBe(0);
    expect(one.output).toContain("RESULT [2,1]");
    const body = runBundle(root, "even_halves_body", ["--backend", backend]);
    expect(body.code, body.stderr).toBe(0);
    expect(body.output).toContain("RESULT [3,2]");
  });

  it.each(["sequential", "threads"])("are recorded skipped, as their task is (%s)", (backend) => {
    for (const command of ["even_halves", "even_halves_body"]) {
      expect(runBundle(root, command, ["--backend", backend]).code).toBe(0);
      const db = new Database(join(root, "outflow.db"), { readonly: true });
      const run = db.prepare("select uuid from run where command = ? order by start_time desc limit 1").get(command) as { uuid: string };
      const elements = db.prepare("select element_index as i, state from task where run_uuid = ? and kind = 'element' order by element_index").all(run.uuid);
      db.close();
      // Numbers gives [5, 1, 4, 2, 3]: the odd ones return Skipped.
      expect(elements, command).toEqual([0, 1, 2, 3, 4].map((i) => ({ i, state: [5, 1, 4, 2, 3][i] % 2 ? "skipped" : "success" })));
    }
  });
});

describe("threads backend", () => {
  it("runs independent branches at the same time", () => {
    const r = runBundle(root, "branches", ["--backend", "threads", "--workers", "2"]);
    expect(r.code).toBe(0);
    const spans = JSON.parse(/SPANS (.*)/.exec(r.output)![1]) as { left: [number, number]; right: [number, number] };
    expect(spans.left[0]).toBeLessThan(spans.right[1]);
    expect(spans.right[0]).toBeLessThan(spans.left[1]);
  });

  it("runs at most workers / cpusPerTask elements at once", () => {
    const spansOf = (cpus: number) => {
      const r = runBundle(root, "wide_elements", ["--backend", "threads", "--workers", "2", "--cpus", String(cpus)]);
      expect(r.code, r.stderr).toBe(0);
      return (JSON.parse(/SPANS (.*)/.exec(r.output)![1]) as [number, number][]).sort((a, b) => a[0] - b[0]);
    };
    const overlaps = (spans: [number, number][]) => spans.some((s, i) => i > 0 && s[0] < spans[i - 1][1]);
    expect(overlaps(spansOf(1))).toBe(true);
    expect(overlaps(spansOf(2))).toBe(false);
  });

  it("fails a map element whose result cannot leave the worker (a function typed unknown) with the clone error; the worker lives on", () => {
    const r = runBundle(root, "closures", ["--backend", "threads", "--workers", "1"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/task Closure \(map element 0\) failed: DataCloneError: a result cannot be sent back from the worker thread: .*could not be cloned/);
    expect(r.stderr).not.toContain("worker thread exited");
    expect(runBundle(root, "closures", []).code).toBe(0);
  });

  it("fails a task whose inputs cannot be sent to a worker (a function typed unknown) with one clear line, where sequential runs it", () => {
    const r = runBundle(root, "fn_branches", ["--backend", "threads", "--workers", "2"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error: task Use[AB] failed: DataCloneError: a value cannot be sent to a worker thread: .*could not be cloned/);
    expect(runBundle(root, "fn_branches", []).code).toBe(0);
  });

  it("grows the batches of a map of quick elements (fewer round trips), results in order", () => {
    const r = runBundle(root, "triples", ["--backend", "threads", "--workers", "2", "--log-level", "DEBUG"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.output).toContain("TRIPLES 400000 -1");
    const [, batches, largest] = /map\(all_tripled\): 400000 elements in (\d+) batches of up to (\d+)/.exec(r.stderr)!.map(Number);
    // 1024 elements at first; fixed batches would be 391 messages.
    expect(largest).toBeGreaterThan(1024);
    expect(largest).toBeLessThanOrEqual(8192);
    expect(batches).toBeLessThan(391);
  });

  it("fails the element whose worker dies and names it, and its task (the body's one task)", () => {
    const r = runBundle(root, "failing", ["--backend", "threads", "--crash", "2"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error: task Explode \(map element 3\) failed: WorkerCrash: worker thread exited with code 7/);
  });
});

describe("validation at task boundaries", () => {
  it("names task, target, expected type and what arrived for a bad output", () => {
    const r = runBundle(root, "lying", []);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`Task Lying: output "count" expected number, got string 'seven'`);
  });

  it("names a missing output and the keys that came back", () => {
    const r = runBundle(root, "forgetful", []);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`Task Forgetful: output "label" (string) is missing; it returned keys: count`);
  });

  it("checks inputs against the receiving task's type", () => {
    const r = runBundle(root, "loose", []);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`Task Count: input "count" expected number, got array [ 1, 2 ]`);
  });

  it.each(["sequential", "threads"])("checks each map element's input and output, naming the element (%s)", (backend) => {
    const input = runBundle(root, "bad_element_input", ["--backend", backend]);
    expect(input.code).toBe(1);
    expect(input.stderr).toMatch(/task Halve \(map element 2\) failed: TaskValueError: Task Halve: input "value" expected number, got string 'three'/);
    const output = runBundle(root, "bad_element_output", ["--backend", backend]);
    expect(output.code).toBe(1);
    expect(output.stderr).toMatch(/task Halve \(map element 2\) failed: TaskValueError: Task Halve: output "half" expected number, got string 'two'/);
  });

  it.each([["pass_through_once", "[10,20,30,40,50,60]"], ["pass_through_once_body", "[11,21,31,41,51,61]"]])("checks a map's pass-through input once, not once per element (%s)", (command, results) => {
    const r = runBundle(root, command, []);
    expect(r.code, r.stderr).toBe(0);
    // The 6 elements read settings.scale once each, Counted's output check once, Scale's input check once.
    expect(r.output).toContain(`READS 8 ${results}`);
  });

  it("stores a task's exception with a stack pointing at the user's source", () => {
    const r = runBundle(root, "throwing", []);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error: task Thrower failed: RangeError: out of range: 42");
    expect(r.stderr).toMatch(/plugins\/p\/tasks\.ts:\d+:\d+/);
    // The frame names the task as written, not as the bundler renamed it (`Thrower2`).
    expect(r.stderr).toMatch(/^\s+at Thrower \(.*plugins\/p\/tasks\.ts:\d+:\d+\)$/m);
  });
});

describe("graphs that depend on args", () => {
  it("builds with the default and re-checks the graph the real args build", () => {
    expect(runBundle(root, "conditional", []).code).toBe(0);
    const r = runBundle(root, "conditional", ["--level", "2"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/plugins\/p\/commands\.ts:\d+:\d+ - error OF101: Task Extra needs input "missing_input"/);
  });
});
