/**
 * `make-migrations` with enum properties (a check constraint listing the values), on SQLite and on
 * PostgreSQL: right after the migration is applied there is nothing to migrate (MikroORM 6.6.16 reads
 * the middle values of a SQLite check of three or more values wrongly, and used to write a rebuild of
 * the table each time), and a value added or removed gives a migration whose up and down apply, after
 * which the table accepts exactly the model's values and run start is content.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DatabaseConfig } from "../../runtime/config/schema.js";
import { EMPTY_CATALOG, OUTFLOW, type DbCatalog, type MigrationClass } from "../../runtime/db/catalog.js";
import { openDatabase } from "../../runtime/db/connect.js";
import { outflowEntities } from "../../runtime/db/entities.js";
import { makeMigration } from "../../runtime/db/make-migration.js";
import { upgrade } from "../../runtime/db/migrate.js";
import { createTestDatabase, type TestDatabase } from "../setup/postgres.js";
import { manage, removePipelines, repoRoot, runBundle } from "./fixture.js";
import { editKindsModel, makeKindsPipeline } from "./model-drift.js";

/** The enum of the kinds model, as the fixture has it, and the edits of these tests. */
const STATE = 'state: p.enum(["new", "seen", "it\'s kept"]),';
const ADDED = 'state: p.enum(["new", "seen", "it\'s kept", "archived"]),';
const REMOVED = 'state: p.enum(["seen", "it\'s kept", "archived"]),';

interface Dialect {
  /** Extra arguments of every command (the config naming the database). */
  cfg: string[];
  folder: string;
  /** Runs one statement as the admin role; rejects as the database does. */
  query(sql: string): Promise<void>;
}

/** Whether the sample table's check admits `value` (its rows, which a run stored, are updated to it, then back). */
async function admits(d: Dialect, value: string): Promise<boolean> {
  const literal = `'${value.replace(/'/g, "''")}'`;
  try {
    await d.query(`update sample set state = ${literal}`);
  } catch (e) {
    if (/check/i.test(String(e))) return false;
    throw e;
  }
  await d.query("update sample set state = 'seen'");
  return true;
}

function migrationFiles(root: string, d: Dialect): string[] {
  return readdirSync(join(root, "plugins/kinds/migrations", d.folder)).filter((f) => f.endsWith(".ts")).sort();
}

/** The up() and down() of a migration file, with the generator's escapes undone. */
function migrationParts(root: string, d: Dialect, file: string): { up: string; down: string } {
  const text = readFileSync(join(root, "plugins/kinds/migrations", d.folder, file), "utf8").replace(/\\`/g, "`");
  const at = text.indexOf("async down()");
  return { up: text.slice(0, at), down: text.slice(at) };
}

function makesNothing(root: string, d: Dialect, message: string): void {
  const before = migrationFiles(root, d);
  expect(manage(root, ["db", "make-migrations", "--plugin", "kinds", "--message", message, ...d.cfg]).stdout).toMatch(/kinds: models match database "default" \(.*\); no migration written/);
  expect(migrationFiles(root, d)).toEqual(before);
}

/** make-migrations for an edited enum: one migration written, applied; then the table admits exactly `values`. */
async function migratesEnum(root: string, d: Dialect, model: string, message: string, values: string[], refused: string): Promise<{ up: string; down: string }> {
  await editKindsModel(root, [[STATE, model]]);
  const before = migrationFiles(root, d);
  expect(manage(root, ["db", "make-migrations", "--plugin", "kinds", "--message", message, ...d.cfg]).stdout).toMatch(new RegExp(`kinds: wrote plugins/kinds/migrations/${d.folder}/Migration\\d+_${message.replace(/ /g, "_")}\\.ts`));
  const [file] = migrationFiles(root, d).filter((f) => !before.includes(f));
  await editKindsModel(root, [[STATE, model]]);
  expect(manage(root, ["db", "upgrade", "heads", ...d.cfg]).stdout).toContain(`kinds: applied ${file.replace(/\.ts$/, "")}`);
  for (const v of values) expect(await admits(d, v), v).toBe(true);
  expect(await admits(d, refused)).toBe(false);
  const r = runBundle(root, "store_sample", d.cfg);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stderr).not.toMatch(/WARNING|error/);
  makesNothing(root, d, "nothing more");
  return migrationParts(root, d, file);
}

/** The whole story on one dialect: first migration, nothing to do, a value added, one removed, both reverted and applied again. */
async function enumStory(root: string, d: Dialect): Promise<void> {
  manage(root, ["db", "upgrade", "heads", ...d.cfg]);
  expect(manage(root, ["db", "make-migrations", "--plugin", "kinds", "--message", "add samples", ...d.cfg]).stdout).toMatch(/wrote plugins\/kinds\/migrations\/\w+\/Migration\d+_add_samples\.ts/);
  await editKindsModel(root, []);
  manage(root, ["db", "upgrade", "heads", ...d.cfg]);
  makesNothing(root, d, "nothing");
  // A run stores the middle value, "seen".
  expect(runBundle(root, "store_sample", d.cfg).code).toBe(0);

  const added = await migratesEnum(root, d, ADDED, "archive", ["new", "seen", "it's kept", "archived"], "gone");
  // The down restores the three values, the middle one too.
  expect(added.down).toMatch(/'new', 'seen', 'it''s kept'\)/);
  expect(added.down).not.toContain("archived");
  const removed = await migratesEnum(root, d, REMOVED, "drop new", ["seen", "it's kept", "archived"], "new");
  expect(removed.down).toMatch(/'new', 'seen', 'it''s kept', 'archived'\)/);

  // Each down applies and brings back the values before it.
  expect(manage(root, ["db", "downgrade", "--plugin", "kinds", ...d.cfg]).stdout).toMatch(/kinds: reverted Migration\d+_drop_new/);
  for (const v of ["new", "seen", "it's kept", "archived"]) expect(await admits(d, v), v).toBe(true);
  expect(manage(root, ["db", "downgrade", "--plugin", "kinds", ...d.cfg]).stdout).toMatch(/kinds: reverted Migration\d+_archive/);
  for (const v of ["new", "seen", "it's kept"]) expect(await admits(d, v), v).toBe(true);
  expect(await admits(d, "archived")).toBe(false);
  // And the ups apply again.
  expect(manage(root, ["db", "upgrade", "heads", ...d.cfg]).stdout).toMatch(/kinds: applied Migration\d+_archive\n\s+kinds: applied Migration\d+_drop_new/);
  expect(await admits(d, "new")).toBe(false);
  const r = runBundle(root, "store_sample", d.cfg);
  expect(r.code, r.stderr).toBe(0);
}

afterAll(removePipelines);

describe("make-migrations with enum properties", () => {
  it("SQLite: nothing to migrate right after a migration; an added or removed value migrates, up and down", async () => {
    const root = await makeKindsPipeline();
    const file = join(root, "outflow.db");
    const query = async (sql: string) => {
      const db = new Database(file);
      try {
        db.prepare(sql).run();
      } finally {
        db.close();
      }
    };
    const sqlite: Dialect = { cfg: [], folder: "sqlite", query };
    await enumStory(root, sqlite);
    // The migration of the added value rebuilds the table with the four values (SQLite cannot alter a check).
    const archive = migrationFiles(root, sqlite).find((f) => f.endsWith("_archive.ts"))!;
    expect(migrationParts(root, sqlite, archive).up).toMatch(/create table `sample__temp_alter`[^\n]*check \(`state` in \('new', 'seen', 'it''s kept', 'archived'\)\)/);
  }, 180_000);

  it("SQLite: outflow's own tables (run.state, task.state) match their migrations", async () => {
    const root = mkdtempSync(join(tmpdir(), "outflow-enum-"));
    // Every migration of outflow's own, as a build lists them.
    const folder = join(repoRoot, "migrations/sqlite");
    const migrations = readdirSync(folder).filter((f) => /^Migration\d+_\w+\.ts$/.test(f)).sort().map((f) => {
      const name = f.replace(/\.ts$/, "");
      return { name, load: async () => ((await import(join(folder, f))) as Record<string, MigrationClass>)[name] };
    });
    expect(migrations.length).toBeGreaterThan(0);
    const catalog: DbCatalog = { ...EMPTY_CATALOG, outflow: { migrations: { default: { sqlite: migrations } } } };
    const db = await openDatabase({ name: "default", config: { dialect: "sqlite", path: "outflow.db" } as DatabaseConfig, root, role: "admin", entities: [...outflowEntities] as never });
    try {
      await upgrade(db, catalog, OUTFLOW);
      const made = await makeMigration({ db, catalog, component: OUTFLOW, dir: join(root, "migrations"), message: "nothing" });
      expect(made.up).toEqual([]);
      expect(made.file).toBeUndefined();
    } finally {
      await db.orm.close(true);
      rmSync(root, { recursive: true, force: true });
    }
  });

  describe("PostgreSQL", () => {
    let pg: TestDatabase;
    beforeAll(async () => {
      pg = await createTestDatabase();
    });

    it("nothing to migrate right after a migration; an added or removed value migrates, up and down", async () => {
      const root = await makeKindsPipeline({ "instance.yml": pg.configYaml() });
      const query = async (sql: string) => {
        const client = await pg.client(pg.admin);
        try {
          await client.query(sql);
        } finally {
          await client.end();
        }
      };
      await enumStory(root, { cfg: ["--config", "instance.yml"], folder: "postgresql", query });
    }, 180_000);
  });
});
