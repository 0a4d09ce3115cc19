import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildPipeline, lines, makeTutorialPipeline, manage, openSqlite, removePipelines, runBundle, startBundle, startWatched } from "./fixture.js";

let root: string;

type Row = Record<string, unknown>;

function query(sql: string, ...params: unknown[]): Row[] {
  const db = openSqlite(join(root, "outflow.db"));
  try {
    return db.prepare(sql).all(...params) as Row[];
  } finally {
    db.close();
  }
}

function lastRun(command: string): Row {
  return query("select * from run where command = ? order by start_time desc, rowid desc limit 1", command)[0];
}

beforeAll(async () => {
  root = makeTutorialPipeline();
  await buildPipeline(root);
  manage(root, ["db", "upgrade", "heads"]);
});
afterAll(removePipelines);

describe("run and task records on SQLite", () => {
  it("records a failure: the exception on the task, the run failed, a non-zero exit", () => {
    const r = runBundle(root, "explode", []);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("task Boom failed: boom: 3 detectors on fire");
    const run = lastRun("explode");
    expect(run.state).toBe("failed");
    expect(run.end_time).not.toBeNull();
    const tasks = query("select name, state, exception_message, exception_stack from task where run_uuid = ? order by id", run.uuid);
    expect(tasks.map((t) => [t.name, t.state])).toEqual([
      ["Items", "success"],
      ["Boom", "failed"],
      ["After", "pending"],
    ]);
    expect(tasks[1].exception_message).toBe("boom: 3 detectors on fire");
    expect(tasks[1].exception_stack).toMatch(/plugins\/extras\/tasks\.ts:\d+:\d+/);
    expect(tasks[0].exception_message).toBeNull();
  });

  it("says so when a failed run's records could not all be written (they were dropped without a word)", () => {
    const db = new Database(join(root, "outflow.db"));
    db.exec("create trigger refuse_boom before update on task when new.name = 'Boom' and new.state = 'failed' begin select raise(abort, 'disk says no'); end");
    db.close();
    try {
      const r = runBundle(root, "explode", []);
      expect(r.code).toBe(1);
      const run = lastRun("explode");
      expect(lines(r.stderr).filter((l) => !l.startsWith("    at "))).toEqual([
        expect.stringMatching(new RegExp(`outflow\\.db - - - WARNING - writing the run records failed: disk says no; the records of run ${run.uuid} are incomplete$`)),
        "error: task Boom failed: boom: 3 detectors on fire",
      ]);
      expect(run.state).toBe("failed");
    } finally {
      const after = new Database(join(root, "outflow.db"));
      after.exec("drop trigger refuse_boom");
      after.close();
    }
  });

  it("says so when a cancelled run's records could not all be written", async () => {
    const db = new Database(join(root, "outflow.db"));
    db.exec("create trigger refuse_nap before update on task when new.name = 'Nap' begin select raise(abort, 'disk says no'); end");
    db.close();
    try {
      const bundle = startWatched(root, "nap", ["--seconds", "30"]);
      await bundle.until("napping");
      bundle.child.kill("SIGTERM");
      expect(await bundle.closed).toBe(130);
      const run = lastRun("nap");
      expect(run.state).toBe("cancelled");
      expect(lines(bundle.stderr)).toContainEqual(expect.stringMatching(new RegExp(`outflow\\.db - - - WARNING - writing the run records failed: disk says no; the records of run ${run.uuid} are incomplete$`)));
    } finally {
      const after = new Database(join(root, "outflow.db"));
      after.exec("drop trigger refuse_nap");
      after.close();
    }
  });

  it("records map elements and the tasks of the map body with their parent and element index", () => {
    const r = runBundle(root, "squares", []);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("total 14");
    const run = lastRun("squares");
    expect(run.state).toBe("success");
    const rows = query("select id, kind, name, state, parent_id, element_index from task where run_uuid = ? order by id", run.uuid);
    const map = rows.find((t) => t.kind === "map")!;
    expect(map).toMatchObject({ name: "map(squares)", state: "success", parent_id: null });
    const elements = rows.filter((t) => t.kind === "element");
    expect(elements.map((e) => [e.name, e.element_index, e.parent_id])).toEqual([
      ["squares[0]", 0, map.id],
      ["squares[1]", 1, map.id],
      ["squares[2]", 2, map.id],
    ]);
    const squares = rows.filter((t) => t.name === "Square");
    expect(squares.map((s) => [s.parent_id, s.element_index, s.state])).toEqual(elements.map((e) => [e.id, e.element_index, "success"]));
    const edges = query("select f.name as f, t.name as t from edge e join task f on f.id = e.from_task_id join task t on t.id = e.to_task_id where e.run_uuid = ?", run.uuid);
    expect(edges).toEqual([
      { f: "Items", t: "map(squares)" },
      { f: "map(squares)", t: "Total" },
    ]);
  });

  it("records a failing map element: the element's task, the element and the map failed", () => {
    const r = runBundle(root, "squares", ["--fail-at", "2"]);
    expect(r.code, r.stderr).toBe(1);
    const run = lastRun("squares");
    expect(run.state).toBe("failed");
    const rows = query("select kind, name, state, element_index, exception_message from task where run_uuid = ? order by id", run.uuid);
    const failedSquare = rows.find((t) => t.name === "Square" && t.state === "failed")!;
    expect(failedSquare).toMatchObject({ element_index: 1, exception_message: "element 2 refused" });
    expect(rows.find((t) => t.name === "squares[1]")).toMatchObject({ state: "failed" });
    expect(rows.find((t) => t.kind === "map")).toMatchObject({ state: "failed" });
    expect(rows.find((t) => t.name === "Total")).toMatchObject({ state: "pending" });
  });

  it("records the same map rows on both local backends: each element under the map, its task under the element", () => {
    const shape = (backend: string) => {
      const r = runBundle(root, "squares", ["--backend", backend]);
      expect(r.code, r.stderr).toBe(0);
      const run = lastRun("squares");
      expect(run.backend).toBe(backend);
      const rows = query(
        "select t.kind, t.name, t.state, t.element_index as element, p.name as parent, t.start_time is not null and t.end_time is not null as timed from task t left join task p on p.id = t.parent_id where t.run_uuid = ? order by t.kind, t.name, t.element_index",
        run.uuid,
      );
      return rows;
    };
    const sequential = shape("sequential");
    expect(sequential).toEqual([
      { kind: "element", name: "squares[0]", state: "success", element: 0, parent: "map(squares)", timed: 1 },
      { kind: "element", name: "squares[1]", state: "success", element: 1, parent: "map(squares)", timed: 1 },
      { kind: "element", name: "squares[2]", state: "success", element: 2, parent: "map(squares)", timed: 1 },
      { kind: "map", name: "map(squares)", state: "success", element: null, parent: null, timed: 1 },
      { kind: "task", name: "Items", state: "success", element: null, parent: null, timed: 1 },
      { kind: "task", name: "Square", state: "success", element: 0, parent: "squares[0]", timed: 1 },
      { kind: "task", name: "Square", state: "success", element: 1, parent: "squares[1]", timed: 1 },
      { kind: "task", name: "Square", state: "success", element: 2, parent: "squares[2]", timed: 1 },
      { kind: "task", name: "Total", state: "success", element: null, parent: null, timed: 1 },
    ]);
    expect(shape("threads")).toEqual(sequential);
  });

  it("records a cancelled run when the process gets SIGINT (exit 130)", async () => {
    const bundle = startWatched(root, "nap", ["--seconds", "30"]);
    await bundle.until("napping");
    const started = Date.now();
    bundle.child.kill("SIGINT");
    const code = await bundle.closed;
    expect(code).toBe(130);
    expect(Date.now() - started).toBeLessThan(10_000);
    const run = lastRun("nap");
    expect(run.state).toBe("cancelled");
    expect(run.end_time).not.toBeNull();
    const [nap] = query("select state, exception_message from task where run_uuid = ?", run.uuid);
    expect(nap).toEqual({ state: "failed", exception_message: "run cancelled (SIGINT)" });
  });

  it.each(["sequential", "threads"])("records a map interrupted by SIGINT on %s: finished elements success, the rest and the map failed, the run cancelled", async (backend) => {
    const bundle = startWatched(root, "slow_squares", ["--backend", backend, "--workers", "3"]);
    // Sequential reaches element 2 only after element 1 is done; threads starts all three at once.
    await bundle.until("element 2 started");
    // Element 1's records reach the database within a flush (tens of ms).
    await new Promise((r) => setTimeout(r, 300));
    const started = Date.now();
    bundle.child.kill("SIGINT");
    const code = await bundle.closed;
    expect(code, bundle.stderr).toBe(130);
    expect(Date.now() - started).toBeLessThan(10_000);
    const run = lastRun("slow_squares");
    expect(run.state).toBe("cancelled");
    const rows = query("select kind, name, state, element_index, exception_message from task where run_uuid = ? order by id", run.uuid);
    expect(rows.find((r) => r.kind === "map")).toMatchObject({ name: "map(squares)", state: "failed" });
    const element = (i: number) => rows.find((r) => r.kind === "element" && r.element_index === i);
    expect(element(0)?.state).toBe("success");
    expect(element(1)).toMatchObject({ name: "squares[1]", state: "failed", exception_message: "run cancelled (SIGINT)" });
    // The element's task has its row under it on both backends (on threads the worker's records never came back).
    expect(rows.filter((r) => r.name === "SlowSquare" && r.element_index === 1)).toEqual([{ kind: "task", name: "SlowSquare", state: "failed", element_index: 1, exception_message: "run cancelled (SIGINT)" }]);
    expect(rows.filter((r) => r.state === "running")).toEqual([]);
    expect(rows.find((r) => r.name === "Total")?.state).toBe("pending");
  });

  it.each(["sequential", "threads"])("records each element of a cancelled fine-grained map once on %s: none turns success after the cancellation", async (backend) => {
    // A long grace period: elements (and a threads batch's reply) finish after the cancellation was recorded.
    const bundle = startWatched(root, "busy", ["--backend", backend], { OUTFLOW_CANCEL_GRACE_MS: "2500" });
    await bundle.until("element 200 started");
    bundle.child.kill("SIGINT");
    const code = await bundle.closed;
    expect(code, bundle.stderr).toBe(130);
    expect(bundle.stderr).not.toContain("done ");
    const run = lastRun("busy");
    expect(run.state).toBe("cancelled");
    const twice = query("select element_index, count(*) as n from task where run_uuid = ? and kind = 'element' group by element_index having count(*) > 1", run.uuid);
    expect(twice).toEqual([]);
    const states = query("select state, exception_message, count(*) as n from task where run_uuid = ? and kind = 'element' group by state, exception_message order by state", run.uuid);
    expect(states.map((r) => r.state).filter((st) => st !== "success" && st !== "failed")).toEqual([]);
    expect(states.find((r) => r.state === "success" && r.exception_message !== null)).toBeUndefined();
    const elements = states.reduce((n, r) => n + (r.n as number), 0);
    expect(elements).toBeGreaterThan(200);
    expect(elements).toBeLessThan(3000);
  });

  it.each(["sequential", "threads"])("stops an infinite loop of a quick synchronous task on SIGINT on %s: exit 130, the run cancelled", async (backend) => {
    const bundle = startWatched(root, "laps", ["--backend", backend]);
    await bundle.until("lapping");
    bundle.child.kill("SIGINT");
    const code = await Promise.race([bundle.closed, new Promise((r) => setTimeout(() => r("still running"), 10_000))]);
    if (code === "still running") bundle.child.kill("SIGKILL");
    expect(code, bundle.stderr).toBe(130);
    const run = lastRun("laps");
    expect(run.state).toBe("cancelled");
    expect(query("select name from task where run_uuid = ? and state = 'running'", run.uuid)).toEqual([]);
  });

  it.each([[[], "late failure"], [["--rejects"], "nobody awaited this"]])("fails the run, recorded, on an exception outside any task (%s): one line, exit 1, the running task failed with it", (extra, message) => {
    const started = Date.now();
    const r = runBundle(root, "stray", extra);
    expect(r.code, r.stderr).toBe(1);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(r.stderr).toContain(`error: uncaught exception outside any task (a callback or promise of task code that outlived its task?): ${message}`);
    expect(r.stderr).toMatch(/^\s+at .*plugins\/extras\/tasks\.ts:\d+:\d+/m);
    const run = lastRun("stray");
    expect(run.state).toBe("failed");
    expect(run.end_time).not.toBeNull();
    const rows = query("select name, state, exception_message from task where run_uuid = ? order by id", run.uuid);
    expect(rows.map((t) => [t.name, t.state])).toEqual([["Stray", "success"], ["Nap", "failed"]]);
    expect(rows[1].exception_message).toContain(message);
  });

  it("exits 1, not 13, when the callback that threw was the one a task waited for (nothing else keeps the process alive)", () => {
    const r = runBundle(root, "stray_await", []);
    expect(r.stderr).toContain("error: uncaught exception outside any task (a callback or promise of task code that outlived its task?): SyntaxError:");
    expect(r.code).toBe(1);
  });

  it("stops a threads batch at the element that calls exitPipeline(): its later elements never start", () => {
    const r = runBundle(root, "stop_in_map", ["--backend", "threads", "--workers", "2", "--count", "4000", "--at", "1"]);
    expect(r.code, r.stderr).toBe(0);
    const run = lastRun("stop_in_map");
    const elements = query("select element_index as i from task where run_uuid = ? and kind = 'element' order by element_index", run.uuid).map((e) => e.i as number);
    // Elements 0 and 1 of the first batch (250 elements); batches the other worker had taken may finish.
    expect(elements.slice(0, 2)).toEqual([0, 1]);
    expect(elements.filter((i) => i > 1 && i < 250)).toEqual([]);
    expect(elements.length).toBeLessThan(4000);
  });

  it.each(["spin", "spin_untracked"])("stops a sequential map of slow synchronous elements after the element in flight on SIGINT (%s)", async (command) => {
    const bundle = startWatched(root, command, ["--ms", "1000"]);
    await bundle.until("element 0 started");
    bundle.child.kill("SIGINT");
    const code = await bundle.closed;
    expect(code, bundle.stderr).toBe(130);
    // The signal is handled once element 0 gives the event loop back: element 1 never starts.
    expect(bundle.stderr).not.toContain("element 1 started");
    if (command === "spin_untracked") return;
    const run = lastRun("spin");
    expect(run.state).toBe("cancelled");
    const elements = query("select element_index from task where run_uuid = ? and kind = 'element' order by element_index", run.uuid);
    expect(elements).toEqual([{ element_index: 0 }]);
  });

  it("stops a sequential map at its first failing element: the elements after it never run and have no rows", () => {
    const r = runBundle(root, "squares", ["--failAt", "2"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("element 2 refused");
    const run = lastRun("squares");
    const rows = query("select name, state from task where run_uuid = ? and kind = 'element' order by element_index", run.uuid);
    expect(rows).toEqual([
      { name: "squares[0]", state: "success" },
      { name: "squares[1]", state: "failed" },
    ]);
  });

  it("fails a task that calls process.exit() on sequential (it would leave the run running, its records unwritten): the run is recorded failed", () => {
    const r = runBundle(root, "squares", ["--crashAt", "2"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error: task Square (map element 1) failed: ProcessExit: process.exit(7) was called inside the task");
    const run = lastRun("squares");
    expect(run.state).toBe("failed");
    const rows = query("select kind, name, state from task where run_uuid = ? order by id", run.uuid);
    expect(rows.filter((t) => t.kind !== "element" && t.name !== "Square")).toEqual([
      { kind: "task", name: "Items", state: "success" },
      { kind: "map", name: "map(squares)", state: "failed" },
      { kind: "task", name: "Total", state: "pending" },
    ]);
    expect(rows.filter((t) => t.kind === "element").map((t) => [t.name, t.state])).toEqual([
      ["squares[0]", "success"],
      ["squares[1]", "failed"],
    ]);
  });

  it("records the element whose worker died (threads): failed with the exit, the one before success, the run failed", () => {
    // One worker: element 0 succeeds, element 1 kills the worker, and the map stops there (as sequential does).
    const r = runBundle(root, "squares", ["--backend", "threads", "--workers", "1", "--crashAt", "2"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/worker thread exited with code 7/);
    const run = lastRun("squares");
    expect(run.state).toBe("failed");
    const rows = query("select kind, name, state, element_index, exception_message from task where run_uuid = ? and kind = 'element' order by element_index", run.uuid);
    expect(rows.map((e) => [e.name, e.state])).toEqual([
      ["squares[0]", "success"],
      ["squares[1]", "failed"],
    ]);
    expect(rows[1].exception_message).toMatch(/worker thread exited with code 7/);
    const square = query("select state, exception_message from task where run_uuid = ? and name = 'Square' and element_index = 1", run.uuid);
    expect(square).toHaveLength(1);
    expect(square[0].state).toBe("failed");
    expect(square[0].exception_message).toMatch(/worker thread exited with code 7/);
  });

  it("records a fine map whose worker dies mid-stream (threads): the crashing element failed, every other element once, none failed", () => {
    // One worker, batches of 500: the batch that kills it is split into single elements (run after the
    // other batches) until the element is found; no element is blamed or recorded twice, and the process
    // ends (the replacement worker, still starting when the map fails, is terminated).
    const r = runBundle(root, "fragile", ["--backend", "threads", "--workers", "1", "--count", "4000", "--crashAt", "1700"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/task Fragile \(map element 1700\) failed: .*worker thread exited with code 7/);
    const run = lastRun("fragile");
    expect(run.state).toBe("failed");
    const rows = query("select element_index as i, state, count(*) as n from task where run_uuid = ? and kind = 'element' group by element_index order by element_index", run.uuid);
    expect(rows.filter((e) => (e.n as number) > 1)).toEqual([]);
    expect(rows.filter((e) => e.state !== "success").map((e) => [e.i, e.state])).toEqual([[1700, "failed"]]);
    // Everything before the crash was recorded (the worker ran it before dying or again after).
    expect(rows.filter((e) => (e.i as number) < 1700)).toHaveLength(1700);
  });

  it("records the element whose result cannot leave its worker (threads): that element and its task failed with the clone error, the others once", () => {
    // The batch cannot be sent back as a whole: it is run again one element at a time to find the culprit.
    const log = join(mkdtempSync(join(tmpdir(), "outflow-unsendable-")), "ran.txt");
    const r = runBundle(root, "unsendable", ["--backend", "threads", "--workers", "1", "--count", "3000", "--at", "1700", "--log", log]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error: task Unsendable \(map element 1700\) failed: DataCloneError: a result cannot be sent back from the worker thread: .*could not be cloned/);
    const run = lastRun("unsendable");
    expect(run.state).toBe("failed");
    const rows = query("select element_index as i, state, count(*) as n from task where run_uuid = ? and kind = 'element' group by element_index order by element_index", run.uuid);
    expect(rows.filter((e) => (e.n as number) > 1)).toEqual([]);
    expect(rows.filter((e) => e.state !== "success").map((e) => [e.i, e.state])).toEqual([[1700, "failed"]]);
    expect(rows.filter((e) => (e.i as number) < 1700)).toHaveLength(1700);
    const failed = query("select kind, name, exception_message from task where run_uuid = ? and element_index = 1700 and state = 'failed' order by id", run.uuid);
    expect(failed.map((f) => [f.kind, f.name])).toEqual([["element", "busy[1700]"], ["task", "Unsendable"]]);
    expect(failed[0].exception_message).toMatch(/^task Unsendable \(map element 1700\) failed: DataCloneError: /);
    expect(failed[1].exception_message).toMatch(/^DataCloneError: a result cannot be sent back from the worker thread/);
    // The culprit is found without running its batch again: element 1600 (same batch) ran once.
    expect(readFileSync(log, "utf8").split("\n").filter((n) => n === "1600")).toHaveLength(1);
  });

  it.each(["sequential", "threads"])("records a non-Error thrown by a map element the same way on %s: its text, no stack", (backend) => {
    const r = runBundle(root, "unsendable", ["--backend", backend, "--count", "5", "--at", "3", "--throw"]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toEqual(["error: task Unsendable (map element 3) failed: not an Error"]);
    const run = lastRun("unsendable");
    const failed = query("select kind, exception_message, exception_stack from task where run_uuid = ? and element_index = 3 and state = 'failed' order by id", run.uuid);
    expect(failed).toEqual([
      { kind: "element", exception_message: "task Unsendable (map element 3) failed: not an Error", exception_stack: null },
      { kind: "task", exception_message: "not an Error", exception_stack: null },
    ]);
  });

  it.each(["sequential", "threads"])("ends the run successfully when a map element calls exitPipeline() on %s: the element and its task success, what was not reached skipped", (backend) => {
    const r = runBundle(root, "stop_in_map", ["--backend", backend, "--at", "2"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("exitPipeline(): element 2 says stop; the run ends here");
    const run = lastRun("stop_in_map");
    expect(run.state).toBe("success");
    const rows = query("select kind, name, state, element_index as i from task where run_uuid = ? order by id", run.uuid);
    expect(rows.filter((t) => t.kind !== "element" && t.name !== "Stopper")).toEqual([
      { kind: "task", name: "Numbers", state: "success", i: null },
      { kind: "map", name: "map(busy)", state: "success", i: null },
      { kind: "task", name: "Done", state: "skipped", i: null },
    ]);
    expect(rows.filter((t) => t.i === 2).map((t) => [t.kind, t.state])).toEqual([["element", "success"], ["task", "success"]]);
    expect(rows.filter((t) => t.state !== "success" && t.state !== "skipped")).toEqual([]);
  });

  it.each(["sequential", "threads"])("records a map and a loop on the branch not taken as skipped on %s, with no start or end time (they never ran)", (backend) => {
    const r = runBundle(root, "skip_branches", ["--backend", backend]);
    expect(r.code, r.stderr).toBe(0);
    const run = lastRun("skip_branches");
    expect(run.state).toBe("success");
    const rows = query("select kind, name, state, start_time is not null as started, end_time is not null as ended from task where run_uuid = ? order by id", run.uuid);
    expect(rows).toEqual([
      { kind: "task", name: "Numbers", state: "success", started: 1, ended: 1 },
      { kind: "map", name: "map(busy)", state: "skipped", started: 0, ended: 0 },
      { kind: "loop", name: "loop()", state: "skipped", started: 0, ended: 0 },
      { kind: "task", name: "Hello", state: "success", started: 1, ended: 1 },
      { kind: "task", name: "Done", state: "skipped", started: 0, ended: 0 },
    ]);
  });

  // Hello is called three times: its events must reach the row of the call that made them, not the next
  // pending Hello row (the Hello after a Nap of 0.5 s starts last, though it comes first in the plan).
  it.each([
    ["sequential", "3"],
    ["sequential", "200"],
    ["threads", "3"],
    ["threads", "200"],
  ])("records a task called on both branches of an ifThenElse() and on a parallel branch in the rows of its calls on %s (count %s)", (backend, count) => {
    const r = runBundle(root, "twice", ["--backend", backend, "--count", count]);
    expect(r.code, r.stderr).toBe(0);
    const run = lastRun("twice");
    expect(run.state).toBe("success");
    // Each Hello row by the row its one edge comes from, which has ended before it started (if it ran).
    const rows = query(
      "select t.name, t.state, t.start_time as start, t.end_time as end, p.name as after, p.state as after_state, p.end_time as after_end from task t join edge e on e.to_task_id = t.id join task p on p.id = e.from_task_id where t.run_uuid = ? and t.name = 'Hello' order by t.id",
      run.uuid,
    );
    const then = Number(count) > 100;
    expect(rows.map((t) => [t.after, t.state, t.start !== null, t.end !== null])).toEqual([
      ["Nap", "success", true, true],
      ["Numbers", then ? "success" : "skipped", then, then],
      ["After", then ? "skipped" : "success", !then, !then],
    ]);
    for (const t of rows.filter((t) => t.state === "success")) {
      expect(t.after_state).toBe("success");
      expect(new Date(t.start as string).getTime()).toBeGreaterThanOrEqual(new Date(t.after_end as string).getTime());
    }
    expect(query("select state from task where run_uuid = ? and name = 'After'", run.uuid)).toEqual([{ state: then ? "skipped" : "success" }]);
  });

  it.each(["sequential", "threads"])("records two loops on parallel branches in their own rows on %s (the one after a Nap starts last, though it comes first in the plan)", (backend) => {
    const r = runBundle(root, "twice_loops", ["--backend", backend]);
    expect(r.code, r.stderr).toBe(0);
    const run = lastRun("twice_loops");
    const rows = query(
      "select p.name as after, t.state, t.start_time as start, p.end_time as after_end, (select count(*) from task i where i.parent_id = t.id) as iterations from task t join edge e on e.to_task_id = t.id join task p on p.id = e.from_task_id where t.run_uuid = ? and t.kind = 'loop' order by t.id",
      run.uuid,
    );
    expect(rows.map((t) => [t.after, t.state, t.iterations])).toEqual([
      ["Nap", "success", 1],
      ["Numbers", "success", 2],
    ]);
    for (const t of rows) expect(new Date(t.start as string).getTime()).toBeGreaterThanOrEqual(new Date(t.after_end as string).getTime());
  });

  it.each(["sequential", "threads"])("records the tasks and loops of a map body's branch not taken as skipped with no times on %s, under their element", (backend) => {
    const r = runBundle(root, "skip_in_elements", ["--backend", backend]);
    expect(r.code, r.stderr).toBe(0);
    const run = lastRun("skip_in_elements");
    const rows = query(
      "select t.kind, t.name, t.state, t.element_index as i, p.name as parent, t.start_time is not null as started, t.end_time is not null as ended from task t left join task p on p.id = t.parent_id where t.run_uuid = ? and t.parent_id is not null and t.state = 'skipped' order by t.element_index, t.id",
      run.uuid,
    );
    expect(rows).toEqual([
      { kind: "loop", name: "loop()", state: "skipped", i: 0, parent: "busy[0]", started: 0, ended: 0 },
      { kind: "task", name: "Hello", state: "skipped", i: 1, parent: "busy[1]", started: 0, ended: 0 },
      { kind: "loop", name: "loop()", state: "skipped", i: 2, parent: "busy[2]", started: 0, ended: 0 },
    ]);
    // What ran has its times: every other row of the run.
    expect(query("select count(*) as n from task where run_uuid = ? and state <> 'skipped' and (start_time is null or end_time is null)", run.uuid)).toEqual([{ n: 0 }]);
    expect(query("select count(*) as n from task where run_uuid = ? and state <> 'skipped'", run.uuid)).toEqual([{ n: 3 + 2 + 3 + 3 + 2 }]);
  });

  it("records eight concurrent runs on one SQLite file, none of them locked out", async () => {
    const before = (query("select count(*) as n from run")[0].n as number) ?? 0;
    const children = Array.from({ length: 8 }, (_, i) => {
      const child = startBundle(root, "compute_data", ["--multiplier", String(10 + i)]);
      let out = "";
      child.stdout!.on("data", (d) => (out += d));
      child.stderr!.on("data", (d) => (out += d));
      return new Promise<{ code: number | null; out: string }>((resolve) => child.on("close", (code) => resolve({ code, out })));
    });
    const results = await Promise.all(children);
    for (const r of results) {
      expect(r.out).not.toContain("database is locked");
      expect(r.code, r.out).toBe(0);
    }
    const runs = query("select state, args from run order by rowid").slice(before);
    expect(runs).toHaveLength(8);
    expect(runs.every((r) => r.state === "success")).toBe(true);
    const multipliers = runs.map((r) => JSON.parse(r.args as string).multiplier).sort((a, b) => a - b);
    expect(multipliers).toEqual([10, 11, 12, 13, 14, 15, 16, 17]);
    const results42 = query("select multiplier, result from computation_result where multiplier >= 10 order by multiplier");
    expect(results42).toEqual(multipliers.map((m) => ({ multiplier: m, result: 42 * m })));
    expect(query("select count(*) as n from task where state != 'success' and run_uuid in (select uuid from run where command = 'compute_data')")[0].n).toBe(0);
  });

  it("stores the configuration once per distinct content, credentials masked", () => {
    const runs = query("select distinct configuration_id as id from run");
    const configs = query("select id, content, hash from configuration");
    expect(configs.length).toBeGreaterThanOrEqual(1);
    expect(runs.every((r) => configs.some((c) => c.id === r.id))).toBe(true);
    for (const c of configs) expect(c.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it("names each way a model and its table differ in one line (a renamed column: the one the table lacks, the one it keeps)", () => {
    renameColumn("result", "value");
    const r = runBundle(root, "compute_data", ["--multiplier", "3"]);
    renameColumn("value", "result");
    expect(r.code).toBe(1);
    const found = lines(r.stderr);
    expect(found).toHaveLength(2);
    expect(found[0]).toMatch(/^error: model ComputationResult \(data_reduction\) does not match table computation_result in database "default" .*: column result: the model has integer not null, the table has no such column; create a migration/);
    expect(found[1]).toMatch(/^error: model ComputationResult \(data_reduction\) does not match table computation_result .*: column value: the table has integer not null without a default, the model has no such column/);
  });
});

function renameColumn(from: string, to: string): void {
  const writable = new Database(join(root, "outflow.db"));
  writable.exec(`alter table computation_result rename column ${from} to ${to}`);
  writable.close();
}

describe("Ctrl-C while the databases open", () => {
  const SLOW_MIGRATION = `import { Migration } from "@mikro-orm/migrations";

/** Takes its time: a signal arrives while a fresh database is being migrated at run start. */
export class Migration20990101000000_slow extends Migration {
  override async up(): Promise<void> {
    process.stderr.write("slow migration started\\n");
    await new Promise((resolve) => setTimeout(resolve, 2500));
    this.addSql("create table \`slow_marker\` (\`id\` integer not null primary key);");
  }

  override async down(): Promise<void> {
    this.addSql("drop table if exists \`slow_marker\`;");
  }
}
`;
  let fresh: string;
  beforeAll(async () => {
    fresh = makeTutorialPipeline({ "plugins/extras/migrations/sqlite/Migration20990101000000_slow.ts": SLOW_MIGRATION });
    await buildPipeline(fresh);
  }, 120_000);

  it("lets the start-up finish, then records the run cancelled (exit 130), never `running`", async () => {
    const bundle = startWatched(fresh, "nap", ["--seconds", "30"]);
    await bundle.until("slow migration started");
    bundle.child.kill("SIGINT");
    const code = await bundle.closed;
    expect(code, bundle.stderr).toBe(130);
    expect(bundle.stderr).not.toContain("napping");
    const db = openSqlite(join(fresh, "outflow.db"));
    try {
      const runs = db.prepare("select state, end_time from run where command = 'nap'").all() as Row[];
      expect(runs).toHaveLength(1);
      expect(runs[0].state).toBe("cancelled");
      expect(runs[0].end_time).not.toBeNull();
      const tasks = db.prepare("select name, state from task").all() as Row[];
      expect(tasks).toEqual([{ name: "Nap", state: "pending" }]);
      // The migration ran whole (table and bookkeeping together), not half.
      const marker = db.prepare("select count(*) as n from sqlite_master where name = 'slow_marker'").get() as Row;
      const applied = db.prepare("select count(*) as n from outflow_migrations__extras where name like '%slow%'").get() as Row;
      expect([marker.n, applied.n]).toEqual([1, 1]);
    } finally {
      db.close();
    }
  });
});
