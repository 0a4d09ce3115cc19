import { spawnSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildPipeline, lines, makeTutorialPipeline, manage, openSqlite, removePipelines, repoRoot, runBundle } from "./fixture.js";

let root: string;

beforeAll(async () => {
  root = makeTutorialPipeline();
  await buildPipeline(root);
});
afterAll(removePipelines);

describe("the tutorial on SQLite, through the real bundles", () => {
  it("creates and migrates an empty SQLite database on the first run, computes, then reads the result back", () => {
    const first = runBundle(root, "compute_data", ["--multiplier", "3"]);
    expect(first.code).toBe(0);
    expect(first.stderr).toMatch(/new database "default" \(sqlite .*outflow\.db\): applied 3 migrations/);
    expect(first.stderr).toContain("Result not found in database, computing...");
    expect(first.stderr).toContain("Result of the computation: 126");
    const second = runBundle(root, "compute_data", ["--multiplier", "3"]);
    expect(second.code).toBe(0);
    expect(second.stderr).toContain("Result found in database");
    expect(second.stderr).not.toContain("not found");
    expect(second.stderr).toContain("Result of the computation: 126");

    const db = openSqlite(join(root, "outflow.db"));
    try {
      expect(db.prepare("select input_value, multiplier, result from computation_result").all()).toEqual([{ input_value: 42, multiplier: 3, result: 126 }]);
      const runs = db.prepare("select * from run order by start_time").all() as Array<Record<string, unknown>>;
      expect(runs).toHaveLength(2);
      for (const run of runs) {
        expect(run).toMatchObject({ command: "compute_data", state: "success", backend: "sequential", args: '{"multiplier":3}' });
        expect(run.end_time as number).toBeGreaterThanOrEqual(run.start_time as number);
      }
      expect(runs[0].configuration_id).toBe(runs[1].configuration_id);
      const tasks = db.prepare("select name, plugin, state, input_targets, output_targets, parent_id from task where run_uuid = ? order by id").all(runs[0].uuid);
      expect(tasks).toEqual([
        { name: "GenData", plugin: "data_reduction", state: "success", input_targets: "[]", output_targets: '["some_data"]', parent_id: null },
        { name: "Compute", plugin: "data_reduction", state: "success", input_targets: '["some_data"]', output_targets: '["computation_result"]', parent_id: null },
        { name: "PrintData", plugin: "data_reduction", state: "success", input_targets: '["computation_result"]', output_targets: "[]", parent_id: null },
      ]);
      const edges = db
        .prepare("select f.name as f, t.name as t from edge e join task f on f.id = e.from_task_id join task t on t.id = e.to_task_id where e.run_uuid = ? order by e.id")
        .all(runs[0].uuid);
      expect(edges).toEqual([
        { f: "GenData", t: "Compute" },
        { f: "Compute", t: "PrintData" },
      ]);
      expect((db.prepare("pragma journal_mode").get() as { journal_mode: string }).journal_mode).toBe("wal");
    } finally {
      db.close();
    }
  });

  it("refuses to run on a database that has tables but is behind, with one line naming the fix", () => {
    expect(manage(root, ["db", "downgrade", "--plugin", "data_reduction"]).code).toBe(0);
    const r = runBundle(root, "compute_data", ["--multiplier", "3"]);
    expect(r.code).toBe(1);
    expect(lines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toContain("data_reduction: 1 of 1 migration not applied");
    expect(r.stderr).toContain("run `outflow management db upgrade heads`");
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const up = manage(root, ["db", "upgrade", "heads"]);
    expect(up.stdout).toMatch(/data_reduction: applied Migration\d+_add_table_computation_result/);
    expect(up.stdout).toContain("outflow: up to date");
    expect(runBundle(root, "compute_data", ["--multiplier", "3"]).code).toBe(0);
  });

  it("runs an untracked command (db: false) without opening any database", () => {
    writeFileSync(join(root, "untracked.yml"), "databases:\n  default:\n    dialect: sqlite\n    path: untracked.db\n");
    const ok = runBundle(root, "hello", ["--config", "untracked.yml"]);
    expect(ok.code).toBe(0);
    expect(ok.stderr).toContain("hello without a database");
    expect(existsSync(join(root, "untracked.db"))).toBe(false);
    // The same config on a tracked command creates that file (and migrates it, being new).
    const tracked = runBundle(root, "compute_data", ["--multiplier", "3", "--config", "untracked.yml"]);
    expect(tracked.code).toBe(0);
    expect(existsSync(join(root, "untracked.db"))).toBe(true);
  });
});

describe("`outflow management` from the compiler CLI", () => {
  it("runs dist/manage.js management ... in the pipeline root and forwards its exit code", () => {
    const bin = join(repoRoot, "bin/outflow.mjs");
    const ok = spawnSync(process.execPath, [bin, "management", "db", "status"], { cwd: join(root, "plugins"), encoding: "utf8", env: { PATH: process.env.PATH ?? "", NO_COLOR: "1" } });
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/outflow\s+2 applied, 0 pending/);
    const bad = spawnSync(process.execPath, [bin, "management", "db", "downgrade", "--plugin", "nope"], { cwd: root, encoding: "utf8", env: { PATH: process.env.PATH ?? "", NO_COLOR: "1" } });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('unknown plugin "nope"');
  });
});
