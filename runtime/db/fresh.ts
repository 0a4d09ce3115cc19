/**
 * The embedded SQLite default needs no setup: an EMPTY SQLite database (a file that did not exist, or has
 * no table at all) gets every migration applied at run start, so a fresh clone runs at once. A database
 * that has tables but is behind still stops with "run `outflow management db upgrade heads`": applying
 * migrations to data someone cares about stays an explicit act.
 *
 * Several first runs at once on one new file: each takes the schema lock (schema-lock.ts: the write lock)
 * before it looks again whether the file is empty, and makes every component's tables in that one
 * transaction. So exactly one run creates them; the others wait for its commit, then find them made. A
 * creator that dies half-way (killed, a second Ctrl-C) never commits: the file is empty again for the
 * next run to create.
 */
import type { Database as SqliteHandle } from "better-sqlite3";
import { componentsIn, type DbCatalog } from "./catalog.js";
import { sqliteHandle, type OpenDatabase } from "./connect.js";
import { upgrade } from "./migrate.js";
import { withSchemaLock } from "./schema-lock.js";
import { getLogger } from "../logging/logger.js";

export async function initialiseEmptySqlite(db: OpenDatabase, catalog: DbCatalog, plugins: readonly string[]): Promise<void> {
  if (db.dialect !== "sqlite") return;
  const raw = await sqliteHandle(db);
  // A file with tables never becomes empty again: only an empty one is worth the lock.
  if (!isEmpty(raw)) return;
  const applied = await withSchemaLock(db, async (migrators) => {
    if (!isEmpty(raw)) return 0;
    let count = 0;
    for (const component of componentsIn(catalog, plugins, db.name)) count += (await upgrade(db, catalog, component, migrators)).length;
    return count;
  });
  if (applied) getLogger("outflow.db").info(`new database "${db.name}" (${db.where}): applied ${applied} migration${applied === 1 ? "" : "s"}`);
}

function isEmpty(raw: SqliteHandle): boolean {
  return (raw.prepare("select count(*) as n from sqlite_master where type = 'table'").get() as { n: number }).n === 0;
}
