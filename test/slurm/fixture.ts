/**
 * The pipeline the slurm tests run: one build, several commands, each exercising one part of the
 * backend. Results are logged as `RESULT <json>` by the terminal task.
 */
export const tasks = `
import { appendFileSync, existsSync, writeFileSync } from "node:fs";
import { task, context, logger, exitPipeline, Skipped, type IterateOn, type SkippedValue } from "outflow";

export const GenData = task(function GenData(): { some_data_array: number[] } {
  return { some_data_array: [42, 43, 44, 45] };
});
export const Compute = task(async function Compute(some_data: IterateOn<"some_data_array", number>): Promise<{ computation_result: number }> {
  return { computation_result: some_data * (context.args.multiplier as number) };
});
// A map element of a tracked command reaches the run's database through context.em.
export const ComputeWithDb = task(async function ComputeWithDb(some_data: IterateOn<"some_data_array", number>): Promise<{ computation_result: number }> {
  const rows = (await context.em.getConnection().execute("select 2 as two")) as { two: number }[];
  return { computation_result: some_data * (context.args.multiplier as number) * rows[0].two };
});
export const Show = task(function Show(map_computation_result: number[]): void {
  logger.info("RESULT " + JSON.stringify(map_computation_result));
});
export const Samples = task(function Samples(): { samples: Float64Array } {
  return { samples: new Float64Array([0.5, 1.5, 2.5, -0]) };
});
export const Triple = task(function Triple(sample: IterateOn<"samples", number>): { tripled: number } {
  logger.debug("tripling " + sample);
  return { tripled: Object.is(sample, -0) ? 99 : sample * 3 };
});
export const ShowTripled = task(function ShowTripled(tripled: number[]): void {
  logger.info("RESULT " + JSON.stringify(tripled));
});
export const ShowSquares = task(function ShowSquares(squares: number[]): void {
  logger.info("RESULT " + JSON.stringify(squares));
});
export const ShowEchoes = task(function ShowEchoes(echoes: { element: string; arg: string }[]): void {
  logger.info("RESULT " + JSON.stringify(echoes));
});
export const ShowNorms = task(function ShowNorms(norms: { isTyped: boolean; sum: number; year: number }[]): void {
  logger.info("RESULT " + JSON.stringify(norms));
});

export const Range = task(function Range(): { numbers: number[] } {
  const n = Number(context.args.count);
  return { numbers: Array.from({ length: n }, (_, i) => i) };
});
export const Square = task(async function Square(number: IterateOn<"numbers", number>): Promise<{ square: number }> {
  const ms = Number(context.args.sleep ?? 0);
  if (ms) await new Promise((r) => setTimeout(r, ms));
  return { square: number * number };
});
export const Sum = task(function Sum(squares: number[]): void {
  logger.info("RESULT " + JSON.stringify({ n: squares.length, sum: squares.reduce((a, b) => a + b, 0), first: squares.slice(0, 3), last: squares[squares.length - 1] }));
});

export const Flaky = task(function Flaky(number: IterateOn<"numbers", number>): { square: number } {
  if (number === Number(context.args.bad) && existsSync(String(context.args.marker))) process.exit(3);
  if (number === Number(context.args.throws)) throw new RangeError("element " + number + " refuses");
  return { square: number * number };
});

// Appends its element to the file --log (how often each element ran); throws for --bad (exits 3 for --exit-on) while --marker exists.
export const Tally = task(function Tally(number: IterateOn<"numbers", number>): { square: number } {
  if (context.args.log) appendFileSync(String(context.args.log), number + "\\n");
  if (number === Number(context.args.exitOn) && existsSync(String(context.args.marker))) process.exit(3);
  if (number === Number(context.args.bad) && existsSync(String(context.args.marker))) throw new RangeError("element " + number + " refuses");
  return { square: number * number };
});

// Appends its element to --log, sleeps --sleep ms, and element --at ends the run with exitPipeline().
export const Stopper = task(async function Stopper(number: IterateOn<"numbers", number>): Promise<{ square: number }> {
  appendFileSync(String(context.args.log), number + "\\n");
  await new Promise((r) => setTimeout(r, Number(context.args.sleep)));
  if (number === Number(context.args.dies)) {
    await new Promise((r) => setTimeout(r, 1500));
    process.exit(3);
  }
  if (number === Number(context.args.at)) exitPipeline("element " + number + " says stop");
  if (number === Number(context.args.fails) && existsSync(String(context.args.marker))) throw new RangeError("element " + number + " refuses");
  return { square: number * number };
});

// Element --bad returns a function (typed unknown): a result that cannot be written for the driver.
export const Unwritable = task(function Unwritable(number: IterateOn<"numbers", number>): { thing: unknown } {
  return { thing: number === Number(context.args.bad) ? () => number : number * 10 };
});
export const ShowThings = task(function ShowThings(things: unknown[]): void {
  logger.info("RESULT " + JSON.stringify(things));
});

// Nested maps: rows of cells; cell --bad throws.
export const Grid = task(function Grid(): { rows: number[][] } {
  return { rows: [[0, 1], [10, 11], [20, 21]] };
});
export const RowCells = task(function RowCells(row: IterateOn<"rows", number[]>): { cells: number[] } {
  return { cells: row };
});
export const Cell = task(function Cell(cell: IterateOn<"cells", number>): { cellOut: number } {
  if (cell === Number(context.args.bad)) throw new RangeError("cell " + cell + " refuses");
  return { cellOut: cell * 2 };
});
export const ShowGrid = task(function ShowGrid(grid: number[][]): void {
  logger.info("RESULT " + JSON.stringify(grid));
});

// Odd numbers are skipped: left out of the map's results.
export const EvenSquare = task(function EvenSquare(number: IterateOn<"numbers", number>): { square: number } | SkippedValue {
  return number % 2 ? Skipped : { square: number * number };
});

export const Texts = task(function Texts(): { texts: string[] } {
  return { texts: [String(context.args.text), "plain"] };
});
export const Echo = task(function Echo(text: IterateOn<"texts", string>): { echoed: { element: string; arg: string } } {
  return { echoed: { element: text, arg: String(context.args.text) } };
});

export const Typed = task(function Typed(): { vectors: Float64Array[]; when: Date } {
  return { vectors: [new Float64Array([1.5, 2]), new Float64Array([3, 4.25])], when: new Date(Date.UTC(2024, 0, 2)) };
});
export const Norm = task(function Norm(vector: IterateOn<"vectors", Float64Array>, when: Date): { norm: { isTyped: boolean; sum: number; year: number } } {
  return { norm: { isTyped: vector instanceof Float64Array, sum: vector[0] + vector[1], year: when.getUTCFullYear() } };
});
// A branch beside a map that is still running when the map's array has been written (--emit-only).
export const Wait = task(async function Wait(): Promise<{ waited: number }> {
  await new Promise((r) => setTimeout(r, 1500));
  return { waited: 1 };
});
export const AfterWait = task(function AfterWait(waited: number): void {});
`;

export const commands = `
import { command, map } from "outflow";
import * as t from "./tasks.js";

export const tutorial = command({
  args: { multiplier: { type: "number", required: true } },
  db: false,
  setup() {
    t.GenData().pipe(map({ outputName: "map_computation_result", cpusPerTask: 1 }, () => { t.Compute(); })).pipe(t.Show());
  },
});

export const typed_samples = command({
  db: false,
  setup() {
    t.Samples().pipe(map({ outputName: "tripled", slurm: { elementsPerTask: 2 } }, () => { t.Triple(); })).pipe(t.ShowTripled());
  },
});

export const tracked_tutorial = command({
  args: { multiplier: { type: "number", required: true } },
  setup() {
    t.GenData().pipe(map({ outputName: "map_computation_result" }, () => { t.Compute(); })).pipe(t.Show());
  },
});

export const tracked_db = command({
  args: { multiplier: { type: "number", required: true } },
  setup() {
    t.GenData().pipe(map({ outputName: "map_computation_result" }, () => { t.ComputeWithDb(); })).pipe(t.Show());
  },
});

export const squares = command({
  args: { count: { type: "integer", default: 100 }, sleep: { type: "integer", default: 0 }, simultaneous: { type: "integer", default: 10 }, perTask: { type: "integer", default: 1 }, maxArray: { type: "integer", default: 0 } },
  db: false,
  setup({ args }) {
    const slurm: Record<string, unknown> = { elementsPerTask: args.perTask, time: "10:00" };
    if (args.maxArray) slurm.maxArraySize = args.maxArray;
    t.Range().pipe(map({ outputName: "squares", simultaneousTasks: args.simultaneous || undefined, slurm }, () => { t.Square(); })).pipe(t.Sum());
  },
});

export const stopper = command({
  args: { count: { type: "integer", default: 6 }, at: { type: "integer", required: true }, log: { type: "string", required: true }, sleep: { type: "integer", default: 0 }, perTask: { type: "integer", default: 1 }, simultaneous: { type: "integer", default: 1 }, fails: { type: "integer", default: -1 }, marker: { type: "string", default: "/nonexistent" }, dies: { type: "integer", default: -1 } },
  setup({ args }) {
    t.Range().pipe(map({ outputName: "squares", simultaneousTasks: args.simultaneous, slurm: { elementsPerTask: args.perTask } }, () => { t.Stopper(); })).pipe(t.Sum());
  },
});

export const even_squares = command({
  args: { count: { type: "integer", default: 7 }, perTask: { type: "integer", default: 1 } },
  db: false,
  setup({ args }) {
    t.Range().pipe(map({ outputName: "squares", slurm: { elementsPerTask: args.perTask } }, () => { t.EvenSquare(); })).pipe(t.Sum());
  },
});

export const flaky = command({
  args: { count: { type: "integer", default: 4 }, bad: { type: "integer", default: -1 }, throws: { type: "integer", default: -1 }, marker: { type: "string", default: "/nonexistent" } },
  db: false,
  setup() {
    t.Range().pipe(map({ outputName: "squares" }, () => { t.Flaky(); })).pipe(t.ShowSquares());
  },
});

export const echo = command({
  args: { text: { type: "string", required: true } },
  db: false,
  setup() {
    t.Texts().pipe(map({ outputName: "echoes" }, () => { t.Echo(); })).pipe(t.ShowEchoes());
  },
});

export const typed = command({
  db: false,
  setup() {
    t.Typed().pipe(map({ outputName: "norms" }, () => { t.Norm(); })).pipe(t.ShowNorms());
  },
});

export const packed = command({
  args: { count: { type: "integer", default: 100 }, simultaneous: { type: "integer", default: 0 }, log: { type: "string", default: "" }, bad: { type: "integer", default: -1 }, exitOn: { type: "integer", default: -1 }, marker: { type: "string", default: "/nonexistent" } },
  db: false,
  setup({ args }) {
    t.Range().pipe(map({ outputName: "squares", simultaneousTasks: args.simultaneous || undefined, slurm: { elementsPerTask: "auto" } }, () => { t.Tally(); })).pipe(t.Sum());
  },
});

export const tracked_packed = command({
  args: { count: { type: "integer", default: 8 }, simultaneous: { type: "integer", default: 2 }, exitOn: { type: "integer", default: -1 }, marker: { type: "string", default: "/nonexistent" } },
  setup({ args }) {
    t.Range().pipe(map({ outputName: "squares", simultaneousTasks: args.simultaneous, slurm: { elementsPerTask: "auto" } }, () => { t.Tally(); })).pipe(t.Sum());
  },
});

export const unwritable = command({
  args: { count: { type: "integer", default: 4 }, bad: { type: "integer", default: -1 }, perTask: { type: "integer", default: 1 } },
  setup({ args }) {
    t.Range().pipe(map({ outputName: "things", slurm: { elementsPerTask: args.perTask } }, () => { t.Unwritable(); })).pipe(t.ShowThings());
  },
});

export const grid = command({
  args: { bad: { type: "integer", default: -1 } },
  db: false,
  setup() {
    t.Grid().pipe(map({ outputName: "grid" }, () => {
      t.RowCells().pipe(map({ outputName: "inner" }, () => { t.Cell(); }));
    })).pipe(t.ShowGrid());
  },
});

export const greedy = command({
  args: { count: { type: "integer", default: 2 } },
  db: false,
  setup() {
    t.Range().pipe(map({ outputName: "squares", cpusPerTask: 64 }, () => { t.Square(); })).pipe(t.Sum());
  },
});

export const bad_packing = command({
  db: false,
  setup() {
    t.Range().pipe(map({ outputName: "squares", slurm: { elementsPerTask: "fast" } }, () => { t.Square(); })).pipe(t.Sum());
  },
});

export const bad_partition = command({
  args: { count: { type: "integer", default: 3 } },
  db: false,
  setup() {
    t.Range().pipe(map({ outputName: "squares", slurm: { partition: "no_such_partition" } }, () => { t.Square(); })).pipe(t.Sum());
  },
});

export const emit_beside = command({
  args: { multiplier: { type: "number", default: 4 } },
  setup() {
    t.Wait().pipe(t.AfterWait());
    t.GenData().pipe(map({ outputName: "map_computation_result" }, () => { t.Compute(); })).pipe(t.Show());
  },
});
`;
