import { spawn, spawnSync } from "node:child_process";
import Database from "better-sqlite3";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildPipeline, checkPipeline, makePipeline, removePipelines } from "../helpers/pipeline-fixture.js";
import { runBundle } from "../helpers/run-bundle.js";

const tasks = `
import { task, context, logger, exitPipeline, Skipped, type SkippedValue, type IterateOn } from "outflow";

let ticks = 0;
export const Seed = task(function Seed(): { value: number } {
  return { value: Number(context.args.value ?? 1) };
});
export const Tick = task(function Tick(value: number): { ticked: number } {
  ticks++;
  logger.info("tick " + ticks);
  if (context.args.stop !== undefined && ticks >= Number(context.args.stop)) exitPipeline("enough ticks");
  if (context.args.boom !== undefined && ticks >= Number(context.args.boom)) throw new Error("boom at tick " + ticks);
  return { ticked: value + ticks };
});
export const After = task(function After(ticked: number): void {
  logger.info("AFTER " + ticked);
});
export const Big = task(function Big(value: number): { label: string } {
  return { label: "big " + value };
});
export const Small = task(function Small(value: number): { label: string } {
  return { label: "small " + value };
});
export const Maybe = task(function Maybe(value: number): { label: string } | SkippedValue {
  return context.args.skip ? Skipped : { label: "maybe " + value };
});
export const Last = task(function Last(label: string): void {
  logger.info("LAST " + label);
});
export const Show = task(function Show(value: number): void {
  logger.info("VALUE " + value);
});
export const Many = task(function Many(): { items: number[] } {
  return { items: [1, 2] };
});
export const Each = task(function Each(item: IterateOn<"items", number>): { value: number } {
  return { value: item * 10 };
});
export const ShowAll = task(function ShowAll(values: number[]): void {
  logger.info("VALUES " + JSON.stringify(values));
});
export const Tall = task(function Tall(value: number): { big: string } {
  return { big: "big" + value };
});
export const Short = task(function Short(value: number): { small: string } {
  return { small: "small" + value };
});
export const ShowLabels = task(function ShowLabels(labels: { big?: string; small?: string }[]): void {
  logger.info("LABELS " + JSON.stringify(labels));
});
export const Pair = task(function Pair(item: IterateOn<"items", number>): { a: number; b?: string } {
  return item > 1 ? { a: item, b: "two" } : { a: item };
});
export const ShowPairs = task(function ShowPairs(pairs: { a: number; b?: string }[]): void {
  logger.info("PAIRS " + JSON.stringify(pairs));
});
export const Spread = task(function Spread(ticked: number): { cells: number[] } {
  return { cells: [0, ticked] };
});
export const Cell = task(function Cell(cell: IterateOn<"cells", number>): { done: number } {
  if (cell === Number(context.args.failAt)) throw new Error("cell " + cell + " refused");
  return { done: cell };
});
export const Refuse = task(function Refuse(value: number): void {
  if (value === Number(context.args.failAt)) throw new Error("value " + value + " refused");
});
`;

const commands = `
import { command, loop, ifThenElse, merge, interactive, map, exitPipeline } from "outflow";
import * as t from "./tasks.js";

export const looping = command({
  args: { stop: { type: "number" }, boom: { type: "number" }, infinite: { type: "boolean", default: false } },
  setup({ args }) {
    const body = loop(args.infinite ? { infinite: true } : { iterations: 3 }, () => { t.Tick(); });
    t.Seed().pipe(body).pipe(t.After());
  },
});
export const branching = command({
  args: { value: { type: "number", default: 1 } },
  setup() {
    const [ifNode, thenNode, elseNode] = ifThenElse((inputs) => (inputs.value as number) > 10);
    const join = merge();
    t.Seed().pipe(ifNode);
    thenNode.pipe(t.Big()).pipe(join);
    elseNode.pipe(t.Small()).pipe(join);
    join.pipe(t.Last());
  },
});
export const manual = command({
  args: { skip: { type: "boolean", default: false }, value: { type: "number", default: 2 } },
  setup() {
    const seed = t.Seed();
    const join = merge();
    seed.pipe(t.Maybe()).pipe(join);
    seed.pipe(t.Small()).pipe(join);
    join.pipe(t.Last());
  },
});
export const counted_loop = command({
  args: { n: { type: "integer", default: 1 } },
  setup({ args }) {
    t.Seed().pipe(loop({ iterations: args.n }, () => { t.Tick(); })).pipe(t.After());
  },
});
export const skipping_loop = command({
  args: { skip: { type: "boolean", default: false }, value: { type: "number", default: 2 } },
  setup() {
    t.Seed().pipe(loop({ iterations: 2 }, () => { t.Maybe(); })).pipe(t.Last());
  },
});
export const decided_to_stop = command({
  setup() {
    const [ifNode, thenNode, elseNode] = ifThenElse(() => exitPipeline("the condition says stop"));
    t.Seed().pipe(ifNode);
    thenNode.pipe(t.Big()).pipe(t.Last());
    elseNode.pipe(t.Show());
  },
});
export const undecided = command({
  setup() {
    const [ifNode, thenNode, elseNode] = ifThenElse(() => { throw new Error("no decision"); });
    t.Seed().pipe(ifNode);
    thenNode.pipe(t.Big()).pipe(t.Last());
    elseNode.pipe(t.Show());
  },
});
export const pausing_each = command({
  setup() {
    t.Many().pipe(map({ outputName: "values" }, () => { t.Each().pipe(interactive()); })).pipe(t.ShowAll());
  },
});
export const merged_elements = command({
  setup() {
    t.Many().pipe(map({ outputName: "labels" }, () => {
      const [ifNode, thenNode, elseNode] = ifThenElse((inputs) => (inputs.value as number) > 10);
      const join = merge();
      t.Each().pipe(ifNode);
      thenNode.pipe(t.Tall()).pipe(join);
      elseNode.pipe(t.Short()).pipe(join);
    })).pipe(t.ShowLabels());
  },
});
export const optional_output_elements = command({
  setup() {
    t.Many().pipe(map({ outputName: "pairs" }, () => { t.Pair(); })).pipe(t.ShowPairs());
  },
});
export const looped_map = command({
  args: { failAt: { type: "number", default: -1 } },
  setup() {
    // Iteration i maps Cell over [0, 2 + i].
    t.Seed().pipe(loop({ iterations: 3 }, () => { t.Tick().pipe(t.Spread()).pipe(map({ outputName: "dones" }, () => { t.Cell(); })); }));
  },
});
export const mapped_loop = command({
  args: { failAt: { type: "number", default: -1 } },
  setup() {
    // Element i runs Refuse on 10 * (i + 1) twice.
    t.Many().pipe(map({ outputName: "refused" }, () => { t.Each().pipe(loop({ iterations: 2 }, () => { t.Refuse(); })); }));
  },
});
export const pausing = command({
  args: { value: { type: "number", default: 5 } },
  setup() {
    t.Seed().pipe(interactive()).pipe(t.Show());
  },
});
export const pausing_twice = command({
  args: { value: { type: "number", default: 5 } },
  setup() {
    t.Seed().pipe(interactive()).pipe(interactive()).pipe(t.Show());
  },
});
`;

let root: string;
beforeAll(async () => {
  root = makePipeline({ "plugins/p/tasks.ts": tasks, "plugins/p/commands.ts": commands });
  expect((await buildPipeline(root)).diagnostics).toEqual([]);
}, 120_000);
afterAll(removePipelines);

const count = (text: string, what: RegExp) => (text.match(what) ?? []).length;

/** The task rows of a command's last run (these columns of them), from the pipeline's SQLite file. */
function lastRunRows(command: string, columns = "kind, name, state, exception_message"): Record<string, unknown>[] {
  const db = new Database(join(root, "outflow.db"), { readonly: true });
  try {
    const run = db.prepare("select uuid from run where command = ? order by start_time desc limit 1").get(command) as { uuid: string };
    return db.prepare(`select ${columns} from task where run_uuid = ? order by id`).all(run.uuid) as Record<string, unknown>[];
  } finally {
    db.close();
  }
}

describe("loop()", () => {
  it("repeats its body the given number of times and passes the last outputs on", () => {
    const r = runBundle(root, "looping", []);
    expect(r.code).toBe(0);
    expect(count(r.output, /- tick \d/g)).toBe(3);
    expect(r.output).toContain("AFTER 4"); // value 1 + 3 ticks in the last iteration
  });

  it("runs an infinite loop until exitPipeline(), then ends the run successfully", () => {
    const r = runBundle(root, "looping", ["--infinite", "--stop", "5"]);
    expect(r.code).toBe(0);
    expect(count(r.output, /- tick \d/g)).toBe(5);
    expect(r.output).toContain("enough ticks");
    expect(r.output).not.toContain("AFTER");
  });

  it("ends an infinite loop with an exception as a failure", () => {
    const r = runBundle(root, "looping", ["--infinite", "--boom", "2"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error: task Tick (loop iteration 1) failed: boom at tick 2");
  });

  it("records each run of the body as an iteration row (loop()[i]), the parent of that run's task rows", () => {
    expect(runBundle(root, "looping", ["--infinite", "--boom", "3"]).code).toBe(1);
    const db = new Database(join(root, "outflow.db"), { readonly: true });
    const run = db.prepare("select uuid from run where command = 'looping' order by start_time desc limit 1").get() as { uuid: string };
    const rows = db.prepare("select t.kind, t.name, t.state, t.element_index as i, p.name as parent, t.exception_message as error from task t left join task p on p.id = t.parent_id where t.run_uuid = ? and t.kind <> 'task' or (t.run_uuid = ? and t.name = 'Tick') order by t.id").all(run.uuid, run.uuid);
    db.close();
    const failed = "boom at tick 3";
    expect(rows).toEqual([
      { kind: "loop", name: "loop()", state: "failed", i: null, parent: null, error: expect.stringContaining(failed) },
      { kind: "iteration", name: "loop()[0]", state: "success", i: 0, parent: "loop()", error: null },
      { kind: "task", name: "Tick", state: "success", i: null, parent: "loop()[0]", error: null },
      { kind: "iteration", name: "loop()[1]", state: "success", i: 1, parent: "loop()", error: null },
      { kind: "task", name: "Tick", state: "success", i: null, parent: "loop()[1]", error: null },
      { kind: "iteration", name: "loop()[2]", state: "failed", i: 2, parent: "loop()", error: expect.stringContaining(failed) },
      { kind: "task", name: "Tick", state: "failed", i: null, parent: "loop()[2]", error: failed },
    ]);
  });
});

describe.each(["sequential", "threads"])("ifThenElse() and merge() on %s", (backend) => {
  it("takes the then branch and skips the else branch", () => {
    const r = runBundle(root, "branching", ["--value", "42", "--backend", backend]);
    expect(r.code).toBe(0);
    expect(r.output).toContain("LAST big 42");
    expect(r.output).not.toContain("small");
  });

  it("takes the else branch", () => {
    const r = runBundle(root, "branching", ["--value", "3", "--backend", backend]);
    expect(r.output).toContain("LAST small 3");
  });
});

describe("Skipped", () => {
  it("a task returning Skipped skips its branch; merge() takes the other", () => {
    const r = runBundle(root, "manual", ["--skip"]);
    expect(r.code).toBe(0);
    expect(r.output).toContain("LAST small 2");
  });

  it("merge() refuses two live branches: one line at the merge() call, and a row holding the failure", () => {
    const r = runBundle(root, "manual", []);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n").filter((l) => l.startsWith("error") || /^\s+at /.test(l))).toEqual([
      expect.stringMatching(/^error: task merge\(\) at plugins\/p\/commands\.ts:\d+:\d+ failed: merge\(\) received outputs from 2 branches/),
    ]);
    expect(lastRunRows("manual").filter((t) => t.state === "failed")).toEqual([{ kind: "control", name: "merge()", state: "failed", exception_message: expect.stringContaining("merge() received outputs from 2 branches") }]);
  });
});

describe("a loop whose body returns Skipped", () => {
  it("skips what follows the loop (up to a merge), as after a skipped task", () => {
    const skipped = runBundle(root, "skipping_loop", ["--skip"]);
    expect(skipped.code, skipped.stderr).toBe(0);
    expect(skipped.output).not.toContain("LAST");
    expect(lastRunRows("skipping_loop").filter((t) => t.kind !== "task" || t.name !== "Maybe")).toEqual([
      { kind: "task", name: "Seed", state: "success", exception_message: null },
      { kind: "loop", name: "loop()", state: "success", exception_message: null },
      { kind: "task", name: "Last", state: "skipped", exception_message: null },
      // Both runs of the body returned Skipped (rows made as they start, after the planned ones).
      { kind: "iteration", name: "loop()[0]", state: "skipped", exception_message: null },
      { kind: "iteration", name: "loop()[1]", state: "skipped", exception_message: null },
    ]);
    // They ran (and returned Skipped): unlike a node on a branch not taken, they have their times; what
    // follows the loop never ran and has none.
    expect(lastRunRows("skipping_loop", "name, state, start_time is not null as started, end_time is not null as ended").filter((t) => t.state === "skipped")).toEqual([
      { name: "Last", started: 0, ended: 0 },
      { name: "loop()[0]", started: 1, ended: 1 },
      { name: "Maybe", started: 1, ended: 1 },
      { name: "loop()[1]", started: 1, ended: 1 },
      { name: "Maybe", started: 1, ended: 1 },
    ].map((t) => ({ ...t, state: "skipped" })));
    const ran = runBundle(root, "skipping_loop", []);
    expect(ran.output).toContain("LAST maybe 2");
  });
});

describe("a loop of zero iterations", () => {
  it("skips what follows it (it has nothing to pass on)", () => {
    const r = runBundle(root, "counted_loop", ["--n", "0"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.output).not.toContain("AFTER");
    expect(lastRunRows("counted_loop").map((t) => [t.kind, t.name, t.state])).toEqual([
      ["task", "Seed", "success"],
      ["loop", "loop()", "success"],
      ["task", "After", "skipped"],
    ]);
    expect(runBundle(root, "counted_loop", ["--n", "2"]).output).toContain("AFTER");
  });
});

describe.each(["sequential", "threads"])("a failure inside a loop iteration on %s", (backend) => {
  it("names the iteration in its error line and rows: (loop iteration 2, map element 1)", () => {
    const r = runBundle(root, "looped_map", ["--fail-at", "4", "--backend", backend]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: task Cell \(loop iteration 2, map element 1\) failed: cell 4 refused$/m);
    const failed = lastRunRows("looped_map").filter((t) => t.state === "failed");
    expect(failed.map((t) => [t.kind, t.name])).toEqual([["loop", "loop()"], ["iteration", "loop()[2]"], ["map", "map(dones)"], ["element", "dones[1]"], ["task", "Cell"]]);
    const where = "task Cell (loop iteration 2, map element 1) failed: cell 4 refused";
    expect(failed.filter((t) => t.kind !== "task").map((t) => t.exception_message)).toEqual([where, where, where, where]);
  });

  it("names the element and the iteration of a loop inside a map body: (map element 1, loop iteration 0)", () => {
    const r = runBundle(root, "mapped_loop", ["--fail-at", "20", "--backend", backend]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: task Refuse \(map element 1, loop iteration 0\) failed: value 20 refused$/m);
  });
});

describe("ifThenElse() conditions", () => {
  it("a condition that calls exitPipeline() ends the run successfully", () => {
    const r = runBundle(root, "decided_to_stop", []);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("exitPipeline(): the condition says stop; the run ends here");
    expect(lastRunRows("decided_to_stop").map((t) => [t.name, t.state])).toEqual([["Seed", "success"], ["Big", "skipped"], ["Show", "skipped"], ["Last", "skipped"]]);
  });

  it("a condition that throws fails the run naming the ifThenElse() and where it is; a row holds the exception", () => {
    const r = runBundle(root, "undecided", []);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: task ifThenElse\(\) condition at plugins\/p\/commands\.ts:\d+:\d+ failed: no decision\n\s+at .*plugins\/p\/commands\.ts:\d+:\d+/m);
    const rows = lastRunRows("undecided");
    expect(rows.filter((t) => t.state === "failed")).toEqual([{ kind: "control", name: "ifThenElse() condition", state: "failed", exception_message: "no decision" }]);
    expect(rows.filter((t) => t.name === "Seed")[0].state).toBe("success");
  });
});

describe("interactive()", () => {
  it("runs in a terminal (a pseudo-terminal from script(1)): .exit ends the first pause, Ctrl-D the second", async () => {
    const child = spawn("script", ["-qfec", `${process.execPath} ${join(root, "dist/pausing_twice.js")}`, "/dev/null"], { env: { ...process.env, NO_COLOR: "1" } });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
    const plain = () => out.replace(/\x1b\[[0-9;]*[A-Za-z]/g, "");
    const waitFor = async (pattern: RegExp) => {
      const end = Date.now() + 15_000;
      while (!pattern.test(plain())) {
        if (Date.now() > end) throw new Error(`no ${pattern} in:\n${plain()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    await waitFor(/outflow> /);
    child.stdin.write("inputs.value = inputs.value + 2\r");
    await waitFor(/^7\r?$/m);
    child.stdin.write(".exit\r");
    await waitFor(/You are inside an outflow interactive task[\s\S]*You are inside an outflow interactive task[\s\S]*outflow> /);
    child.stdin.write("inputs.value = inputs.value * 3\r");
    await waitFor(/^21\r?$/m);
    child.stdin.write("\x04");
    expect(await exited).toBe(0);
    expect(plain()).toContain("VALUE 21");
  }, 30_000);

  it("gives each pause its own piped lines: those up to .exit to the first, the rest to the next", () => {
    const r = spawnSync(process.execPath, [join(root, "dist/pausing_twice.js")], { input: "inputs.value = inputs.value + 1\n.exit\ninputs.value = inputs.value * 10\n", encoding: "utf8", timeout: 30_000, env: { ...process.env, NO_COLOR: "1" } });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.split("You are inside an outflow interactive task").length - 1).toBe(2);
    expect(r.stdout).toContain("outflow> 6");
    expect(r.stdout).toContain("outflow> 60");
    expect(r.stderr + r.stdout).toContain("VALUE 60");
  });

  it("lets the user edit the values flowing through, from piped stdin", () => {
    const r = spawnSync(process.execPath, [join(root, "dist/pausing.js")], { input: "inputs.value = inputs.value * 20\n", encoding: "utf8", timeout: 30_000, env: { ...process.env, NO_COLOR: "1" } });
    expect(r.stdout).toContain("You are inside an outflow interactive task");
    expect(r.stderr + r.stdout).toContain("VALUE 100");
    expect(r.status).toBe(0);
  });
});

describe("interactive() inside a map", () => {
  it("evaluates what is typed in the pipeline context; process.exit() typed there fails the run instead of ending it unrecorded", () => {
    const run = (input: string) => spawnSync(process.execPath, [join(root, "dist/pausing.js"), "--value", "7"], { input, encoding: "utf8", timeout: 30_000, env: { ...process.env, NO_COLOR: "1" } });
    const r = run("context.args.value * 3\ncontext.task.name\n");
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("outflow> 21");
    expect(r.stdout).toContain("'interactive()'");
    const exited = run("process.exit(3)\n");
    expect(exited.status).toBe(1);
    expect(exited.stderr).toContain("error: process.exit(3) was called inside the task");
    expect(lastRunRows("pausing").find((t) => t.name === "Seed")?.state).toBe("success");
    const db = new Database(join(root, "outflow.db"), { readonly: true });
    expect(db.prepare("select state from run where command = 'pausing' order by start_time desc limit 1").get()).toEqual({ state: "failed" });
    db.close();
  });

  it("pauses once per element on the sequential backend", () => {
    const r = spawnSync(process.execPath, [join(root, "dist/pausing_each.js")], { input: "", encoding: "utf8", timeout: 30_000, env: { ...process.env, NO_COLOR: "1" } });
    expect(r.stdout.split("You are inside an outflow interactive task").length - 1).toBe(2);
    expect(r.stderr).toContain("VALUES [10,20]");
    expect(r.status).toBe(0);
  });

  it.each(["threads", "slurm"])("is refused before anything runs on --backend %s, at the interactive() call", (backend) => {
    const r = runBundle(root, "pausing_each", ["--backend", backend]);
    expect(r.code).toBe(1);
    expect(r.stdout).not.toContain("interactive task");
    expect(r.stderr.trim().split("\n").filter((l) => !l.includes(" - outflow.db - "))).toEqual([
      expect.stringMatching(new RegExp(`^error: plugins/p/commands\\.ts:\\d+:\\d+ - interactive\\(\\) inside map\\(values\\) cannot run on --backend ${backend}: the map's elements run in ${backend === "slurm" ? "Slurm array tasks" : "worker threads"}, which have no terminal; run this command with --backend sequential$`)),
    ]);
  });
});

describe("a map element's result is decided by the names the body's terminals offer, not by what ran", () => {
  it.each(["sequential", "threads"])("a body ending in a merge() of branches returning big or small: objects with the one present key (%s)", (backend) => {
    const r = runBundle(root, "merged_elements", ["--backend", backend]);
    expect(r.code, r.output).toBe(0);
    expect(r.output).toContain('LABELS [{"small":"small10"},{"big":"big20"}]');
  });

  it.each(["sequential", "threads"])("a one-task body declaring two outputs, one optional and missing: still an object (%s)", (backend) => {
    const r = runBundle(root, "optional_output_elements", ["--backend", backend]);
    expect(r.code, r.output).toBe(0);
    expect(r.output).toContain('PAIRS [{"a":1},{"a":2,"b":"two"}]');
  });
});

describe("compile-time checks of control flow", () => {
  it("reports an input that merge() gets from only one branch", async () => {
    const bad = makePipeline({
      "plugins/p/tasks.ts": `
import { task } from "outflow";
export const A = task(function A(): { x: number } { return { x: 1 }; });
export const B = task(function B(x: number): { label: string; extra: number } { return { label: "b", extra: x }; });
export const C = task(function C(x: number): { label: string } { return { label: "c" }; });
export const D = task(function D(label: string, extra: number): void {});
`,
      "plugins/p/commands.ts": `
import { command, ifThenElse, merge } from "outflow";
import { A, B, C, D } from "./tasks.js";
export const cmd = command({
  setup() {
    const [i, yes, no] = ifThenElse(() => true);
    const m = merge();
    A().pipe(i);
    yes.pipe(B()).pipe(m);
    no.pipe(C()).pipe(m);
    m.pipe(D());
  },
});
`,
    });
    const diagnostics = await checkPipeline(bad);
    expect(diagnostics).toHaveLength(1);
    expect(diagnostics[0]).toMatchObject({ code: "OF101", site: { file: "plugins/p/commands.ts", line: 11 } });
    expect(diagnostics[0].message).toContain(`needs input "extra" but merge() gets it only from some branches; C does not provide it`);
  }, 60_000);
});
