/**
 * The tutorial's part 5 ("Testing"), in TypeScript, on this repo's data_reduction plugin, with the
 * helpers of outflow/testing: task tests (TaskTestCase), Compute with and without a cached row (a fake
 * `context.em`, then a real SQLite database), the map command on the threads backend (CommandTestCase)
 * and command tests on a fresh PostgreSQL database (PostgresCommandTestCase).
 */
import { describe, expect, it, test as base, vi } from "vitest";
import { createTestDatabase, runCommand, runTask, testDatabase, withContext, type TestDatabase } from "outflow/testing";
import { Compute, ComputeElement, GenData, GenDataArray, PrintData } from "../../plugins/data_reduction/tasks.js";
import { ComputationResult } from "../../plugins/data_reduction/models/computation_result.js";

/** A stand-in for the EntityManager: `findOne` answers `row`; `create`/`flush` are recorded. */
function fakeEm(row: { result: number } | null) {
  return { findOne: vi.fn(async () => row), create: vi.fn(), flush: vi.fn(async () => {}) };
}

describe("task tests (TaskTestCase)", () => {
  it("GenData returns some_data", async () => {
    const result = await runTask(GenData, {});
    expect(result).toEqual({ some_data: 42 });
  });

  it("GenDataArray returns the array", async () => {
    expect(await runTask(GenDataArray, {})).toEqual({ some_data_array: [42, 43, 44, 45] });
  });

  it("ComputeElement multiplies one element by context.args.multiplier", async () => {
    expect(await runTask(ComputeElement, { some_data: 43 }, { args: { multiplier: 3 } })).toEqual({ computation_result: 129 });
  });

  it("checks inputs and outputs against the declared types", async () => {
    await expect(runTask(PrintData, { computation_result: "126" })).rejects.toThrow('Task PrintData: input "computation_result" expected number, got string');
    await expect(runTask(PrintData, {})).rejects.toThrow('runTask(PrintData): missing input "computation_result" (number)');
    await expect(runTask(PrintData, { computation_result: 1, extra: 2 })).rejects.toThrow("runTask(PrintData): unknown input extra; its inputs are computation_result");
    const em = { findOne: async () => ({ result: "not a number" }) };
    await expect(runTask(Compute, { some_data: 1 }, { args: { multiplier: 1 }, em })).rejects.toThrow('Task Compute: output "computation_result" expected number, got string');
  });
});

describe("Compute with a fake context.em (the tutorial's mocked session)", () => {
  it("returns the cached result and inserts nothing when the row exists", async () => {
    const em = fakeEm({ result: 42 * 3 });
    const result = await runTask(Compute, { some_data: 42 }, { args: { multiplier: 3 }, em });
    expect(result).toEqual({ computation_result: 126 });
    expect(em.findOne).toHaveBeenCalledWith(ComputationResult, { inputValue: 42, multiplier: 3 });
    expect(em.create).not.toHaveBeenCalled();
  });

  it("computes and inserts one row when it is missing", async () => {
    const em = fakeEm(null);
    const result = await runTask(Compute, { some_data: 42 }, { args: { multiplier: 3 }, em });
    expect(result).toEqual({ computation_result: 126 });
    expect(em.create).toHaveBeenCalledTimes(1);
    expect(em.create).toHaveBeenCalledWith(ComputationResult, { inputValue: 42, multiplier: 3, result: 126 });
    expect(em.flush).toHaveBeenCalledTimes(1);
  });

  it("withContext runs the plain function with a replaced context", async () => {
    const em = fakeEm(null);
    const result = await withContext({ args: { multiplier: 2 }, em }, () => Compute.fn(5));
    expect(result).toEqual({ computation_result: 10 });
    expect(em.create).toHaveBeenCalledTimes(1);
  });
});

const test = base.extend<{ db: TestDatabase }>({ db: testDatabase() });

describe("Compute on a real SQLite test database", () => {
  test("reads a cached row", async ({ db }) => {
    const em = await db.em();
    em.create(ComputationResult, { inputValue: 42, multiplier: 3, result: 1000 });
    await em.flush();
    expect(await runTask(Compute, { some_data: 42 }, { args: { multiplier: 3 }, db })).toEqual({ computation_result: 1000 });
  });

  test("inserts the row it computed", async ({ db }) => {
    expect(await runTask(Compute, { some_data: 42 }, { args: { multiplier: 3 }, db })).toEqual({ computation_result: 126 });
    const row = await (await db.em()).findOneOrFail(ComputationResult, { inputValue: 42, multiplier: 3 });
    expect(row.result).toBe(126);
  });
});

describe("command tests (CommandTestCase)", () => {
  it("compute_data --multiplier 3 logs 126 and records a run", async () => {
    const run = await runCommand(["compute_data", "--multiplier", "3"]);
    expect(run.exitCode).toBe(0);
    expect(run.stderr).toMatch(/ - data_reduction\.tasks - tasks\.ts:\d+ - INFO - Result of the computation: 126$/m);
    expect(run.runId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("compute_more_data on the threads backend maps in input order", async () => {
    const run = await runCommand(["compute_more_data", "--multiplier", "3"], { backend: "threads" });
    expect(run.stderr).toContain("Result of the mapped computation: [126,129,132,135]");
    expect(run.exitCode).toBe(0);
  });

  it("returns the outputs of the terminal tasks as result", async () => {
    const db = await createTestDatabase();
    try {
      const run = await runCommand(["compute_data", "--multiplier", "3"], { db, config: { logging: { level: "WARNING" } } });
      expect(run.exitCode).toBe(0);
      expect(run.result).toEqual({});
      expect(run.stderr).toBe("");
    } finally {
      await db.drop();
    }
  });

  it("reports bad command lines as a bundle does: one line, exit code 2", async () => {
    const missing = await runCommand(["compute_data"]);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain("error: missing required argument --multiplier");
    const unknown = await runCommand(["compute_everything"]);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain('error: unknown command "compute_everything"');
  });

  it("prints help", async () => {
    const run = await runCommand(["compute_data", "--help"]);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toContain("--multiplier=<number>");
  });
});

const pg = base.extend<{ db: TestDatabase }>({ db: testDatabase({ dialect: "postgresql" }) });

describe("command tests on a fresh PostgreSQL database (PostgresCommandTestCase)", () => {
  pg("the migrations created an empty computation_result table", async ({ db }) => {
    expect(db.config.dialect).toBe("postgresql");
    expect(await (await db.em()).count(ComputationResult, {})).toBe(0);
  });

  pg("compute_data computes, stores, then finds its result", async ({ db }) => {
    const first = await runCommand(["compute_data", "--multiplier", "3"], { db });
    expect(first.exitCode).toBe(0);
    expect(first.stderr).toContain("Result not found in database");
    expect(first.stderr).toContain("Result of the computation: 126");
    const second = await runCommand(["compute_data", "--multiplier", "3"], { db });
    expect(second.stderr).toContain("Result found in database");
    const rows = await (await db.em()).find(ComputationResult, {});
    expect(rows.map((r) => [r.inputValue, r.multiplier, r.result])).toEqual([[42, 3, 126]]);
  });

  pg("each test gets its own database", async ({ db }) => {
    expect(await (await db.em()).count(ComputationResult, {})).toBe(0);
  });
});
