/**
 * The embedded SQLite default needs no setup: an EMPTY SQLite database (a file that did not exist, or has
 * no table at all) gets every migration applied at run start, so a fresh clone runs at once. A database
 * that has tables but is behind still stops with "run `outflow management db upgrade heads`": applying
 * migrations to data someone cares about stays an explicit act.
 *
 * Several first runs at once on one new file: each takes the database's write lock (BEGIN IMMEDIATE)
 * before it looks whether the file is empty, and keeps it until every component's tables are made, all
 * in that one transaction. So exactly one run creates the tables; the others wait for its commit, then
 * find them made. A creator that dies half-way (killed, a second Ctrl-C) never commits: SQLite discards
 * the transaction and releases its lock, and the file is empty again for the next run to create.
 */
import type { Database as SqliteHandle } from "better-sqlite3";
import { componentsIn, type DbCatalog } from "./catalog.js";
import { SQLITE_BUSY_TIMEOUT_MS, sqliteHandle, type OpenDatabase } from "./connect.js";
import { DatabaseError, driverReason } from "./errors.js";
import { upgrade } from "./migrate.js";
import { getLogger } from "../logging/logger.js";

/** Between two tries for the write lock: the process keeps answering signals while it waits. */
const LOCK_POLL_MS = 20;

export async function initialiseEmptySqlite(db: OpenDatabase, catalog: DbCatalog, plugins: readonly string[]): Promise<void> {
  if (db.dialect !== "sqlite") return;
  const raw = await sqliteHandle(db);
  // A file with tables never becomes empty again: only an empty one is worth the write lock.
  if (!isEmpty(raw)) return;
  await takeWriteLock(raw, db);
  let applied = 0;
  try {
    if (isEmpty(raw)) {
      for (const component of componentsIn(catalog, plugins, db.name)) applied += (await upgrade(db, catalog, component, { inCallersTransaction: true })).length;
    }
    raw.exec("commit");
  } finally {
    if (raw.inTransaction) raw.exec("rollback");
  }
  if (applied) getLogger("outflow.db").info(`new database "${db.name}" (${db.where}): applied ${applied} migration${applied === 1 ? "" : "s"}`);
}

function isEmpty(raw: SqliteHandle): boolean {
  return (raw.prepare("select count(*) as n from sqlite_master where type = 'table'").get() as { n: number }).n === 0;
}

/**
 * BEGIN IMMEDIATE, retried without blocking the event loop until SQLITE_BUSY_TIMEOUT_MS have passed
 * (better-sqlite3 waits synchronously for a busy lock, so the connection's own busy timeout is set to 0
 * meanwhile). The lock is released by SQLite when its holder ends, however it ends.
 */
async function takeWriteLock(raw: SqliteHandle, db: OpenDatabase): Promise<void> {
  const deadline = Date.now() + SQLITE_BUSY_TIMEOUT_MS;
  raw.pragma("busy_timeout = 0");
  try {
    for (;;) {
      try {
        raw.exec("begin immediate");
        return;
      } catch (error) {
        if ((error as { code?: string }).code !== "SQLITE_BUSY" || Date.now() >= deadline) throw lockFailure(db, error);
      }
      await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
    }
  } finally {
    raw.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
  }
}

function lockFailure(db: OpenDatabase, error: unknown): DatabaseError {
  if ((error as { code?: string }).code !== "SQLITE_BUSY") return new DatabaseError(`database "${db.name}" (${db.where}): cannot start a transaction: ${driverReason(error)}`);
  return new DatabaseError(
    `database "${db.name}" (${db.where}): another process has held its write lock for ${SQLITE_BUSY_TIMEOUT_MS / 1000} s (a first run still creating its tables, or a long write); run again once it has ended, or stop it if it hangs`,
  );
}
