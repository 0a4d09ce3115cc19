/**
 * SQLite migrations run with the connection's foreign keys off, as SQLite documents for schema changes
 * (lang_altertable.html, "Making Other Kinds Of Table Schema Changes"). A migration that changes a column
 * rebuilds the table (`<t>__temp_alter`, copy, `drop table <t>`, rename); with foreign keys on, `drop
 * table` first deletes the table's rows, which deletes every row of another table that references them
 * (on delete cascade), nulls their references (set null), or fails the migration (no action). The
 * `pragma foreign_keys = off` a generated migration starts with does nothing: SQLite ignores the pragma
 * inside a transaction, and migrations always run in one. So it is set on the connection before the
 * transaction begins and set back after it ended, on every path out. (A process that dies meanwhile
 * takes the setting along with its connection: it is not stored in the file.)
 *
 * What foreign keys would have refused is checked after each migration instead, in its transaction
 * (`pragma foreign_key_check`): a reference the migration left without its row stops the migration, and
 * the transaction is rolled back.
 */
import type { Database as SqliteHandle } from "better-sqlite3";

/** Runs `fn` (which opens and ends the transaction) with the connection's foreign keys off. */
export async function withForeignKeysOff<T>(raw: SqliteHandle, fn: () => Promise<T>): Promise<T> {
  if (raw.inTransaction) throw new Error("foreign keys can only be switched off outside a transaction");
  const was = raw.pragma("foreign_keys", { simple: true });
  raw.pragma("foreign_keys = off");
  try {
    return await fn();
  } finally {
    if (raw.inTransaction) raw.exec("rollback");
    raw.pragma(`foreign_keys = ${was ? "on" : "off"}`);
  }
}

/** Rows whose reference has no row to go to, per referencing table, its columns and the table they reference. */
export type Dangling = Map<string, { table: string; columns: string; parent: string; rows: number }>;

export function danglingReferences(raw: SqliteHandle): Dangling {
  const out: Dangling = new Map();
  const found = raw.pragma("foreign_key_check") as Array<{ table: string; parent: string; fkid: number }>;
  const keys = new Map<string, Array<{ id: number; from: string }>>();
  for (const { table, parent, fkid } of found) {
    if (!keys.has(table)) keys.set(table, raw.pragma(`foreign_key_list("${table.replace(/"/g, '""')}")`) as Array<{ id: number; from: string }>);
    const columns = keys.get(table)!.filter((k) => k.id === fkid).map((k) => k.from).join(", ");
    const key = JSON.stringify([table, columns, parent]);
    const entry = out.get(key) ?? { table, columns, parent, rows: 0 };
    entry.rows++;
    out.set(key, entry);
  }
  return out;
}

/**
 * What a migration did wrong, as one reason (undefined: nothing): the dangling references it added to
 * those there were before it (rows someone wrote with foreign keys off are not its doing).
 */
export function addedDangling(before: Dangling, after: Dangling): string | undefined {
  const added = [...after].sort(([a], [b]) => a.localeCompare(b)).flatMap(([key, d]) => {
    const more = d.rows - (before.get(key)?.rows ?? 0);
    return more > 0 ? [`${more} row${more === 1 ? "" : "s"} of table ${d.table} (${d.columns}) referencing no row of ${d.parent}`] : [];
  });
  if (!added.length) return undefined;
  return `it leaves ${added.join(", ")}; foreign keys are off while migrations run (so a rebuilt table keeps the rows that reference it), and a delete does not cascade: delete or update the referencing rows in the migration too`;
}
