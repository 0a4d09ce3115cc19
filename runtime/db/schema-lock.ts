/**
 * One process at a time makes or changes a database's tables: a first run on a new SQLite file, and
 * `outflow management db upgrade`. Each waits for the one before it (up to SQLITE_BUSY_TIMEOUT_MS, then one
 * line), then finds what that one made.
 * - SQLite: the lock is the database's write lock (BEGIN IMMEDIATE), and what is done under it is one
 *   transaction: the migrators open none of their own. A holder that dies never commits; SQLite
 *   discards its transaction and releases the lock, so nothing half-made is left. Foreign keys are off
 *   on the connection from before the transaction begins until it ended (foreign-keys.ts).
 * - PostgreSQL: a session advisory lock on a connection held for the purpose; the migrators run on
 *   others, in their own transactions. The server releases it when the holder's session ends.
 * The wait retries every LOCK_POLL_MS instead of blocking, so the process answers signals meanwhile.
 */
import type { Database as SqliteHandle } from "better-sqlite3";
import type pg from "pg";
import { connectionPool, SQLITE_BUSY_TIMEOUT_MS, sqliteHandle, type OpenDatabase } from "./connect.js";
import { DatabaseError, driverReason } from "./errors.js";
import { withForeignKeysOff } from "./foreign-keys.js";
import type { MigratorOptions } from "./migrate.js";

const LOCK_POLL_MS = 20;
/** The advisory lock's key (two int4): "outf", 1. Advisory locks are per database. */
const PG_LOCK_KEY = [0x6f757466, 1] as const;

/** Runs `fn` holding the database's schema lock; `fn` runs its migrators with the options it is given. */
export async function withSchemaLock<T>(db: OpenDatabase, fn: (migrators: MigratorOptions) => Promise<T>): Promise<T> {
  if (db.dialect !== "sqlite") return withAdvisoryLock(db, fn);
  const raw = await sqliteHandle(db);
  return withForeignKeysOff(raw, () => inWriteTransaction(db, raw, fn));
}

async function inWriteTransaction<T>(db: OpenDatabase, raw: SqliteHandle, fn: (migrators: MigratorOptions) => Promise<T>): Promise<T> {
  // better-sqlite3 waits for a busy lock synchronously: the connection's own busy timeout is 0 meanwhile.
  raw.pragma("busy_timeout = 0");
  try {
    await retry(db, () => {
      try {
        raw.exec("begin immediate");
        return true;
      } catch (error) {
        if ((error as { code?: string }).code === "SQLITE_BUSY") return false;
        throw new DatabaseError(`database "${db.name}" (${db.where}): cannot start a transaction: ${driverReason(error)}`);
      }
    });
  } finally {
    raw.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
  }
  try {
    const result = await fn({ inCallersTransaction: true });
    raw.exec("commit");
    return result;
  } finally {
    if (raw.inTransaction) raw.exec("rollback");
  }
}

async function withAdvisoryLock<T>(db: OpenDatabase, fn: (migrators: MigratorOptions) => Promise<T>): Promise<T> {
  const pool = connectionPool<pg.Client>(db);
  const held = await pool.acquireConnection();
  try {
    await retry(db, async () => (await held.query("select pg_try_advisory_lock($1, $2) as locked", [...PG_LOCK_KEY])).rows[0].locked === true);
    try {
      return await fn({});
    } finally {
      await held.query("select pg_advisory_unlock($1, $2)", [...PG_LOCK_KEY]).catch(() => {});
    }
  } finally {
    await pool.releaseConnection(held);
  }
}

async function retry(db: OpenDatabase, take: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + SQLITE_BUSY_TIMEOUT_MS;
  while (!(await take())) {
    if (Date.now() >= deadline) throw lockTimeout(db);
    await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
  }
}

function lockTimeout(db: OpenDatabase): DatabaseError {
  const lock = db.dialect === "sqlite" ? "its write lock" : "its schema lock";
  return new DatabaseError(
    `database "${db.name}" (${db.where}): another process has held ${lock} for ${SQLITE_BUSY_TIMEOUT_MS / 1000} s (${db.dialect === "sqlite" ? "a first run still creating its tables, or a long write" : "a `db upgrade` still migrating"}); run again once it has ended, or stop it if it hangs`,
  );
}
