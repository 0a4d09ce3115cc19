import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../setup/postgres.js";
import { lines, manage, removePipelines, runBundle } from "./fixture.js";
import { DRIFT, editKindsModel, KINDS_FIX, makeKindsPipeline } from "./model-drift.js";

let root: string;
let pg: TestDatabase;
const cfg = ["--config", "instance.yml"];

async function sql<T = Record<string, unknown>>(text: string, who?: TestDatabase["admin"]): Promise<T[]> {
  const client = await pg.client(who);
  try {
    return (await client.query(text)).rows as T[];
  } finally {
    await client.end();
  }
}
const where = () => `in database "default" (postgresql://${pg.user.username}@${pg.address}/${pg.database})`;
/** The line of one mismatched column of Sample. */
const mismatch = (column: string, what: string) => `error: model Sample (kinds) does not match table sample ${where()}: column ${column}: ${what}; ${KINDS_FIX}`;
const runs = async () => (await sql<{ n: number }>("select count(*)::int as n from run"))[0].n;

beforeAll(async () => {
  pg = await createTestDatabase();
  root = await makeKindsPipeline({ "instance.yml": pg.configYaml() });
  manage(root, ["db", "upgrade", "heads", ...cfg]);
  expect(manage(root, ["db", "make-migrations", "--plugin", "kinds", "--message", "add samples", ...cfg]).stdout).toMatch(/wrote plugins\/kinds\/migrations\/postgresql\/Migration\d+_add_samples\.ts/);
  await editKindsModel(root, []);
  manage(root, ["db", "upgrade", "heads", ...cfg]);
});
afterAll(removePipelines);

describe("run start compares the models' columns with the database (PostgreSQL)", () => {
  it("runs on a freshly migrated database with every kind of property, without a warning", async () => {
    const r = runBundle(root, "store_sample", cfg);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("stored sample 1: count number 3, label string, done boolean, meta x, owner ada");
    expect(r.stderr).not.toMatch(/WARNING|error/);
    expect(await runs()).toBe(1);
    // MikroORM's own comparison agrees: nothing to migrate.
    expect(manage(root, ["db", "make-migrations", "--plugin", "kinds", "--message", "nothing", ...cfg]).stdout).toContain("no migration written");
  });

  it("refuses a changed type, nullability or enum, a missing table or column and a dropped required column, one line each, before the run row", async () => {
    await editKindsModel(root, DRIFT);
    const r = runBundle(root, "store_sample", cfg);
    expect(r.code).toBe(1);
    expect(lines(r.stderr)).toEqual([
      expect.stringContaining(`outflow.db - - - WARNING - model Sample (kinds) does not map column score (integer null) of table sample ${where()}: its data is kept, a new migration of kinds would drop it`),
      mismatch("label", "the model has int not null, the table has character varying(255) not null"),
      mismatch("state", "the model allows 'new', 'seen', 'it's kept', 'archived', the table's check only 'new', 'seen', 'it's kept'"),
      mismatch("note", "the model has varchar(255) not null, the table has character varying(255) null"),
      mismatch("extra", "the model has int not null, the table has no such column"),
      mismatch("count", "the table has integer not null without a default, the model has no such column (every insert of Sample would fail)"),
    ]);
    expect(await runs()).toBe(1);
  });

  it("accepts the spellings PostgreSQL stores alike", async () => {
    await sql("alter table sample alter column label type text, alter column code type varchar(200), alter column meta type json, alter column taken_at type timestamp(3) with time zone, alter column amount type numeric(12,2)", pg.admin);
    await editKindsModel(root, [["count: p.integer(),", 'count: p.integer().columnType("int4"),']]);
    const r = runBundle(root, "store_sample", cfg);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/WARNING|error/);
    expect(await runs()).toBe(2);
  });

  it("finds the tables where the user role's search path does: a schema of its own first on the path (the default \"$user\", public) holds none of them", async () => {
    // PostgreSQL's secure schema usage pattern: a schema per role, named after it. current_schema() is then
    // that (empty) schema, while every unqualified name, the run's own queries too, still finds public's tables.
    await sql(`create schema "${pg.user.username}" authorization "${pg.user.username}"`);
    try {
      expect((await sql<{ schema: string }>("select current_schema() as schema", pg.user))[0].schema).toBe(pg.user.username);
      const r = runBundle(root, "store_sample", cfg);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).not.toMatch(/WARNING|error/);
      expect(await runs()).toBe(3);
      // A table of the model's name in that schema is the one the run would use: it is the one compared.
      await sql(`create table "${pg.user.username}".sample (id integer primary key)`, pg.user);
      const shadowed = runBundle(root, "store_sample", cfg);
      expect(shadowed.code).toBe(1);
      expect(lines(shadowed.stderr)[0]).toBe(mismatch("uuid", "the model has uuid not null, the table has no such column"));
      expect(await runs()).toBe(3);
    } finally {
      await sql(`drop schema "${pg.user.username}" cascade`);
    }
  });

  it("warns about a not null column only the database has when the database fills it in (an identity column), and runs", async () => {
    await sql("alter table sample add column seq bigint generated always as identity", pg.admin);
    try {
      const r = runBundle(root, "store_sample", cfg);
      expect(r.code, r.stderr).toBe(0);
      expect(lines(r.stderr).filter((l) => /WARNING|error/.test(l))).toEqual([
        expect.stringContaining(`WARNING - model Sample (kinds) does not map column seq (bigint not null) of table sample ${where()}: its data is kept, a new migration of kinds would drop it`),
      ]);
      expect(await runs()).toBe(4);
    } finally {
      await sql("alter table sample drop column seq", pg.admin);
    }
  });

  it("refuses a table the user role may not read, until upgrade grants it again", async () => {
    await sql(`revoke select on sample from "${pg.user.username}"`, pg.admin);
    const r = runBundle(root, "store_sample", cfg);
    expect(r.code).toBe(1);
    expect(lines(r.stderr)).toEqual([`error: model Sample (kinds): role ${pg.user.username} may not read table sample ${where()}; run \`outflow management db upgrade heads\` (it grants the user role data access)`]);
    expect(await runs()).toBe(4);
    manage(root, ["db", "upgrade", "heads", ...cfg]);
    expect(runBundle(root, "store_sample", cfg).code).toBe(0);
  });
});
