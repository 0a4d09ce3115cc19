/**
 * Upgrading the run records of the previous version: a database with only outflow's first migration
 * applied (as `db upgrade heads` of that version left it) and real run, task and edge rows in it gets the
 * second migration (run/task state `emitted`, `run.resubmission_of_uuid`) from `db upgrade heads`,
 * keeping every row and every reference; the next run works. On SQLite and on PostgreSQL.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DatabaseConfig } from "../../runtime/config/schema.js";
import type { DbCatalog, Dialect, MigrationEntry } from "../../runtime/db/catalog.js";
import { openDatabase, type OpenDatabase } from "../../runtime/db/connect.js";
import { outflowEntities } from "../../runtime/db/entities.js";
import { makeMigration } from "../../runtime/db/make-migration.js";
import { grantUserRole, upgrade } from "../../runtime/db/migrate.js";
import { Migration20261122033508_run_records as FirstSqlite } from "../../migrations/sqlite/Migration20261122033508_run_records.js";
import { Migration20261201213728_emitted_and_resubmission_of as SecondSqlite } from "../../migrations/sqlite/Migration20261201213728_emitted_and_resubmission_of.js";
import { Migration20261122033509_run_records as FirstPg } from "../../migrations/postgresql/Migration20261122033509_run_records.js";
import { Migration20261201213729_emitted_and_resubmission_of as SecondPg } from "../../migrations/postgresql/Migration20261201213729_emitted_and_resubmission_of.js";
import { createTestDatabase, type TestDatabase } from "../setup/postgres.js";
import { buildPipeline, lines, makeTutorialPipeline, manage, openSqlite, removePipelines, runBundle } from "./fixture.js";

const MIGRATIONS: Record<Dialect, MigrationEntry[]> = {
  sqlite: [
    { name: "Migration20261122033508_run_records", load: async () => FirstSqlite },
    { name: "Migration20261201213728_emitted_and_resubmission_of", load: async () => SecondSqlite },
  ],
  postgresql: [
    { name: "Migration20261122033509_run_records", load: async () => FirstPg },
    { name: "Migration20261201213729_emitted_and_resubmission_of", load: async () => SecondPg },
  ],
};

function catalogOf(dialect: Dialect, count: number): DbCatalog {
  return { outflow: { migrations: { default: { [dialect]: MIGRATIONS[dialect].slice(0, count) } } }, plugins: {} };
}

/** Runs `work` on the database as the admin role, with outflow's entities. */
async function withDb<T>(config: DatabaseConfig, root: string, work: (db: OpenDatabase) => Promise<T>): Promise<T> {
  const db = await openDatabase({ name: "default", config, root, role: "admin", entities: [...outflowEntities] as never });
  try {
    return await work(db);
  } finally {
    await db.orm.close(true);
  }
}

/** What the previous version recorded: a successful run, an --emit-only run (then `cancelled`), a failed map with elements. */
function previousVersionRows(time: (ms: number) => string): string[] {
  const t = (s: number) => time(1_790_000_000_000 + s * 1000);
  const task = (id: number, run: string, kind: string, name: string, state: string, parent: number | null, element: number | null, message: string | null = null) =>
    `(${id}, '${run}', '${kind}', '${kind === "task" ? "extras" : ""}', '${name}', ${kind === "task" ? `'plugins/extras/tasks.ts#${name}'` : "null"}, '${state}', ${t(id)}, ${state === "pending" ? "null" : t(id + 1)}, ${message === null ? "null" : `'${message}'`}, ${message === null ? "null" : `'Error: ${message}\n    at Square (plugins/extras/tasks.ts:22:9)'`}, '[]', '[]', ${parent ?? "null"}, ${element ?? "null"})`;
  return [
    `insert into configuration (id, hash, content, created_at) values (1, '${"a".repeat(64)}', '{"plugins":["extras"]}', ${t(0)})`,
    `insert into run (uuid, command, args, backend, host, state, start_time, end_time, configuration_id) values
      ('${RUNS.success}', 'compute_data', '{"multiplier":3}', 'sequential', 'login1', 'success', ${t(1)}, ${t(2)}, 1),
      ('${RUNS.emitOnly}', 'squares', '{}', 'slurm', 'login1', 'cancelled', ${t(3)}, ${t(4)}, 1),
      ('${RUNS.failed}', 'squares', '{"failAt":2}', 'threads', 'login1', 'failed', ${t(5)}, ${t(6)}, null)`,
    `insert into task (id, run_uuid, kind, plugin, name, ref, state, start_time, end_time, exception_message, exception_stack, input_targets, output_targets, parent_id, element_index) values
      ${task(1, RUNS.success, "task", "GenData", "success", null, null)},
      ${task(2, RUNS.success, "task", "Compute", "success", null, null)},
      ${task(3, RUNS.emitOnly, "task", "Items", "success", null, null)},
      ${task(4, RUNS.emitOnly, "map", "map(squares)", "failed", null, null, "run cancelled")},
      ${task(5, RUNS.emitOnly, "task", "Total", "pending", null, null)},
      ${task(6, RUNS.failed, "task", "Items", "success", null, null)},
      ${task(7, RUNS.failed, "map", "map(squares)", "failed", null, null, "task Square (map element 1) failed")},
      ${task(8, RUNS.failed, "element", "squares[0]", "success", 7, 0)},
      ${task(9, RUNS.failed, "task", "Square", "success", 8, 0)},
      ${task(10, RUNS.failed, "element", "squares[1]", "failed", 7, 1, "element 2 refused")},
      ${task(11, RUNS.failed, "task", "Square", "failed", 10, 1, "element 2 refused")},
      ${task(12, RUNS.failed, "task", "Total", "pending", null, null)},
      ${task(13, RUNS.failed, "task", "Gone", "pending", null, null)}`,
    `insert into edge (id, run_uuid, from_task_id, to_task_id) values (1, '${RUNS.success}', 1, 2), (2, '${RUNS.emitOnly}', 3, 4), (3, '${RUNS.emitOnly}', 4, 5), (4, '${RUNS.failed}', 6, 7), (5, '${RUNS.failed}', 7, 12)`,
    // A deleted row: its id is not handed out again.
    `delete from task where id = 13`,
  ];
}

const RUNS = { success: "0b6f3c2e-1d4a-4f6b-9a51-0c2d3e4f5a61", emitOnly: "1c7a4d3f-2e5b-4a7c-8b62-1d3e4f5a6b72", failed: "2d8b5e4a-3f6c-4b8d-9c73-2e4f5a6b7c83" };

type Query = (sql: string) => Promise<Array<Record<string, unknown>>>;

/** Every record row, in a stable order, as plain values. */
async function dump(query: Query): Promise<Record<string, unknown>> {
  const plain = (rows: Array<Record<string, unknown>>) => rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v instanceof Date ? v.toISOString() : v])));
  return {
    configuration: plain(await query("select * from configuration order by id")),
    run: plain(await query("select uuid, command, args, backend, host, state, start_time, end_time, configuration_id from run order by uuid")),
    task: plain(await query("select * from task order by id")),
    edge: plain(await query("select * from edge order by id")),
  };
}

/** The records the upgrade must keep, and what must hold afterwards, for one dialect. */
async function checkUpgrade(opts: { root: string; dbConfig: DatabaseConfig; cfg: string[]; query: Query; time: (ms: number) => string; afterSeed?: Query; sameSchemaAsModels: () => Promise<void> }) {
  const { root, dbConfig, cfg, query } = opts;
  // The previous version: outflow's first migration only (and the plugin's), rows written by its runs.
  await withDb(dbConfig, root, async (db) => {
    expect(await upgrade(db, catalogOf(db.dialect, 1), "outflow")).toEqual([MIGRATIONS[db.dialect][0].name]);
    await grantUserRole(db, dbConfig);
  });
  manage(root, ["db", "upgrade", "data_reduction", ...cfg]);
  for (const sql of previousVersionRows(opts.time)) await query(sql);
  await opts.afterSeed?.("");
  const before = await dump(query);

  // The new version's next run says what to do, and writes nothing.
  const behind = runBundle(root, "compute_data", ["--multiplier", "3", ...cfg]);
  expect(behind.code).toBe(1);
  expect(lines(behind.stderr)).toEqual([expect.stringContaining("outflow: 1 of 2 migrations not applied; run `outflow management db upgrade heads`")]);
  expect(await dump(query)).toEqual(before);

  const up = manage(root, ["db", "upgrade", "heads", ...cfg]);
  expect(up.stdout).toMatch(/outflow: applied Migration\d+_emitted_and_resubmission_of/);
  expect(await dump(query)).toEqual(before);
  expect(await query("select resubmission_of_uuid from run")).toEqual([{ resubmission_of_uuid: null }, { resubmission_of_uuid: null }, { resubmission_of_uuid: null }]);

  await opts.sameSchemaAsModels();

  // The new states and the link are accepted; another state is not.
  await query(`update run set state = 'emitted', resubmission_of_uuid = null where uuid = '${RUNS.emitOnly}'`);
  await query(`update task set state = 'emitted' where id = 4`);
  await query(`update run set resubmission_of_uuid = '${RUNS.emitOnly}' where uuid = '${RUNS.failed}'`);
  await expect(query(`update run set state = 'paused' where uuid = '${RUNS.success}'`)).rejects.toThrow(/check/i);

  // References still lead to the right tables: deleting a run removes its tasks and edges and unlinks its resubmissions.
  await query(`delete from run where uuid = '${RUNS.emitOnly}'`);
  expect(Number((await query(`select count(*) as n from task where run_uuid = '${RUNS.emitOnly}'`))[0].n)).toBe(0);
  expect(Number((await query(`select count(*) as n from edge where run_uuid = '${RUNS.emitOnly}'`))[0].n)).toBe(0);
  expect(await query(`select resubmission_of_uuid from run where uuid = '${RUNS.failed}'`)).toEqual([{ resubmission_of_uuid: null }]);
  expect(Number((await query(`select count(*) as n from task`))[0].n)).toBe(9);
  await expect(query(`insert into task (run_uuid, kind, plugin, name, state, input_targets, output_targets) values ('${RUNS.emitOnly}', 'task', 'p', 'X', 'pending', '[]', '[]')`)).rejects.toThrow(/foreign key/i);

  // The next run works, alongside the old records.
  const next = runBundle(root, "compute_data", ["--multiplier", "3", ...cfg]);
  expect(next.code, next.stderr).toBe(0);
  const runs = await query(`select command, state, resubmission_of_uuid from run where uuid not in ('${RUNS.success}', '${RUNS.failed}')`);
  expect(runs).toEqual([{ command: "compute_data", state: "success", resubmission_of_uuid: null }]);
  const ids = (await query(`select id from task where run_uuid not in ('${RUNS.success}', '${RUNS.failed}') order by id`)).map((r) => Number(r.id));
  expect(ids).toHaveLength(3);
  expect(Math.min(...ids)).toBeGreaterThan(13);

  // `db downgrade --plugin outflow` with emitted rows and a link in the records: they become what the
  // previous version recorded (run cancelled, map failed with "run cancelled"), every other row is kept.
  await query(`update run set state = 'emitted' where uuid = '${RUNS.success}'`);
  await query(`update task set state = 'emitted', end_time = null where id = 2`);
  await query(`update run set resubmission_of_uuid = '${RUNS.success}' where uuid = '${RUNS.failed}'`);
  const emitted = await dump(query);
  const down = manage(root, ["db", "downgrade", "--plugin", "outflow", ...cfg]);
  expect(down.stdout).toMatch(/outflow: reverted Migration\d+_emitted_and_resubmission_of/);
  const reverted = await dump(query);
  const run = (d: Record<string, unknown>, uuid: string) => (d.run as Array<Record<string, unknown>>).find((r) => r.uuid === uuid);
  expect(run(reverted, RUNS.success)).toEqual({ ...run(emitted, RUNS.success), state: "cancelled" });
  const task2 = (d: Record<string, unknown>) => (d.task as Array<Record<string, unknown>>).find((r) => Number(r.id) === 2);
  expect(task2(reverted)).toEqual({ ...task2(emitted), state: "failed", exception_message: "run cancelled" });
  const others = (d: Record<string, unknown>) => ({ ...d, run: (d.run as Array<Record<string, unknown>>).filter((r) => r.uuid !== RUNS.success), task: (d.task as Array<Record<string, unknown>>).filter((r) => Number(r.id) !== 2) });
  expect(others(reverted)).toEqual(others(emitted));
  expect((await query("select * from run")).every((r) => !("resubmission_of_uuid" in r))).toBe(true);
  await expect(query(`update run set state = 'emitted' where uuid = '${RUNS.success}'`)).rejects.toThrow(/check/i);
  // And up again: the next run works.
  expect(manage(root, ["db", "upgrade", "heads", ...cfg]).stdout).toMatch(/outflow: applied Migration\d+_emitted_and_resubmission_of/);
  expect(await dump(query)).toEqual(reverted);
  const again = runBundle(root, "compute_data", ["--multiplier", "3", ...cfg]);
  expect(again.code, again.stderr).toBe(0);
}

/** outflow's tables in a SQLite file as SQLite sees them: columns, foreign keys, indexes, checks (quoting aside). */
function sqliteShape(file: string): Record<string, unknown> {
  const db = openSqlite(file);
  try {
    const shape: Record<string, unknown> = {};
    for (const table of ["configuration", "run", "task", "edge"]) {
      const sql = (db.prepare("select sql from sqlite_master where type = 'table' and name = ?").get(table) as { sql: string }).sql;
      const indexes = (db.pragma(`index_list(${table})`) as Array<{ name: string; unique: number }>).filter((i) => !i.name.startsWith("sqlite_"));
      shape[table] = {
        columns: db.pragma(`table_xinfo(${table})`),
        foreignKeys: (db.pragma(`foreign_key_list(${table})`) as Array<Record<string, unknown>>).map(({ id: _id, seq: _seq, ...fk }) => fk).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
        indexes: indexes.map((i) => ({ name: i.name, unique: i.unique, columns: (db.pragma(`index_info(${i.name})`) as Array<{ name: string }>).map((c) => c.name) })).sort((a, b) => a.name.localeCompare(b.name)),
        checks: (sql.replace(/[`"]/g, "").match(/check \([^)]*\)\)/g) ?? []).sort(),
        autoincrement: /autoincrement/i.test(sql),
      };
    }
    return shape;
  } finally {
    db.close();
  }
}

afterAll(removePipelines);

describe("upgrading the run records of the previous version", () => {
  it("SQLite: `db upgrade heads` rebuilds run, task and edge keeping every row, id and reference", async () => {
    const root = makeTutorialPipeline();
    await buildPipeline(root);
    const file = join(root, "outflow.db");
    const query: Query = async (sql) => {
      const { default: Database } = await import("better-sqlite3");
      const db = new Database(file);
      try {
        db.pragma("foreign_keys = on");
        const statement = db.prepare(sql);
        return statement.reader ? (statement.all() as Array<Record<string, unknown>>) : (statement.run(), []);
      } finally {
        db.close();
      }
    };
    // MikroORM's comparison misreads SQLite's foreign keys and checks (it finds differences even right after
    // the first migration): compare the tables with those MikroORM itself creates from the models instead.
    const sameSchemaAsModels = async () => {
      const fromModels = join(mkdtempSync(join(tmpdir(), "outflow-models-")), "models.db");
      await withDb({ dialect: "sqlite", path: fromModels } as DatabaseConfig, root, (db) => db.orm.getSchemaGenerator().createSchema());
      expect(sqliteShape(file)).toEqual(sqliteShape(fromModels));
    };
    await checkUpgrade({ root, dbConfig: { dialect: "sqlite", path: "outflow.db" } as DatabaseConfig, cfg: [], query, time: (ms) => String(ms), sameSchemaAsModels });
    const db = openSqlite(file);
    try {
      expect(db.pragma("foreign_key_check")).toEqual([]);
      expect(db.pragma("integrity_check")).toEqual([{ integrity_check: "ok" }]);
      // No table is left behind, none references a temporary name.
      const schema = (db.prepare("select name, sql from sqlite_master where sql is not null").all() as Array<{ name: string; sql: string }>).map((r) => `${r.name}: ${r.sql}`);
      expect(schema.join("\n")).not.toContain("temp_alter");
      expect(schema.filter((s) => /^(run|task|edge|run_\w+|task_\w+|edge_\w+):/.test(s)).map((s) => s.split(":")[0]).sort()).toEqual(
        ["edge", "edge_from_task_id_index", "edge_run_uuid_index", "edge_to_task_id_index", "run", "run_configuration_id_index", "run_resubmission_of_uuid_index", "run_start_time_index", "task", "task_parent_id_index", "task_run_uuid_index"],
      );
    } finally {
      db.close();
    }
  }, 120_000);

  describe("PostgreSQL", () => {
    let pg: TestDatabase;
    beforeAll(async () => {
      pg = await createTestDatabase();
    });

    it("`db upgrade heads` replaces the state checks and adds the link column, keeping every row; the user role still runs", async () => {
      const root = makeTutorialPipeline({ "instance.yml": pg.configYaml() });
      await buildPipeline(root);
      const query: Query = async (sql) => {
        const client = await pg.client(pg.admin);
        try {
          return (await client.query(sql)).rows as Array<Record<string, unknown>>;
        } finally {
          await client.end();
        }
      };
      const dbConfig = { dialect: "postgresql", address: pg.address, database: pg.database, user: pg.user, admin: pg.admin } as DatabaseConfig;
      // Rows inserted with their ids: the sequences go on after them, as they would have.
      const afterSeed: Query = () => query("select setval(pg_get_serial_sequence('task', 'id'), 13), setval(pg_get_serial_sequence('edge', 'id'), 5), setval(pg_get_serial_sequence('configuration', 'id'), 1)");
      // The schema is the one the models describe: make-migrations would have nothing to write.
      const sameSchemaAsModels = async () => {
        const made = await withDb(dbConfig, root, (db) => makeMigration({ db, catalog: catalogOf(db.dialect, 2), component: "outflow", dir: mkdtempSync(join(tmpdir(), "outflow-upgrade-")), message: "nothing" }));
        expect(made.up).toEqual([]);
      };
      await checkUpgrade({ root, dbConfig, cfg: ["--config", "instance.yml"], query, time: (ms) => `to_timestamp(${ms / 1000})`, afterSeed, sameSchemaAsModels });
      // The user role still may not alter what the upgrade changed.
      const asUser = await pg.client(pg.user);
      try {
        await expect(asUser.query(`alter table run drop column resubmission_of_uuid`)).rejects.toThrow(/must be owner/);
      } finally {
        await asUser.end();
      }
    }, 120_000);
  });
});
