import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lines, manage, openSqlite, removePipelines, runBundle } from "./fixture.js";
import { DRIFT, editKindsModel, KINDS_FIX, makeKindsPipeline } from "./model-drift.js";

let root: string;
let file: string;

/** The line of one mismatched column of Sample. */
const mismatch = (column: string, what: string) => `error: model Sample (kinds) does not match table sample in database "default" (sqlite ${file}): column ${column}: ${what}; ${KINDS_FIX}`;

function runs(): number {
  const db = openSqlite(file);
  try {
    return (db.prepare("select count(*) as n from run").get() as { n: number }).n;
  } finally {
    db.close();
  }
}

beforeAll(async () => {
  root = await makeKindsPipeline();
  file = join(root, "outflow.db");
  expect(manage(root, ["db", "make-migrations", "--plugin", "kinds", "--message", "add samples"]).stdout).toMatch(/wrote plugins\/kinds\/migrations\/sqlite\/Migration\d+_add_samples\.ts/);
  await editKindsModel(root, []);
});
afterAll(removePipelines);

describe("run start compares the models' columns with the database (SQLite)", () => {
  it("runs on a freshly migrated database with every kind of property, without a warning", () => {
    const r = runBundle(root, "store_sample", []);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("stored sample 1: count number 3, label string, done boolean, meta x, owner ada");
    expect(r.stderr).not.toMatch(/WARNING|error/);
    expect(runs()).toBe(1);
  });

  it("refuses a changed type, nullability or enum, a missing table or column and a dropped required column, one line each, before the run row", async () => {
    await editKindsModel(root, [
      ...DRIFT,
      ["export type ISample", 'export const Extra = defineEntity({ name: "Extra", tableName: "extra", properties: { id: p.integer().primary() } });\n\nexport type ISample'],
    ]);
    const r = runBundle(root, "store_sample", []);
    expect(r.code).toBe(1);
    expect(lines(r.stderr)).toEqual([
      expect.stringContaining(`outflow.db - - - WARNING - model Sample (kinds) does not map column score (integer null) of table sample in database "default" (sqlite ${file}): its data is kept, a new migration of kinds would drop it`),
      `error: model Extra (kinds) has no table extra in database "default" (sqlite ${file}); ${KINDS_FIX}`,
      mismatch("label", "the model has integer not null, the table has text not null"),
      mismatch("state", "the model allows 'new', 'seen', 'it's kept', 'archived', the table's check only 'new', 'seen', 'it's kept'"),
      mismatch("note", "the model has text not null, the table has text null"),
      mismatch("extra", "the model has integer not null, the table has no such column"),
      mismatch("count", "the table has integer not null without a default, the model has no such column (every insert of Sample would fail)"),
    ]);
    expect(runs()).toBe(1);
  });

  it("accepts the spellings SQLite stores alike", async () => {
    await editKindsModel(root, [
      ["label: p.string(),", 'label: p.string().columnType("varchar(40)"),'],
      ["body: p.text(),", 'body: p.text().columnType("clob"),'],
      ["count: p.integer(),", 'count: p.integer().columnType("bigint"),'],
      ["ratio: p.float(),", 'ratio: p.float().columnType("double precision"),'],
    ]);
    const r = runBundle(root, "store_sample", []);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/WARNING|error/);
    expect(runs()).toBe(2);
  });

  it("warns about a column only the database has (a dropped optional property; outflow's own tables too) and runs", async () => {
    await editKindsModel(root, [["score: p.integer().nullable(),", ""]]);
    const db = new Database(file);
    db.exec("alter table task add column junk integer");
    db.close();
    const r = runBundle(root, "store_sample", []);
    expect(r.code, r.stderr).toBe(0);
    expect(lines(r.stderr).filter((l) => l.includes("WARNING"))).toEqual([
      expect.stringContaining(`WARNING - model OutflowTask (outflow) does not map column junk (integer null) of table task in database "default" (sqlite ${file}): its data is kept, outflow leaves it alone`),
      expect.stringContaining(`WARNING - model Sample (kinds) does not map column score (integer null) of table sample in database "default" (sqlite ${file}): its data is kept, a new migration of kinds would drop it`),
    ]);
    expect(runs()).toBe(3);
  });
});
