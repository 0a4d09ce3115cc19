/**
 * Writes the run records with plain SQL on the ORM's own connection (no unit of work): better-sqlite3
 * prepared statements on SQLite, the knex pool on PostgreSQL. Task rows arrive in batches (see
 * RecordBuffer) and are written in one transaction per batch: a row inserted and finished within the
 * same batch is written once, in its final state. Columns and encodings match entities.ts (SQLite
 * stores dates as epoch milliseconds).
 */
import type { Database as SqliteDatabase, Statement } from "better-sqlite3";
import { sqliteHandle, type OpenDatabase } from "./connect.js";
import type { RunState, TaskKind, TaskState } from "./entities.js";

/** A task row's identity: the id is known once the row is written (SQLite) or reserved (PostgreSQL). */
export class RowHandle {
  constructor(public id?: number) {}
}

export interface TaskRow {
  kind: TaskKind | "control";
  plugin: string;
  name: string;
  ref: string | null;
  state: TaskState;
  start: Date | null;
  end: Date | null;
  message: string | null;
  stack: string | null;
  inputs: string[];
  outputs: string[];
  parent: RowHandle | null;
  element: number | null;
}

export interface RowUpdate {
  handle: RowHandle;
  state: TaskState;
  start?: Date;
  end?: Date;
  message?: string | null;
  stack?: string | null;
}

/** Rows to insert (in order: parents first) and updates of rows written by earlier batches. */
export interface Batch {
  inserts: Array<{ handle: RowHandle; row: TaskRow }>;
  updates: RowUpdate[];
}

export interface RunRow {
  uuid: string;
  command: string;
  /** JSON text. */
  args: string;
  backend: string;
  host: string;
  start: Date;
  configuration: number;
  /** The run this one completes (`--resubmit-failed`), if any. */
  resubmissionOf: string | null;
}

export interface RecordStore {
  /** The id of the configuration row with this hash, inserting it first if new. */
  configuration(hash: string, content: string): Promise<number>;
  insertRun(run: RunRow): Promise<void>;
  /** Whether the records hold a run with this id. */
  hasRun(uuid: string): Promise<boolean>;
  endRun(uuid: string, state: RunState, end: Date): Promise<void>;
  /** Rows (the pending top-level nodes) and the edges between them (indices into `rows`); returns ids. */
  insertGraph(run: string, rows: TaskRow[], edges: Array<[number, number]>): Promise<number[]>;
  write(run: string, batch: Batch): Promise<void>;
  /** Marks still-running tasks failed with `message`. */
  failRunning(run: string, at: Date, message: string): Promise<void>;
  /** A run that ended successfully (early, by exitPipeline()): the tasks it never reached are skipped. */
  skipPending(run: string): Promise<void>;
}

export function recordStore(db: OpenDatabase): Promise<RecordStore> {
  return db.dialect === "sqlite" ? SqliteRecordStore.open(db) : Promise.resolve(new PgRecordStore(db));
}

const RUN_COLUMNS = "uuid, command, args, backend, host, state, start_time, configuration_id, resubmission_of_uuid";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TASK_COLUMNS = "run_uuid, kind, plugin, name, ref, state, start_time, end_time, exception_message, exception_stack, input_targets, output_targets, parent_id, element_index";
const TASK_PLACEHOLDERS = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

function time(date: Date | null | undefined, sqlite: boolean): number | Date | null {
  return date ? (sqlite ? +date : date) : null;
}

/**
 * PostgreSQL text cannot hold NUL (U+0000), which an exception message quoting the bytes of a binary file
 * may: the batch holding it would fail to write, and its rows stay as they were. It is stored as U+FFFD.
 */
function pgText<T extends string | null | undefined>(text: T): T {
  return (typeof text === "string" && text.includes("\0") ? text.replace(/\0/g, "\uFFFD") : text) as T;
}

function rowValues(run: string, r: TaskRow, sqlite: boolean): unknown[] {
  const text = sqlite ? <T>(t: T) => t : pgText;
  return [run, r.kind, r.plugin, r.name, r.ref, r.state, time(r.start, sqlite), time(r.end, sqlite), text(r.message), text(r.stack), JSON.stringify(r.inputs), JSON.stringify(r.outputs), r.parent?.id ?? null, r.element];
}

/** SQLite: synchronous prepared statements on the very connection MikroORM uses (knex keeps exactly one). */
class SqliteRecordStore implements RecordStore {
  private readonly insert: Statement;
  private readonly update: Statement;

  private constructor(private readonly db: SqliteDatabase) {
    this.insert = db.prepare(`insert into task (${TASK_COLUMNS}) values ${TASK_PLACEHOLDERS}`);
    this.update = db.prepare(
      "update task set state = ?, start_time = coalesce(?, start_time), end_time = coalesce(?, end_time), exception_message = coalesce(?, exception_message), exception_stack = coalesce(?, exception_stack) where id = ?",
    );
  }

  static async open(db: OpenDatabase): Promise<SqliteRecordStore> {
    return new SqliteRecordStore(await sqliteHandle(db));
  }

  /**
   * A write issued while a task holds a transaction on the shared connection would join (and could be
   * rolled back with) that transaction: wait for it to end (tasks in this thread only; rare).
   */
  private async idle(): Promise<void> {
    while (this.db.inTransaction) await new Promise((resolve) => setTimeout(resolve, 1));
  }

  async configuration(hash: string, content: string): Promise<number> {
    await this.idle();
    this.db.prepare("insert into configuration (hash, content, created_at) values (?, ?, ?) on conflict (hash) do nothing").run(hash, content, Date.now());
    return (this.db.prepare("select id from configuration where hash = ?").get(hash) as { id: number }).id;
  }

  async insertRun(run: RunRow): Promise<void> {
    await this.idle();
    this.db
      .prepare(`insert into run (${RUN_COLUMNS}) values (?, ?, ?, ?, ?, 'running', ?, ?, ?)`)
      .run(run.uuid, run.command, run.args, run.backend, run.host, +run.start, run.configuration, run.resubmissionOf);
  }

  async hasRun(uuid: string): Promise<boolean> {
    await this.idle();
    return this.db.prepare("select 1 from run where uuid = ?").get(uuid) !== undefined;
  }

  async endRun(uuid: string, state: RunState, end: Date): Promise<void> {
    await this.idle();
    this.db.prepare("update run set state = ?, end_time = ? where uuid = ?").run(state, +end, uuid);
  }

  async insertGraph(run: string, rows: TaskRow[], edges: Array<[number, number]>): Promise<number[]> {
    await this.idle();
    const edge = this.db.prepare("insert into edge (run_uuid, from_task_id, to_task_id) values (?, ?, ?)");
    return this.db.transaction(() => {
      const ids = rows.map((r) => Number(this.insert.run(...rowValues(run, r, true)).lastInsertRowid));
      for (const [from, to] of edges) edge.run(run, ids[from], ids[to]);
      return ids;
    })();
  }

  async write(run: string, batch: Batch): Promise<void> {
    await this.idle();
    this.db.transaction(() => {
      for (const { handle, row } of batch.inserts) handle.id = Number(this.insert.run(...rowValues(run, row, true)).lastInsertRowid);
      for (const u of batch.updates) this.update.run(u.state, time(u.start, true), time(u.end, true), u.message ?? null, u.stack ?? null, u.handle.id);
    })();
  }

  async failRunning(run: string, at: Date, message: string): Promise<void> {
    await this.idle();
    this.db.prepare("update task set state = 'failed', end_time = ?, exception_message = ? where run_uuid = ? and state = 'running'").run(+at, message, run);
  }

  async skipPending(run: string): Promise<void> {
    await this.idle();
    this.db.prepare("update task set state = 'skipped' where run_uuid = ? and state = 'pending'").run(run);
  }
}

type Transaction = Parameters<Parameters<ReturnType<OpenDatabase["orm"]["em"]["getConnection"]>["transactional"]>[0]>[0];

/**
 * PostgreSQL: ids reserved from the table's sequence, then one multi-row insert and one update per batch,
 * all in one transaction (on one pooled connection): a batch, as the graph's rows and edges at run start,
 * is written whole or not at all.
 */
class PgRecordStore implements RecordStore {
  constructor(private readonly db: OpenDatabase) {}

  private exec<T = unknown>(sql: string, params: unknown[], method: "all" | "run" = "run", trx?: Transaction): Promise<T> {
    return this.db.orm.em.getConnection().execute(sql, params, method, trx) as Promise<T>;
  }

  async configuration(hash: string, content: string): Promise<number> {
    await this.exec("insert into configuration (hash, content, created_at) values (?, ?, ?) on conflict (hash) do nothing", [hash, content, new Date()]);
    const rows = await this.exec<{ id: number }[]>("select id from configuration where hash = ?", [hash], "all");
    return rows[0].id;
  }

  async insertRun(run: RunRow): Promise<void> {
    await this.exec(`insert into run (${RUN_COLUMNS}) values (?, ?, ?, ?, ?, 'running', ?, ?, ?)`, [
      run.uuid,
      run.command,
      run.args,
      run.backend,
      run.host,
      run.start,
      run.configuration,
      run.resubmissionOf,
    ]);
  }

  async hasRun(uuid: string): Promise<boolean> {
    // The column is a uuid: another id (an untracked run's) is in no row, and would not parse.
    if (!UUID.test(uuid)) return false;
    return (await this.exec<unknown[]>("select 1 from run where uuid = ?", [uuid], "all")).length > 0;
  }

  async endRun(uuid: string, state: RunState, end: Date): Promise<void> {
    await this.exec("update run set state = ?, end_time = ? where uuid = ?", [state, end, uuid]);
  }

  private async reserve(count: number, trx?: Transaction): Promise<number[]> {
    const rows = await this.exec<{ id: string | number }[]>("select nextval(pg_get_serial_sequence('task', 'id')) as id from generate_series(1, ?)", [count], "all", trx);
    return rows.map((r) => Number(r.id));
  }

  private async insertRows(run: string, rows: Array<{ id: number; row: TaskRow }>, trx?: Transaction): Promise<void> {
    // Large batches in slices: PostgreSQL allows 65535 bind parameters per statement.
    for (let i = 0; i < rows.length; i += 1000) {
      const slice = rows.slice(i, i + 1000);
      const values = slice.map(() => "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)").join(", ");
      await this.exec(`insert into task (id, ${TASK_COLUMNS}) values ${values}`, slice.flatMap(({ id, row }) => [id, ...rowValues(run, row, false)]), "run", trx);
    }
  }

  async insertGraph(run: string, rows: TaskRow[], edges: Array<[number, number]>): Promise<number[]> {
    if (!rows.length) return [];
    return this.db.orm.em.getConnection().transactional(async (trx) => {
      const ids = await this.reserve(rows.length, trx);
      await this.insertRows(run, rows.map((row, i) => ({ id: ids[i], row })), trx);
      if (edges.length) {
        await this.exec(`insert into edge (run_uuid, from_task_id, to_task_id) values ${edges.map(() => "(?, ?, ?)").join(", ")}`, edges.flatMap(([f, t]) => [run, ids[f], ids[t]]), "run", trx);
      }
      return ids;
    });
  }

  async write(run: string, batch: Batch): Promise<void> {
    if (batch.inserts.length || batch.updates.length) await this.db.orm.em.getConnection().transactional((trx) => this.writeIn(trx, run, batch));
  }

  private async writeIn(trx: Transaction, run: string, batch: Batch): Promise<void> {
    if (batch.inserts.length) {
      const ids = await this.reserve(batch.inserts.length, trx);
      batch.inserts.forEach(({ handle }, i) => (handle.id = ids[i]));
      await this.insertRows(run, batch.inserts.map(({ handle, row }) => ({ id: handle.id!, row })), trx);
    }
    for (let i = 0; i < batch.updates.length; i += 1000) {
      const slice = batch.updates.slice(i, i + 1000);
      const values = slice.map(() => "(?::int, ?::text, ?::timestamptz, ?::timestamptz, ?::text, ?::text)").join(", ");
      await this.exec(
        `update task as t set state = v.state, start_time = coalesce(v.start_time, t.start_time), end_time = coalesce(v.end_time, t.end_time),
           exception_message = coalesce(v.message, t.exception_message), exception_stack = coalesce(v.stack, t.exception_stack)
         from (values ${values}) as v(id, state, start_time, end_time, message, stack) where t.id = v.id`,
        slice.flatMap((u) => [u.handle.id, u.state, u.start ?? null, u.end ?? null, pgText(u.message ?? null), pgText(u.stack ?? null)]),
        "run",
        trx,
      );
    }
  }

  async failRunning(run: string, at: Date, message: string): Promise<void> {
    await this.exec("update task set state = 'failed', end_time = ?, exception_message = ? where run_uuid = ? and state = 'running'", [at, pgText(message), run]);
  }

  async skipPending(run: string): Promise<void> {
    await this.exec("update task set state = 'skipped' where run_uuid = ? and state = 'pending'", [run]);
  }
}
