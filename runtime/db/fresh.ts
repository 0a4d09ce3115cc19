/**
 * The embedded SQLite default needs no setup: an EMPTY SQLite database (a file that did not exist, or has
 * no table at all) gets every migration applied at run start, so a fresh clone runs at once. A database
 * that has tables but is behind still stops with "run `outflow management db upgrade heads`": applying
 * migrations to data someone cares about stays an explicit act.
 */
import { componentsIn, type DbCatalog } from "./catalog.js";
import type { OpenDatabase } from "./connect.js";
import { upgrade } from "./migrate.js";
import { getLogger } from "../logging/logger.js";

export async function initialiseEmptySqlite(db: OpenDatabase, catalog: DbCatalog, plugins: readonly string[]): Promise<void> {
  if (db.dialect !== "sqlite") return;
  const conn = db.orm.em.getConnection();
  // BEGIN IMMEDIATE: concurrent first runs on one new file wait for each other instead of racing.
  await conn.execute("begin immediate", [], "run");
  let empty: boolean;
  try {
    const rows: Array<{ n: number }> = await conn.execute("select count(*) as n from sqlite_master where type = 'table'", [], "all");
    empty = Number(rows[0]?.n ?? 0) === 0;
  } finally {
    await conn.execute("commit", [], "run");
  }
  if (!empty) return;
  let applied = 0;
  for (const component of componentsIn(catalog, plugins, db.name)) applied += (await upgrade(db, catalog, component)).length;
  getLogger("outflow.db").info(`new database "${db.name}" (${db.where}): applied ${applied} migration${applied === 1 ? "" : "s"}`);
}
