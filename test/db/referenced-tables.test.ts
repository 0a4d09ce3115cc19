/**
 * A migration that changes a column of a table other tables reference keeps every row of those tables
 * and every reference. On SQLite the change is a rebuild of the table (`drop table parent` among it),
 * which with foreign keys on deleted the children of an `on delete cascade` relation, nulled the
 * references of a nullable one (`set null`) and failed on a required one (no action): SQLite ignores the
 * migration's own `pragma foreign_keys = off` inside the transaction outflow runs migrations in. A
 * migration that does leave references without their row stops with one line and changes nothing.
 * PostgreSQL alters the column in place, and keeps them too.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DatabaseConfig } from "../../runtime/config/schema.js";
import type { DbCatalog, MigrationClass } from "../../runtime/db/catalog.js";
import { openDatabase, sqliteHandle, type OpenDatabase } from "../../runtime/db/connect.js";
import { DatabaseError } from "../../runtime/db/errors.js";
import { initialiseEmptySqlite } from "../../runtime/db/fresh.js";
import { downgrade, upgrade } from "../../runtime/db/migrate.js";
import { withSchemaLock } from "../../runtime/db/schema-lock.js";
import { Migration } from "../../runtime/migrations.js";
import { createTestDatabase, type TestDatabase } from "../setup/postgres.js";
import { buildPipeline, lines, manage, removePipelines, runBundle } from "./fixture.js";
import { editFamilyModel, makeFamilyPipeline } from "./referenced-tables.js";

type Rows = Array<Record<string, unknown>>;

interface Dialect {
  /** Extra arguments of every command (the config naming the database). */
  cfg: string[];
  folder: string;
  /** Runs one statement (on SQLite with foreign keys on); rejects as the database does. */
  query(sql: string): Promise<Rows>;
}

const NULLABLE: [string, string] = ["label: p.string()", "label: p.string().nullable()"];
const KIND_C: [string, string] = ['kind: p.enum(["a", "b"])', 'kind: p.enum(["a", "b", "c"])'];

/** Every row of the family's tables, in id order. */
async function family(d: Dialect): Promise<Record<string, Rows>> {
  const plain = (rows: Rows) => rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v === null ? null : String(v)])));
  return {
    parent: plain(await d.query("select id, label, kind from parent order by id")),
    child: plain(await d.query("select id, name, parent_id from child order by id")),
    pet: plain(await d.query("select id, name, owner_id from pet order by id")),
    toy: plain(await d.query("select id, name, parent_id from toy order by id")),
  };
}

/** make-migrations for the edited model, rebuild, then `db upgrade heads`; returns the migration's name and the upgrade. */
async function migrate(root: string, d: Dialect, edits: Array<[string, string]>, message: string) {
  await editFamilyModel(root, edits);
  const made = manage(root, ["db", "make-migrations", "--plugin", "family", "--message", message, ...d.cfg]).stdout;
  const name = new RegExp(`wrote plugins/family/migrations/${d.folder}/(Migration\\d+_${message.replace(/ /g, "_")})\\.ts`).exec(made)?.[1];
  expect(name, made).toBeDefined();
  await buildPipeline(root);
  return { name: name!, up: manage(root, ["db", "upgrade", "heads", ...d.cfg], { allowFailure: true }) };
}

/**
 * The story on one dialect: parents with children (cascade) and pets (set null) through a changed
 * column, then with toys (no action) too through another, both reverted and applied again; every row
 * and reference kept, and the references still enforced afterwards.
 */
async function keepsReferences(root: string, d: Dialect): Promise<void> {
  manage(root, ["db", "upgrade", "heads", ...d.cfg]);
  manage(root, ["db", "make-migrations", "--plugin", "family", "--message", "add family", ...d.cfg]);
  await buildPipeline(root);
  manage(root, ["db", "upgrade", "heads", ...d.cfg]);
  expect(runBundle(root, "store_family", d.cfg).code).toBe(0);
  const stored = await family(d);
  expect(stored.child).toHaveLength(4);
  expect(stored.pet.map((p) => p.owner_id)).toEqual(["1", "2"]);

  // A property made nullable: the children and the pets' owners are kept.
  const nullable = await migrate(root, d, [NULLABLE], "nullable label");
  // SQLite rebuilds the table (which is what dropped the rows referencing it); PostgreSQL alters it.
  const written = readFileSync(join(root, "plugins/family/migrations", d.folder, `${nullable.name}.ts`), "utf8").replace(/\\`/g, "`");
  if (d.folder === "sqlite") expect(written).toContain("drop table `parent`;");
  else expect(written).toMatch(/alter table "parent" alter column "label" drop not null/);
  expect(nullable.up.stdout + nullable.up.stderr).toContain(`family: applied ${nullable.name}`);
  expect(await family(d)).toEqual(stored);

  // An enum value added, with toys (a required relation) too.
  expect(runBundle(root, "store_family", ["--toys", ...d.cfg]).code).toBe(0);
  const all = await family(d);
  expect(all.toy.map((t) => t.parent_id)).toEqual(["3", "4"]);
  const kind = await migrate(root, d, [NULLABLE, KIND_C], "kind c");
  expect(kind.up.stderr).toBe("");
  expect(kind.up.stdout).toContain(`family: applied ${kind.name}`);
  expect(await family(d)).toEqual(all);

  // Their downs (rebuilds too on SQLite) keep them, and so do the ups again.
  expect(manage(root, ["db", "downgrade", "--plugin", "family", ...d.cfg]).stdout).toContain(`family: reverted ${kind.name}`);
  expect(await family(d)).toEqual(all);
  expect(manage(root, ["db", "downgrade", "--plugin", "family", ...d.cfg]).stdout).toContain(`family: reverted ${nullable.name}`);
  expect(await family(d)).toEqual(all);
  expect(manage(root, ["db", "upgrade", "heads", ...d.cfg]).stdout).toMatch(new RegExp(`family: applied ${nullable.name}\\n\\s+family: applied ${kind.name}`));
  expect(await family(d)).toEqual(all);
  expect(runBundle(root, "store_family", ["--toys", ...d.cfg]).code).toBe(0);

  // The rebuilt table is referenced as before: a missing parent is refused, a deleted one cascades, unlinks, or is refused.
  await expect(d.query("insert into child (name, parent_id) values ('orphan', 99)")).rejects.toThrow(/foreign key/i);
  await expect(d.query("delete from parent where id = 3")).rejects.toThrow(/foreign key/i);
  await d.query("delete from parent where id = 1");
  const after = await family(d);
  expect(after.child.filter((c) => c.parent_id === "1")).toEqual([]);
  expect(after.child).toHaveLength(all.child.length + 2);
  expect(after.pet.find((p) => p.id === "1")?.owner_id).toBeNull();
}

afterAll(removePipelines);

describe("SQLite: a migration that rebuilds a referenced table", () => {
  let root: string;
  const sqlite: Dialect = {
    cfg: [],
    folder: "sqlite",
    query: async (sql) => {
      const db = new Database(join(root, "outflow.db"));
      try {
        db.pragma("foreign_keys = on");
        const statement = db.prepare(sql);
        return statement.reader ? (statement.all() as Rows) : (statement.run(), []);
      } finally {
        db.close();
      }
    },
  };
  beforeAll(async () => {
    root = await makeFamilyPipeline();
  });

  it("keeps the rows referencing it (cascade, set null, no action) and their references, up and down", async () => {
    await keepsReferences(root, sqlite);
    // No reference is left dangling, and the children still cascade.
    const db = new Database(join(root, "outflow.db"), { readonly: true });
    try {
      expect(db.pragma("foreign_key_check")).toEqual([]);
      expect((db.prepare("select sql from sqlite_master where name = 'child'").get() as { sql: string }).sql).toContain("references `parent`(`id`) on delete cascade");
    } finally {
      db.close();
    }
  }, 240_000);

  it("a migration that leaves references without their row stops: one line naming the tables and the migration, exit 1, nothing changed", async () => {
    const name = "Migration20990101000000_drop_ada";
    const file = join(root, "plugins/family/migrations/sqlite", `${name}.ts`);
    writeFileSync(file, `import { Migration } from "outflow/migrations";\n\nexport class ${name} extends Migration {\n  override async up(): Promise<void> {\n    this.addSql("delete from parent where label = 'bo'");\n  }\n}\n`);
    await buildPipeline(root);
    const before = await family(sqlite);
    const r = manage(root, ["db", "upgrade", "heads"], { allowFailure: true });
    expect(r.code).toBe(1);
    expect(lines(r.stderr)).toEqual([
      `error: upgrading family on database "default" (sqlite ${join(root, "outflow.db")}) failed in ${name}: it leaves 6 rows of table child (parent_id) referencing no row of parent, 3 rows of table pet (owner_id) referencing no row of parent, 2 rows of table toy (parent_id) referencing no row of parent; foreign keys are off while migrations run (so a rebuilt table keeps the rows that reference it), and a delete does not cascade: delete or update the referencing rows in the migration too`,
    ]);
    expect(await family(sqlite)).toEqual(before);
    expect(manage(root, ["db", "status"]).stdout).toContain(`pending: ${name}`);
    rmSync(file);
    await buildPipeline(root);
  }, 120_000);
});

/** A plugin migration written by hand (as make-migrations writes them). */
function migration(up: string[], down: string[] = []): MigrationClass {
  return class extends Migration {
    override async up(): Promise<void> {
      for (const sql of up) this.addSql(sql);
    }
    override async down(): Promise<void> {
      for (const sql of down) this.addSql(sql);
    }
  };
}

/** What make-migrations writes for `parent.label` made `label` (null, not null): a rebuild. */
const rebuildParent = (label: string) => [
  "pragma foreign_keys = off;",
  `create table \`parent__temp_alter\` (\`id\` integer not null primary key autoincrement, \`label\` text ${label});`,
  "insert into `parent__temp_alter` select `id`, `label` from `parent`;",
  "drop table `parent`;",
  "alter table `parent__temp_alter` rename to `parent`;",
  "pragma foreign_keys = on;",
];

const FAMILY = [
  "create table `parent` (`id` integer not null primary key autoincrement, `label` text not null);",
  "create table `child` (`id` integer not null primary key autoincrement, `parent_id` integer not null, constraint `child_parent_id_foreign` foreign key(`parent_id`) references `parent`(`id`) on delete cascade on update cascade);",
];

describe("SQLite, in one process: the connection's foreign keys", () => {
  it("are on again after a first run's migrations, an upgrade, a downgrade and a failed migration; the rows are kept", async () => {
    const root = mkdtempSync(join(tmpdir(), "outflow-fk-"));
    const entries = [
      { name: "Migration20260101000000_family", load: async () => migration(FAMILY) },
      { name: "Migration20260101000001_nullable_label", load: async () => migration(rebuildParent("null"), rebuildParent("not null")) },
      { name: "Migration20260101000002_drop_parents", load: async () => migration(["delete from parent"]) },
    ];
    const catalog = (count: number): DbCatalog => ({ outflow: { migrations: {} }, plugins: { fam: { models: [], migrations: { default: { sqlite: entries.slice(0, count) } } } } });
    const db: OpenDatabase = await openDatabase({ name: "default", config: { dialect: "sqlite", path: "outflow.db" } as DatabaseConfig, root, role: "admin", entities: [] });
    try {
      const raw = await sqliteHandle(db);
      const on = () => raw.pragma("foreign_keys", { simple: true });
      const count = (table: string) => (raw.prepare(`select count(*) as n from ${table}`).get() as { n: number }).n;
      // A first run on the new file: then the run's record writes, on this connection, with foreign keys on.
      await initialiseEmptySqlite(db, catalog(1), ["fam"]);
      expect(on()).toBe(1);
      expect(() => raw.exec("insert into child (parent_id) values (99)")).toThrow(/FOREIGN KEY/);
      raw.exec("insert into parent (label) values ('a'), ('b'); insert into child (parent_id) values (1), (1), (2)");

      // `db upgrade`: under the schema lock.
      await withSchemaLock(db, (m) => upgrade(db, catalog(2), "fam", m));
      expect(on()).toBe(1);
      expect(count("child")).toBe(3);
      // Without it, in the migrator's own transaction: the down, then the up again.
      expect(await downgrade(db, catalog(2), "fam")).toBe(entries[1].name);
      expect(on()).toBe(1);
      expect(count("child")).toBe(3);
      expect(await upgrade(db, catalog(2), "fam")).toEqual([entries[1].name]);
      expect(on()).toBe(1);
      expect(count("child")).toBe(3);

      // A migration that leaves children without their parent: rolled back, foreign keys on again.
      const failed = withSchemaLock(db, (m) => upgrade(db, catalog(3), "fam", m));
      await expect(failed).rejects.toThrow(DatabaseError);
      await expect(failed).rejects.toThrow(`failed in ${entries[2].name}: it leaves 3 rows of table child (parent_id) referencing no row of parent;`);
      expect(raw.inTransaction).toBe(false);
      expect(on()).toBe(1);
      expect([count("parent"), count("child")]).toEqual([2, 3]);
      await expect(upgrade(db, catalog(3), "fam")).rejects.toThrow(`failed in ${entries[2].name}: it leaves 3 rows`);
      expect(on()).toBe(1);
      expect([count("parent"), count("child")]).toEqual([2, 3]);
    } finally {
      await db.orm.close(true);
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("PostgreSQL", () => {
  let pg: TestDatabase;
  beforeAll(async () => {
    pg = await createTestDatabase();
  });

  it("alters the referenced table in place, keeping the rows referencing it and their references, up and down", async () => {
    const root = await makeFamilyPipeline({ "instance.yml": pg.configYaml() });
    await keepsReferences(root, { cfg: ["--config", "instance.yml"], folder: "postgresql", query: (sql) => pg.rows(sql) });
  }, 240_000);
});
