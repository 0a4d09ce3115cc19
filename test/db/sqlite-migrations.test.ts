import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildPipeline, lines, makeTutorialPipeline, manage, openSqlite, removePipelines, runBundle } from "./fixture.js";

let root: string;

function tables(): string[] {
  const db = openSqlite(join(root, "outflow.db"));
  try {
    return (db.prepare("select name from sqlite_master where type = 'table' and name not like 'sqlite_%' order by name").all() as Array<{ name: string }>).map((r) => r.name);
  } finally {
    db.close();
  }
}

function columns(table: string): string[] {
  const db = openSqlite(join(root, "outflow.db"));
  try {
    return (db.prepare(`pragma table_info(${table})`).all() as Array<{ name: string }>).map((r) => r.name);
  } finally {
    db.close();
  }
}

const OUTFLOW_TABLES = ["configuration", "edge", "run", "task"];

beforeAll(async () => {
  root = makeTutorialPipeline();
  await buildPipeline(root);
});
afterAll(removePipelines);

describe("migrations per plugin on SQLite", () => {
  it("status lists what is pending", () => {
    const r = manage(root, ["db", "status"]);
    expect(r.stdout).toMatch(/outflow\s+0 applied, 2 pending \(pending: Migration\d+_run_records, Migration\d+_emitted_and_resubmission_of\)/);
    expect(r.stdout).toMatch(/data_reduction\s+0 applied, 1 pending/);
  });

  it("upgrades one plugin at a time", () => {
    expect(manage(root, ["db", "upgrade", "data_reduction"]).stdout).toMatch(/data_reduction: applied Migration\d+_add_table_computation_result/);
    expect(tables()).toEqual(["computation_result", "outflow_migrations__data_reduction"]);
    expect(manage(root, ["db", "upgrade", "outflow"]).stdout).toMatch(/outflow: applied Migration\d+_run_records\n  outflow: applied Migration\d+_emitted_and_resubmission_of\n/);
    expect(tables()).toEqual(["computation_result", ...OUTFLOW_TABLES, "outflow_migrations__data_reduction", "outflow_migrations__outflow"].sort());
  });

  it("downgrades one plugin one step, leaving the others alone", () => {
    expect(manage(root, ["db", "downgrade", "--plugin", "data_reduction"]).stdout).toMatch(/data_reduction: reverted Migration\d+_add_table_computation_result/);
    expect(tables()).not.toContain("computation_result");
    expect(tables()).toEqual(expect.arrayContaining(OUTFLOW_TABLES));
    expect(manage(root, ["db", "downgrade", "--plugin", "data_reduction"]).stdout).toContain("data_reduction: no applied migration to revert");
    // One step back: the run records' second migration (its tables stay), then the first.
    expect(manage(root, ["db", "downgrade", "--plugin", "outflow"]).stdout).toMatch(/outflow: reverted Migration\d+_emitted_and_resubmission_of/);
    expect(tables()).toEqual(expect.arrayContaining(OUTFLOW_TABLES));
    expect(columns("run")).not.toContain("resubmission_of_uuid");
    expect(manage(root, ["db", "downgrade", "--plugin", "outflow"]).stdout).toMatch(/outflow: reverted Migration\d+_run_records/);
    for (const t of OUTFLOW_TABLES) expect(tables()).not.toContain(t);
  });

  it("rejects an unknown plugin in one line", () => {
    const r = manage(root, ["db", "downgrade", "--plugin", "nope"], { allowFailure: true });
    expect(r.code).toBe(1);
    expect(lines(r.stderr)).toEqual([expect.stringContaining('unknown plugin "nope"')]);
    const u = manage(root, ["db", "upgrade", "nope"], { allowFailure: true });
    expect(u.code).toBe(2);
    expect(u.stderr).toContain('unknown command "nope"');
  });

  it("make-migrations writes a migration with a working down() for a changed model", async () => {
    manage(root, ["db", "upgrade", "heads"]);
    expect(manage(root, ["db", "make-migrations", "--plugin", "data_reduction", "--message", "nothing new"]).stdout).toContain("no migration written");

    const model = join(root, "plugins/data_reduction/models/computation_result.ts");
    writeFileSync(model, readFileSync(model, "utf8").replace("result: p.integer(),", "result: p.integer(),\n    note: p.string().nullable(),"));
    await buildPipeline(root);
    const mismatch = runBundle(root, "compute_data", ["--multiplier", "3"]);
    expect(mismatch.code).toBe(1);
    expect(lines(mismatch.stderr)).toHaveLength(1);
    expect(mismatch.stderr).toContain("model ComputationResult (data_reduction) does not match table computation_result");

    const made = manage(root, ["db", "make-migrations", "--plugin", "data_reduction", "--message", "Add a note"]);
    expect(made.stdout).toMatch(/wrote plugins\/data_reduction\/migrations\/sqlite\/Migration\d+_add_a_note\.ts \(1 statement up, 1 down\)/);
    const dir = join(root, "plugins/data_reduction/migrations/sqlite");
    const file = readdirSync(dir).find((f) => f.endsWith("_add_a_note.ts"))!;
    const text = readFileSync(join(dir, file), "utf8").replace(/\\`/g, "`");
    expect(text).toContain("add column `note` text null");
    // The base class from outflow, which every pipeline has (not from MikroORM, which it need not install).
    expect(text).toMatch(/^import \{ Migration \} from 'outflow\/migrations';$/m);
    expect(text).toMatch(/async down\(\)[\s\S]*drop column `note`/);

    await buildPipeline(root);
    const pending = runBundle(root, "compute_data", ["--multiplier", "3"]);
    expect(pending.stderr).toContain("data_reduction: 1 of 2 migrations not applied; run `outflow management db upgrade heads`");
    expect(manage(root, ["db", "upgrade", "heads"]).stdout).toMatch(/data_reduction: applied Migration\d+_add_a_note/);
    expect(columns("computation_result")).toContain("note");
    expect(runBundle(root, "compute_data", ["--multiplier", "3"]).code).toBe(0);

    expect(manage(root, ["db", "downgrade", "--plugin", "data_reduction"]).stdout).toMatch(/reverted Migration\d+_add_a_note/);
    expect(columns("computation_result")).not.toContain("note");
    expect(manage(root, ["db", "upgrade", "heads"]).stdout).toMatch(/applied Migration\d+_add_a_note/);
    expect(manage(root, ["db", "make-migrations", "--plugin", "data_reduction", "--message", "again"]).stdout).toContain("no migration written");
  });
});
