/**
 * The slurm backend on a real Slurm (scripts/slurm-up.sh starts a single-node one; run as root, the suite
 * runs it itself when no Slurm answers). Outside CI the suite skips, saying why, when no Slurm can be had
 * (no root); in CI (process.env.CI set) it must run.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deserialize } from "node:v8";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildPipeline, makePipeline, removePipelines } from "../helpers/pipeline-fixture.js";
import { runBundle, type BundleRun } from "../helpers/run-bundle.js";
import { SlurmCluster } from "../../runtime/backends/slurm/cluster.js";
import { commands, tasks } from "./fixture.js";

function slurmProblem(): string | undefined {
  const r = spawnSync("sinfo", ["--noheader", "--format=%T"], { encoding: "utf8" });
  if (r.error) return `no Slurm here (sinfo: ${r.error.message}); run scripts/slurm-up.sh as root`;
  if (r.status !== 0) return `Slurm does not answer (sinfo: ${r.stderr.trim()}); run scripts/slurm-up.sh as root`;
  if (!/idle|mixed|alloc|completing/.test(r.stdout)) return `no usable Slurm node (sinfo: ${r.stdout.trim()})`;
  return undefined;
}

/** `npm test` starts what it needs: as root, bring up the single-node Slurm when none answers. */
function ensureSlurm(): string | undefined {
  const first = slurmProblem();
  if (!first || process.getuid?.() !== 0) return first;
  const up = spawnSync(join(import.meta.dirname ?? new URL(".", import.meta.url).pathname, "../../scripts/slurm-up.sh"), [], { encoding: "utf8", timeout: 300_000 });
  if (up.status !== 0) return `${first}; scripts/slurm-up.sh failed: ${(up.stderr || String(up.error)).trim().split("\n").pop()}`;
  return slurmProblem();
}

const problem = ensureSlurm();
if (problem && !process.env.CI) process.stdout.write(`test/slurm skipped: ${problem}\n`);
const suite = problem && !process.env.CI ? describe.skip : describe;

let root: string;
const scratch = mkdtempSync(join(tmpdir(), "outflow-slurm-scratch-"));

/** The `RESULT <json>` the terminal task logs. */
function result(run: BundleRun): unknown {
  const m = /RESULT (.*)$/m.exec(run.output);
  if (!m) throw new Error(`no RESULT line (exit ${run.code}):\n${run.output}`);
  return JSON.parse(m[1]);
}

function runDirs(): string[] {
  const base = join(root, ".outflow", "runs");
  return existsSync(base) ? readdirSync(base).map((d) => join(base, d)) : [];
}

/** Runs a command and returns the run directory it created. */
function runSlurm(bundle: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeout?: number } = {}): { run: BundleRun; dir: string } {
  const before = new Set(runDirs());
  const run = runBundle(root, bundle, ["--backend", "slurm", ...args], { timeout: opts.timeout ?? 90_000, env: opts.env });
  const created = runDirs().filter((d) => !before.has(d));
  return { run, dir: created[0] };
}

function mapFile(runDir: string): { perTask: number; tasks: number; count: number; jobName: string; arrays: { script: string; spec: string; jobId?: string }[] } {
  return JSON.parse(readFileSync(join(runDir, "map-1", "map.json"), "utf8"));
}

/** The task rows of the tracked run whose run directory is `dir`. */
function taskRows(dir: string): Record<string, unknown>[] {
  const db = new Database(join(root, "outflow.db"), { readonly: true });
  try {
    return db.prepare("select id, kind, name, state, element_index, parent_id, exception_message from task where run_uuid = ? order by id").all(dir.split("/").pop()!) as Record<string, unknown>[];
  } finally {
    db.close();
  }
}

/** The run rows of the tracked runs of run directory `dir`: the first run, then its resubmissions. */
function runRows(dir: string): Record<string, unknown>[] {
  const db = new Database(join(root, "outflow.db"), { readonly: true });
  try {
    const id = dir.split("/").pop()!;
    return db.prepare("select uuid, state, resubmission_of_uuid from run where uuid = ? or resubmission_of_uuid = ? order by start_time").all(id, id) as Record<string, unknown>[];
  } finally {
    db.close();
  }
}

function squeue(args: string[]): string[] {
  const r = spawnSync("squeue", ["--noheader", ...args], { encoding: "utf8" });
  return r.stdout.split("\n").filter(Boolean);
}

async function waitForJob(jobId: string, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (squeue(["--array", `--jobs=${jobId}`, "--format=%i"]).length) {
    if (Date.now() > end) throw new Error(`job ${jobId} still in the queue after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

suite("slurm backend on a real Slurm", () => {
  beforeAll(async () => {
    if (problem) throw new Error(`CI must run the slurm tests: ${problem}`);
    root = makePipeline({ "plugins/p/tasks.ts": tasks, "plugins/p/commands.ts": commands });
    const built = await buildPipeline(root);
    expect(built.diagnostics).toEqual([]);
    const up = runBundle(root, "manage", ["management", "db", "upgrade", "heads"]);
    expect(up.code, up.output).toBe(0);
  }, 120_000);

  afterAll(() => {
    removePipelines();
    rmSync(scratch, { recursive: true, force: true });
  });

  it("runs the tutorial map as one array and gives the sequential result", () => {
    const sequential = runBundle(root, "tutorial", ["--multiplier", "3"]);
    expect(sequential.code, sequential.output).toBe(0);
    const { run, dir } = runSlurm("tutorial", ["--multiplier", "3"]);
    expect(run.code, run.output).toBe(0);
    expect(result(run)).toEqual(result(sequential));
    expect(result(run)).toEqual([126, 129, 132, 135]);
    const map = mapFile(dir);
    expect(map.arrays).toHaveLength(1);
    expect(map.arrays[0].spec).toBe("0-3");
    const script = readFileSync(join(dir, "map-1", map.arrays[0].script), "utf8");
    expect(script).toContain("#SBATCH --array=0-3\n");
    expect(script).toContain("#SBATCH --cpus-per-task=1\n");
    expect(script).toContain(`#SBATCH --job-name=${map.jobName}\n`);
    expect(readdirSync(join(dir, "map-1", "logs")).sort()).toEqual(["0.err", "0.out", "1.err", "1.out", "2.err", "2.out", "3.err", "3.out"]);
  });

  it.each([1, 3])("leaves elements that return Skipped out of the results, in one array task each or packed %i per task", (perTask) => {
    const { run } = runSlurm("even_squares", ["--per-task", String(perTask)]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.output).toContain(`RESULT {"n":4,"sum":56,"first":[0,4,16],"last":36}`);
  });

  it("maps over a typed array: each array task gets its slice, -0 intact, results in input order", () => {
    const { run, dir } = runSlurm("typed_samples", ["--log-level", "DEBUG"]);
    expect(run.code, run.output).toBe(0);
    expect(result(run)).toEqual([1.5, 4.5, 7.5, 99]);
    expect(mapFile(dir).arrays[0].spec).toBe("0-1");
    // --log-level reaches the array tasks: the task's own debug line is in its log.
    expect(readFileSync(join(dir, "map-1", "logs", "0.err"), "utf8")).toContain("tripling 0.5");
  });

  it("records a tracked run's elements in its database and warns once about SQLite", () => {
    const { run, dir } = runSlurm("tracked_tutorial", ["--multiplier", "2"]);
    expect(run.code, run.output).toBe(0);
    expect(result(run)).toEqual([84, 86, 88, 90]);
    expect(run.output.match(/the run's database is SQLite/g)).toHaveLength(1);
    const runId = dir.split("/").pop()!;
    const db = new Database(join(root, "outflow.db"), { readonly: true });
    const rows = db.prepare("select name, state, kind from task where run_uuid = ? order by id").all(runId) as { name: string; state: string; kind: string }[];
    const state = db.prepare("select state, backend from run where uuid = ?").get(runId);
    db.close();
    expect(state).toEqual({ state: "success", backend: "slurm" });
    expect(rows.filter((r) => r.name === "Compute").map((r) => r.state)).toEqual(["success", "success", "success", "success"]);
    expect(rows.filter((r) => r.kind === "element").map((r) => r.name).sort()).toEqual([0, 1, 2, 3].map((i) => `map_computation_result[${i}]`));
  });

  it.each([
    { perTask: 1, at: 2, ran: [0, 1, 2], never: [4, 5] },
    { perTask: 3, at: 1, ran: [0, 1], never: [2, 5] },
  ])("ends the run successfully when an element calls exitPipeline() ($perTask per array task): tasks not started are cancelled", ({ perTask, at, ran, never }) => {
    const log = join(scratch, `stopper-${perTask}.log`);
    const { run, dir } = runSlurm("stopper", ["--at", String(at), "--log", log, "--sleep", "1000", "--per-task", String(perTask)]);
    expect(run.code, run.output).toBe(0);
    expect(run.stderr).toContain(`map(squares): element ${at} called exitPipeline(): the array tasks not started are cancelled`);
    expect(run.stderr).toContain(`exitPipeline(): element ${at} says stop; the run ends here`);
    expect(run.output).not.toContain("RESULT");
    const started = readFileSync(log, "utf8").split("\n").filter(Boolean).map(Number);
    for (const i of ran) expect(started).toContain(i);
    for (const i of never) expect(started).not.toContain(i);
    // Nothing of the array is left in the queue.
    const jobId = mapFile(dir).arrays[0].jobId!;
    expect(squeue(["--array", `--jobs=${jobId}`, "--states=PENDING,RUNNING", "--format=%K"])).toEqual([]);
    const runId = dir.split("/").pop()!;
    const db = new Database(join(root, "outflow.db"), { readonly: true });
    const state = db.prepare("select state from run where uuid = ?").get(runId);
    const rows = db.prepare("select name, state, kind from task where run_uuid = ? order by id").all(runId) as { name: string; state: string; kind: string }[];
    db.close();
    expect(state).toEqual({ state: "success" });
    expect(rows.filter((r) => r.state === "running" || r.state === "pending")).toEqual([]);
    // The element that stopped the run, and its task, succeeded; Sum was never reached.
    expect(rows.find((r) => r.name === `squares[${at}]`)?.state).toBe("success");
    expect(rows.find((r) => r.name === "Sum")?.state).toBe("skipped");
    expect(rows.filter((r) => r.name === "Stopper").every((r) => r.state === "success")).toBe(true);
  }, 60_000);

  it("an array task still running when an element calls exitPipeline() and then dies gets its rows; the run still ends successfully", () => {
    const log = join(scratch, "stopper-dies.log");
    const { run, dir } = runSlurm("stopper", ["--count", "4", "--at", "0", "--dies", "1", "--simultaneous", "2", "--log", log]);
    expect(run.code, run.output).toBe(0);
    const rows = taskRows(dir);
    expect(rows.find((r) => r.name === "squares[0]")?.state).toBe("success");
    expect(rows.find((r) => r.name === "squares[1]")).toMatchObject({ state: "failed", exception_message: expect.stringContaining("array task 1 ended: exit code 3") });
    expect(rows.filter((r) => r.state === "running")).toEqual([]);
  }, 60_000);

  it("a failure that came back before an exitPipeline() fails the run; its resubmission ends at that exitPipeline() without submitting", () => {
    const log = join(scratch, "stopper-resubmit.log");
    const marker = join(scratch, "stopper-resubmit-marker");
    writeFileSync(marker, "");
    const { run, dir } = runSlurm("stopper", ["--count", "4", "--at", "3", "--fails", "1", "--marker", marker, "--log", log]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("map(squares): element 1 (array task 1) failed: exit code 1: task Stopper: RangeError: element 1 refuses");
    rmSync(marker);
    const again = runBundle(root, "stopper", ["--resubmit-failed", dir]);
    expect(again.code, again.output).toBe(0);
    expect(again.stderr).toContain("map(squares): element 3 called exitPipeline() in an earlier attempt: nothing more is submitted");
    expect(again.stderr).toContain("exitPipeline(): element 3 says stop; the run ends here");
    expect(mapFile(dir).arrays).toHaveLength(1);
    // The resubmission is a run of its own, linked to the run it completes, which stays failed.
    const id = dir.split("/").pop()!;
    expect(runRows(dir)).toEqual([
      { uuid: id, state: "failed", resubmission_of_uuid: null },
      { uuid: expect.any(String), state: "success", resubmission_of_uuid: id },
    ]);
    expect(again.stderr).toContain(`is a resubmission of run ${id}`);
  }, 60_000);

  it("records the elements of an array task that died: what its journal kept as it ran, the rest failed with how the task ended", () => {
    const marker = join(scratch, "tracked-packed-exit");
    writeFileSync(marker, "");
    const { run, dir } = runSlurm("tracked_packed", ["--exit-on", "5", "--marker", marker]);
    expect(run.code).toBe(1);
    const log = join(dir, "map-1", "logs", "1.err");
    expect(run.stderr).toContain(`map(squares): elements 5-7 (array task 1) failed: exit code 3; log: ${log}`);
    const rows = taskRows(dir);
    const elements = rows.filter((r) => r.kind === "element").sort((a, b) => (a.element_index as number) - (b.element_index as number));
    expect(elements.map((r) => [r.name, r.state])).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map((i) => [`squares[${i}]`, i < 5 ? "success" : "failed"]));
    for (const e of elements.slice(5)) expect(e.exception_message).toBe(`task Tally (map element ${e.element_index}) failed: array task 1 ended: exit code 3; log: ${log}`);
    // Each element's task row under it, as on the local backends.
    const tally = rows.filter((r) => r.name === "Tally");
    expect(tally.map((r) => [elements.find((e) => e.id === r.parent_id)?.name, r.state]).sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map((i) => [`squares[${i}]`, i < 5 ? "success" : "failed"]));
    expect(rows.filter((r) => r.state === "running")).toEqual([]);
    rmSync(marker);
  }, 60_000);

  it.each([1, 2])("fails only the element whose result cannot be written for the driver (%i per array task), in its records too", (perTask) => {
    const { run, dir } = runSlurm("unwritable", ["--bad", "1", "--per-task", String(perTask)]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`map(things): element 1 (array task ${perTask === 1 ? 1 : 0}) failed: exit code 1: task Unwritable: a result cannot be written for the driver: () => number could not be cloned.`);
    expect(run.stderr).toMatch(/1 of 4 elements failed on Slurm/);
    const rows = taskRows(dir);
    const byElement = (i: number) => rows.find((r) => r.name === `things[${i}]`);
    expect([0, 1, 2, 3].map((i) => byElement(i)?.state)).toEqual(["success", "failed", "success", "success"]);
    const task = rows.find((r) => r.name === "Unwritable" && r.parent_id === byElement(1)?.id);
    expect(task).toMatchObject({ state: "failed", exception_message: "a result cannot be written for the driver: () => number could not be cloned." });
  }, 60_000);

  it("runs nested maps (the inner one inside each array task) and names an inner element's failure by its path", () => {
    const sequential = runBundle(root, "grid", []);
    const { run } = runSlurm("grid", []);
    expect(run.code, run.output).toBe(0);
    expect(result(run)).toEqual([[0, 2], [20, 22], [40, 42]]);
    expect(result(run)).toEqual(result(sequential));
    const failed = runSlurm("grid", ["--bad", "21"]);
    expect(failed.run.code).toBe(1);
    expect(failed.run.stderr).toContain("map(grid): element 2 (array task 2) failed: exit code 1: task Cell (map element 2/1): RangeError: cell 21 refuses; log:");
  }, 60_000);

  it("gives the elements of a tracked command the run's database through context.em", () => {
    const { run } = runSlurm("tracked_db", ["--multiplier", "3"]);
    expect(run.code, run.output).toBe(0);
    expect(result(run)).toEqual([252, 258, 264, 270]);
  });

  it("runs 100 elements at most 10 at a time (%10), with one squeue call per poll cycle", () => {
    const stats = join(scratch, "stats-100.json");
    const { run, dir } = runSlurm("squares", ["--count", "100", "--sleep", "300", "--simultaneous", "10"], { env: { OUTFLOW_SLURM_STATS: stats }, timeout: 115_000 });
    expect(run.code, run.output).toBe(0);
    expect(result(run)).toEqual({ n: 100, sum: 328350, first: [0, 1, 4], last: 9801 });
    const map = mapFile(dir);
    expect(map.arrays.map((a) => a.spec)).toEqual(["0-99%10"]);
    expect(readFileSync(join(dir, "map-1", "array-0.sh"), "utf8")).toContain("#SBATCH --array=0-99%10\n");
    const job = spawnSync("scontrol", ["--oneliner", "show", "job", map.arrays[0].jobId!], { encoding: "utf8" }).stdout;
    expect(job).toMatch(/ArrayTaskThrottle=10\b/);
    // At no moment did more than 10 array tasks run (from the start/end times the scripts wrote).
    const spans = readdirSync(join(dir, "map-1", "status")).map((f) => {
      const text = readFileSync(join(dir, "map-1", "status", f), "utf8");
      return [Number(/start=(\S+)/.exec(text)![1]), Number(/end=(\S+)/.exec(text)![1])];
    });
    expect(spans).toHaveLength(100);
    const events = spans.flatMap(([s, e]) => [[s, 1], [e, -1]]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    let running = 0;
    let peak = 0;
    for (const [, d] of events) peak = Math.max(peak, (running += d));
    expect(peak).toBeLessThanOrEqual(10);
    expect(peak).toBeGreaterThan(1);
    const s = JSON.parse(readFileSync(stats, "utf8"));
    expect(s.calls.sbatch).toBe(1);
    expect(s.calls.squeue).toBe(s.poll.cycles);
    expect(s.poll.cycles).toBeLessThan(200);
    // Most tasks were seen done from their status files, between squeue cycles.
    expect(s.poll.resolvedByFiles).toBeGreaterThan(s.poll.resolvedByQueue);
    expect(s.poll.fileChecks).toBeGreaterThan(s.poll.cycles);
  }, 120_000);

  it("sees elements finish from their status files, not from squeue: ends even when squeue keeps saying RUNNING", () => {
    // An squeue that reports every task (finished ones included: --states=all) as RUNNING: only the status
    // files can tell the driver that the array is done.
    const bin = join(scratch, "lying-squeue");
    mkdirSync(bin, { recursive: true });
    const real = spawnSync("bash", ["-c", "command -v squeue"], { encoding: "utf8" }).stdout.trim();
    // The state is the 4th field (`%j|%F|%K|%T|%r`: name, job, array index, state, reason).
    writeFileSync(join(bin, "squeue"), `#!/bin/bash\n'${real}' "$@" | sed -E 's/^(([^|]*[|]){3})[A-Z_]+/\\1RUNNING/'\n`, { mode: 0o755 });
    const stats = join(scratch, "stats-lying.json");
    const { run } = runSlurm("squares", ["--count", "6", "--simultaneous", "0"], { env: { OUTFLOW_SLURM_STATS: stats, PATH: `${bin}:${process.env.PATH}` } });
    expect(run.code, run.output).toBe(0);
    expect(result(run)).toEqual({ n: 6, sum: 55, first: [0, 1, 4], last: 25 });
    const s = JSON.parse(readFileSync(stats, "utf8"));
    expect(s.poll.resolvedByFiles).toBe(6);
    expect(s.poll.resolvedByQueue).toBe(0);
    expect(s.poll.watchesEndedByFiles).toBe(1);
    expect(s.calls.squeue).toBe(s.poll.cycles);
    expect(s.poll.fileChecks).toBeGreaterThan(s.poll.cycles);
  });

  it("batches a 5000-element map into array tasks when it is larger than the array limit", async () => {
    expect(await new SlurmCluster().maxArraySize()).toBe(1001);
    const { run, dir } = runSlurm("squares", ["--count", "5000", "--simultaneous", "0", "--max-array", "40"]);
    expect(run.code, run.output).toBe(0);
    const sum = Array.from({ length: 5000 }, (_, i) => i * i).reduce((a, b) => a + b, 0);
    expect(result(run)).toEqual({ n: 5000, sum, first: [0, 1, 4], last: 4999 * 4999 });
    const map = mapFile(dir);
    expect(map).toMatchObject({ count: 5000, perTask: 125, tasks: 40 });
    expect(map.arrays.map((a) => a.spec)).toEqual(["0-39"]);
    expect(readdirSync(join(dir, "map-1", "inputs"))).toHaveLength(40);
  }, 120_000);

  it('packs elements with elementsPerTask "auto": one array task per slot, ordered results, element markers in the logs', () => {
    // This Slurm: one partition of 16 CPUs, 1 CPU per task → 16 slots; 100 elements → 7 per task, 15 tasks.
    const stats = join(scratch, "stats-packed.json");
    const { run, dir } = runSlurm("packed", ["--count", "100"], { env: { OUTFLOW_SLURM_STATS: stats } });
    expect(run.code, run.output).toBe(0);
    expect(result(run)).toEqual({ n: 100, sum: 328350, first: [0, 1, 4], last: 9801 });
    expect(mapFile(dir)).toMatchObject({ count: 100, perTask: 7, slots: 16, tasks: 15, arrays: [{ spec: "0-14" }] });
    const s = JSON.parse(readFileSync(stats, "utf8"));
    expect(s.calls.sinfo).toBe(1);
    expect(s.calls.sbatch).toBe(1);
    for (const ext of ["out", "err"]) {
      const log = readFileSync(join(dir, "map-1", "logs", `2.${ext}`), "utf8");
      expect(log.match(/^outflow: element \d+$/gm)).toEqual([14, 15, 16, 17, 18, 19, 20].map((i) => `outflow: element ${i}`));
    }
    // The last task holds the remainder (98, 99); a %k caps the slots.
    expect(readFileSync(join(dir, "map-1", "logs", "14.out"), "utf8").match(/^outflow: element \d+$/gm)).toEqual(["outflow: element 98", "outflow: element 99"]);
    const throttled = runSlurm("packed", ["--count", "10", "--simultaneous", "3"]);
    expect(throttled.run.code, throttled.run.output).toBe(0);
    expect(result(throttled.run)).toEqual({ n: 10, sum: 285, first: [0, 1, 4], last: 81 });
    expect(mapFile(throttled.dir)).toMatchObject({ perTask: 4, slots: 3, tasks: 3, arrays: [{ spec: "0-2%3" }] });
  }, 120_000);

  it('refuses a bad elementsPerTask before anything runs: one line at the map( naming the option and the value, exit 2', () => {
    const run = runBundle(root, "bad_packing", ["--backend", "slurm"]);
    expect(run.code).toBe(2);
    const lines = commands.split("\n");
    const line = lines.findIndex((l) => l.includes('elementsPerTask: "fast"'));
    const at = `plugins/p/commands.ts:${line + 1}:${lines[line].indexOf("map(") + 1}`;
    expect(run.stderr.trim().split("\n")).toEqual([`error: ${at} - map(squares): slurm option elementsPerTask: expected a positive integer or "auto", got "fast"`]);
  });

  it("reports a failed element with its index, exit code and log, then resubmits only that element", async () => {
    const marker = join(scratch, "fail-element-2");
    writeFileSync(marker, "");
    const { run, dir } = runSlurm("flaky", ["--count", "4", "--bad", "2", "--marker", marker]);
    expect(run.code).toBe(1);
    const log = join(dir, "map-1", "logs", "2.err");
    expect(run.stderr).toContain(`map(squares): element 2 (array task 2) failed: exit code 3; log: ${log}`);
    expect(run.stderr).toMatch(/error: task map\(squares\) failed: 1 of 4 elements failed on Slurm/);
    expect(run.stderr).toContain(`--resubmit-failed '${dir}'`);
    expect(existsSync(log)).toBe(true);
    expect(readFileSync(join(dir, "map-1", "failed.txt"), "utf8")).toContain("element 2 ");

    rmSync(marker);
    const again = runBundle(root, "flaky", ["--resubmit-failed", dir]);
    expect(again.code, again.output).toBe(0);
    expect(result(again)).toEqual([0, 1, 4, 9]);
    const map = mapFile(dir);
    expect(map.arrays.map((a) => a.spec)).toEqual(["0-3", "2"]);
    expect(readFileSync(join(dir, "map-1", "array-1.sh"), "utf8")).toContain("#SBATCH --array=2\n");
    const tasksOfResubmission = squeue(["--array", "--states=all", `--jobs=${map.arrays[1].jobId}`, "--format=%K"]);
    expect(tasksOfResubmission).toEqual(["2"]);
    // Nothing left to do: a second resubmission submits nothing and gives the same result.
    const third = runBundle(root, "flaky", ["--resubmit-failed", dir.split("/").pop()!]);
    expect(third.code, third.output).toBe(0);
    expect(result(third)).toEqual([0, 1, 4, 9]);
    expect(mapFile(dir).arrays).toHaveLength(2);
  }, 120_000);

  it("resubmits a packed task with a failing element by rerunning only that element, keeping the others' results", () => {
    // 8 elements, %2 → 2 slots → 2 array tasks of 4; element 5 (array task 1) throws while the marker exists.
    const marker = join(scratch, "fail-packed-5");
    const tally = join(scratch, "tally-packed.txt");
    writeFileSync(marker, "");
    const args = ["--count", "8", "--simultaneous", "2", "--bad", "5", "--marker", marker, "--log", tally];
    const { run, dir } = runSlurm("packed", args);
    expect(run.code).toBe(1);
    expect(mapFile(dir)).toMatchObject({ perTask: 4, tasks: 2 });
    expect(run.stderr).toContain(`map(squares): element 5 (array task 1) failed: exit code 1: task Tally: RangeError: element 5 refuses; log: ${join(dir, "map-1", "logs", "1.err")}`);
    expect(run.stderr).toMatch(/1 of 8 elements failed on Slurm/);
    const ran = () => readFileSync(tally, "utf8").split("\n").filter(Boolean).map(Number).sort((a, b) => a - b);
    expect(ran()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);

    // A resubmission whose task dies (no results file) again fails only the element it reran.
    const died = runBundle(root, "packed", ["--resubmit-failed", dir, "--exit-on", "5"]);
    expect(died.code).toBe(1);
    expect(died.stderr).toContain("map(squares): element 5 (array task 1) failed: exit code 3; log:");
    expect(died.stderr).toMatch(/1 of 8 elements failed on Slurm/);
    expect(ran()).toEqual([0, 1, 2, 3, 4, 5, 5, 6, 7]);

    rmSync(marker);
    const again = runBundle(root, "packed", ["--resubmit-failed", dir]);
    expect(again.code, again.output).toBe(0);
    expect(result(again)).toEqual({ n: 8, sum: 140, first: [0, 1, 4], last: 49 });
    // Only array task 1 was resubmitted, and in it only element 5 ran again.
    expect(mapFile(dir).arrays.map((a) => a.spec)).toEqual(["0-1%2", "1%2", "1%2"]);
    expect(ran()).toEqual([0, 1, 2, 3, 4, 5, 5, 5, 6, 7]);
    const out = readFileSync(join(dir, "map-1", "logs", "1.out"), "utf8");
    expect(out).toContain("outflow: array task 1: elements 4,6-7 kept from the earlier attempt; running 5\n");
    expect(out.match(/^outflow: element \d+$/gm)).toEqual(["outflow: element 5"]);
    const merged = deserialize(readFileSync(join(dir, "map-1", "results", "1.bin"))) as { results: { index: number; ok: boolean; value: unknown }[] };
    expect(merged.results).toEqual([4, 5, 6, 7].map((i) => ({ index: i, ok: true, value: i * i })));

    // Changed elements are still refused.
    const changed = runBundle(root, "packed", ["--resubmit-failed", dir, "--count", "9"]);
    expect(changed.code).toBe(1);
    expect(changed.stderr).toContain("cannot resubmit map(squares): its elements differ from those of the first run (8 then, 9 now)");
  }, 120_000);

  it("keeps what a packed task computed before it was killed: the resubmission reruns only the rest", () => {
    // 8 elements, %2 → 2 array tasks of 4; array task 1 (elements 4-7) dies at element 5 in its first attempt.
    const marker = join(scratch, "exit-packed-5");
    const tally = join(scratch, "tally-killed.txt");
    writeFileSync(marker, "");
    const { run, dir } = runSlurm("packed", ["--count", "8", "--simultaneous", "2", "--exit-on", "5", "--marker", marker, "--log", tally]);
    expect(run.code).toBe(1);
    // Element 4 was journalled before the task died: only 5-7 are reported.
    expect(run.stderr).toContain("map(squares): elements 5-7 (array task 1) failed: exit code 3; log:");
    expect(run.stderr).toMatch(/3 of 8 elements failed on Slurm/);
    const ran = () => readFileSync(tally, "utf8").split("\n").filter(Boolean).map(Number).sort((a, b) => a - b);
    expect(ran()).toEqual([0, 1, 2, 3, 4, 5]);
    rmSync(marker);
    const again = runBundle(root, "packed", ["--resubmit-failed", dir]);
    expect(again.code, again.output).toBe(0);
    expect(result(again)).toEqual({ n: 8, sum: 140, first: [0, 1, 4], last: 49 });
    expect(ran()).toEqual([0, 1, 2, 3, 4, 5, 5, 6, 7]);
    expect(readFileSync(join(dir, "map-1", "logs", "1.out"), "utf8")).toContain("outflow: array task 1: element 4 kept from the earlier attempt; running 5-7\n");
    expect(existsSync(join(dir, "map-1", "results", "1.journal"))).toBe(false);
  }, 120_000);

  it("scancels the array on SIGINT and exits 130", async () => {
    const before = new Set(runDirs());
    const child = spawn(process.execPath, [join(root, "dist", "squares.js"), "--backend", "slurm", "--count", "12", "--sleep", "60000", "--simultaneous", "4"], { cwd: root, env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    // Wait until some array tasks run.
    let jobId: string | undefined;
    const end = Date.now() + 30_000;
    while (Date.now() < end) {
      const dir = runDirs().find((d) => !before.has(d));
      if (dir && existsSync(join(dir, "map-1", "map.json"))) jobId = mapFile(dir).arrays[0]?.jobId;
      if (jobId && squeue(["--array", `--jobs=${jobId}`, "--states=RUNNING", "--format=%i"]).length >= 2) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(jobId, output).toBeDefined();
    child.kill("SIGINT");
    expect(await exited).toBe(130);
    expect(output).toContain(`cancelled Slurm array ${jobId}`);
    expect(output).toContain("error: run cancelled");
    await new Promise((r) => setTimeout(r, 500));
    expect(squeue(["--array", `--jobs=${jobId}`, "--format=%i %T"])).toEqual([]);
    expect(squeue(["--array", "--states=all", `--jobs=${jobId}`, "--format=%T"]).every((s) => s === "CANCELLED")).toBe(true);
  }, 60_000);

  it("warns once when Slurm will not start an array task as submitted (more CPUs than the partition has)", async () => {
    const child = spawn(process.execPath, [join(root, "dist", "greedy.js"), "--backend", "slurm", "--count", "2"], { cwd: root, env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    const end = Date.now() + 30_000;
    while (!output.includes("is pending with reason") && Date.now() < end) await new Promise((r) => setTimeout(r, 200));
    // Another poll cycle or two: still said once.
    await new Promise((r) => setTimeout(r, 1500));
    child.kill("SIGINT");
    expect(await exited).toBe(130);
    expect(output.match(/is pending with reason/g), output).toHaveLength(1);
    expect(output).toMatch(/map\(squares\): array task \d is pending with reason PartitionConfig: Slurm will not start it as submitted/);
  }, 60_000);

  it("resumes a run whose driver died: waits for its array instead of resubmitting it", async () => {
    const before = new Set(runDirs());
    const child = spawn(process.execPath, [join(root, "dist", "squares.js"), "--backend", "slurm", "--count", "6", "--sleep", "2000", "--simultaneous", "0"], { cwd: root, stdio: "ignore" });
    let dir: string | undefined;
    const end = Date.now() + 30_000;
    while (Date.now() < end && !dir) {
      const d = runDirs().find((x) => !before.has(x));
      if (d && existsSync(join(d, "map-1", "map.json")) && mapFile(d).arrays[0]?.jobId) dir = d;
      else await new Promise((r) => setTimeout(r, 100));
    }
    expect(dir).toBeDefined();
    child.kill("SIGKILL");
    const resumed = runBundle(root, "squares", ["--resubmit-failed", dir!]);
    expect(resumed.code, resumed.output).toBe(0);
    expect(result(resumed)).toEqual({ n: 6, sum: 55, first: [0, 1, 4], last: 25 });
    expect(mapFile(dir!).arrays).toHaveLength(1);
  }, 60_000);

  it("passes args with quotes, $(...), backticks, newlines and spaces to the elements unchanged, executing nothing", () => {
    const touched = [join(scratch, "pwned-subst"), join(scratch, "pwned-backtick"), join(scratch, "pwned-semicolon")];
    const text = `it's "quoted" $(touch ${touched[0]}) \`touch ${touched[1]}\` ; touch ${touched[2]}\nsecond line\t$HOME '\\''`;
    const { run, dir } = runSlurm("echo", ["--text", text]);
    expect(run.code, run.output).toBe(0);
    expect(result(run)).toEqual([
      { element: text, arg: text },
      { element: "plain", arg: text },
    ]);
    for (const f of touched) expect(existsSync(f), f).toBe(false);
    expect(readFileSync(join(dir, "map-1", "array-0.sh"), "utf8")).not.toContain("pwned");
  });

  it("moves typed arrays and Dates to the elements intact", () => {
    const { run } = runSlurm("typed", []);
    expect(run.code, run.output).toBe(0);
    expect(result(run)).toEqual([
      { isTyped: true, sum: 3.5, year: 2024 },
      { isTyped: true, sum: 7.25, year: 2024 },
    ]);
  });

  it("--emit-only writes scripts that work when submitted and run by hand", async () => {
    const { run, dir } = runSlurm("tutorial", ["--multiplier", "5", "--emit-only"]);
    expect(run.code, run.output).toBe(0);
    const mapDir = join(dir, "map-1");
    expect(run.stdout).toContain(`submit:  cd '${mapDir}' && sbatch array-0.sh`);
    expect(run.stdout).toContain(`--resubmit-failed '${dir}'`);
    const map = mapFile(dir);
    expect(map.arrays).toEqual([{ script: "array-0.sh", spec: "0-3" }]);
    expect(squeue(["--array", "--states=all", `--name=${map.jobName}`, "--format=%i"])).toEqual([]);

    const submitted = spawnSync("bash", ["-c", `cd '${mapDir}' && sbatch --parsable array-0.sh`], { encoding: "utf8" });
    expect(submitted.status, submitted.stderr).toBe(0);
    await waitForJob(submitted.stdout.trim());
    const fromSlurm = deserialize(readFileSync(join(mapDir, "results", "1.bin"))) as { results: unknown[] };
    // One element run by hand from the same script writes the same result.
    const byHand = spawnSync("bash", [join(mapDir, "array-0.sh")], { encoding: "utf8", env: { ...process.env, SLURM_ARRAY_TASK_ID: "1" } });
    expect(byHand.status, byHand.stderr).toBe(0);
    expect((deserialize(readFileSync(join(mapDir, "results", "1.bin"))) as { results: unknown[] }).results).toEqual(fromSlurm.results);
    expect(fromSlurm.results).toEqual([{ index: 1, ok: true, value: 215 }]);

    const collected = runBundle(root, "tutorial", ["--resubmit-failed", dir]);
    expect(collected.code, collected.output).toBe(0);
    expect(result(collected)).toEqual([210, 215, 220, 225]);
    expect(mapFile(dir).arrays).toHaveLength(1);
  }, 90_000);

  it("records an --emit-only run and its map emitted (nothing was cancelled), and links the run that collects them to it", async () => {
    const { run, dir } = runSlurm("tracked_tutorial", ["--multiplier", "4", "--emit-only"]);
    expect(run.code, run.output).toBe(0);
    const id = dir.split("/").pop()!;
    expect(run.stderr).toContain(`run ${id} is emitted: its Slurm arrays wait to be submitted by hand`);
    expect(runRows(dir)).toEqual([{ uuid: id, state: "emitted", resubmission_of_uuid: null }]);
    // The map waits to be submitted by hand; what follows it has not run.
    const rows = () => taskRows(dir).map(({ kind, name, state, exception_message }) => ({ kind, name, state, exception_message }));
    expect(rows()).toEqual([
      { kind: "task", name: "GenData", state: "success", exception_message: null },
      { kind: "map", name: "map(map_computation_result)", state: "emitted", exception_message: null },
      { kind: "task", name: "Show", state: "pending", exception_message: null },
    ]);

    const mapDir = join(dir, "map-1");
    const submitted = spawnSync("bash", ["-c", `cd '${mapDir}' && sbatch --parsable array-0.sh`], { encoding: "utf8" });
    expect(submitted.status, submitted.stderr).toBe(0);
    await waitForJob(submitted.stdout.trim());
    const collected = runBundle(root, "tracked_tutorial", ["--resubmit-failed", id]);
    expect(collected.code, collected.output).toBe(0);
    expect(result(collected)).toEqual([168, 172, 176, 180]);
    const [emitted, collecting] = runRows(dir);
    expect(emitted).toEqual({ uuid: id, state: "emitted", resubmission_of_uuid: null });
    expect(collecting).toMatchObject({ state: "success", resubmission_of_uuid: id });
    expect(collected.stderr).toContain(`run ${collecting.uuid} is a resubmission of run ${id}`);
    // The emitted run's rows are as they were.
    expect(rows()).toEqual([
      { kind: "task", name: "GenData", state: "success", exception_message: null },
      { kind: "map", name: "map(map_computation_result)", state: "emitted", exception_message: null },
      { kind: "task", name: "Show", state: "pending", exception_message: null },
    ]);
  }, 90_000);

  it("an --emit-only run with a branch beside the map that ends after the array was written is emitted too, exit 0 (not 'run cancelled')", () => {
    const { run, dir } = runSlurm("emit_beside", ["--emit-only"]);
    expect(run.code, run.output).toBe(0);
    expect(run.output).not.toContain("run cancelled");
    const id = dir.split("/").pop()!;
    expect(runRows(dir)).toEqual([{ uuid: id, state: "emitted", resubmission_of_uuid: null }]);
    // The branch beside it ran what had started; what had not is pending, as after the map.
    expect(taskRows(dir).map(({ name, state }) => `${name} ${state}`)).toEqual(["Wait success", "GenData success", "AfterWait pending", "map(map_computation_result) emitted", "Show pending"]);
  }, 60_000);

  it("sizes batches from the cluster's MaxArraySize (1001 here): 5000 elements become 1000 array tasks of 5", () => {
    const { run, dir } = runSlurm("squares", ["--count", "5000", "--simultaneous", "0", "--emit-only"]);
    expect(run.code, run.output).toBe(0);
    expect(mapFile(dir)).toMatchObject({ count: 5000, perTask: 5, tasks: 1000, arrays: [{ script: "array-0.sh", spec: "0-999" }] });
    expect(readdirSync(join(dir, "map-1", "inputs"))).toHaveLength(1000);
  });

  it("without Slurm on PATH: one clear line and a non-zero exit (--emit-only still works)", () => {
    const noSlurm = { PATH: join(scratch, "empty-path") };
    const run = runBundle(root, "tutorial", ["--multiplier", "3", "--backend", "slurm"], { env: noSlurm });
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split("\n")).toEqual(["error: --backend slurm: no Slurm found (sbatch is not on PATH); run on a Slurm login node, or use --emit-only to write the job scripts"]);
    const emitted = runBundle(root, "tutorial", ["--multiplier", "3", "--backend", "slurm", "--emit-only"], { env: noSlurm });
    expect(emitted.code, emitted.output).toBe(0);
    expect(emitted.stdout).toMatch(/submit: {2}cd '.*map-1' && sbatch array-0\.sh/);
  });

  it("--emit-only and --resubmit-failed only go with --backend slurm", () => {
    const run = runBundle(root, "tutorial", ["--multiplier", "3", "--emit-only"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("error: --emit-only only applies to --backend slurm (the backend is sequential)");
  });

  it("when sbatch refuses the array: one line with sbatch's message and a non-zero exit", () => {
    const run = runBundle(root, "bad_partition", ["--backend", "slurm"]);
    expect(run.code).toBe(1);
    const lines = run.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^error: sbatch refused the array of map\(squares\) \(.*array-0\.sh\): sbatch: error: invalid partition specified: no_such_partition/);
  });
});
