/**
 * Applying and reverting migrations with MikroORM's migrator, one component (outflow or a plugin) at a
 * time, each with its own migrations table. Runs as the admin role; on PostgreSQL the user role is then
 * granted DML (never DDL) on every table, so a pipeline run cannot drop one. On SQLite, migrations run
 * with foreign keys off and each one's references are checked after it (foreign-keys.ts).
 */
import type { DatabaseConfig } from "../config/schema.js";
import { allModels, componentMigrations, entityTable, migrationsTable, type DbCatalog, type MigrationEntry } from "./catalog.js";
import { sqliteHandle, type OpenDatabase } from "./connect.js";
import { DatabaseError, driverReason } from "./errors.js";
import { addedDangling, danglingReferences, withForeignKeysOff, type Dangling } from "./foreign-keys.js";

type Migrator = import("@mikro-orm/migrations").Migrator;

/**
 * How a migrator runs: in a transaction of its own (all or nothing), or inside the one the caller holds
 * (SQLite's schema lock: a first run, `db upgrade`, `db downgrade`): then it opens none, and its
 * migrations table is created in that transaction too. On SQLite that caller switched foreign keys off
 * before it began the transaction.
 */
export interface MigratorOptions {
  inCallersTransaction?: boolean;
}

/** A migrator for one component in one database (the ORM's `migrations` options are set for it). */
export async function migratorFor(db: OpenDatabase, catalog: DbCatalog, component: string, opts: MigratorOptions = {}, entries = componentMigrations(catalog, component, db.name, db.dialect) ?? []): Promise<Migrator> {
  const { Migrator } = await import("@mikro-orm/migrations");
  const list = await Promise.all(entries.map(async (m: MigrationEntry) => ({ name: m.name, class: (await m.load()) as never })));
  db.orm.config.set("migrations", {
    ...db.orm.config.get("migrations"),
    tableName: migrationsTable(component),
    migrationsList: list,
    silent: true,
    snapshot: false,
    transactional: !opts.inCallersTransaction,
    allOrNothing: true,
  });
  return new Migrator(db.orm.em as never);
}

function failureLine(db: OpenDatabase, component: string, what: string, migration: string | undefined, reason: string): string {
  return `${what} ${component} on database "${db.name}" (${db.where}) failed${migration ? ` in ${migration}` : ""}: ${reason}`;
}

function failure(db: OpenDatabase, component: string, what: string, error: unknown): DatabaseError {
  if (error instanceof DatabaseError) return error;
  const name = (error as { migration?: { name?: string } })?.migration?.name;
  const cause = (error as { cause?: unknown })?.cause ?? error;
  return new DatabaseError(failureLine(db, component, what, name, driverReason(cause)));
}

/**
 * Runs `work` (the migrator's up or down). SQLite: with foreign keys off (switched off here when the
 * migrator opens its own transaction), each migration's dangling references checked after it.
 */
async function migrating<T>(db: OpenDatabase, migrator: Migrator, opts: MigratorOptions, what: string, component: string, work: () => Promise<T>): Promise<T> {
  if (db.dialect !== "sqlite") return work();
  const raw = await sqliteHandle(db);
  let before: Dangling | undefined;
  const start = () => {
    // A transaction that has them on would let a rebuilt table's drop delete the rows referencing it.
    if (raw.pragma("foreign_keys", { simple: true })) throw new Error(`${what} ${component}: migrations on SQLite must run with foreign keys off`);
    before ??= danglingReferences(raw);
  };
  const check = ({ name }: { name: string }) => {
    const after = danglingReferences(raw);
    const reason = addedDangling(before!, after);
    if (reason) throw new DatabaseError(failureLine(db, component, what, name, reason));
    before = after;
  };
  migrator.on("migrating", start).on("reverting", start).on("migrated", check).on("reverted", check);
  return opts.inCallersTransaction ? work() : withForeignKeysOff(raw, work);
}

/** Applies every pending migration of `component`; returns their names. */
export async function upgrade(db: OpenDatabase, catalog: DbCatalog, component: string, opts: MigratorOptions = {}): Promise<string[]> {
  const migrator = await migratorFor(db, catalog, component, opts);
  try {
    return await migrating(db, migrator, opts, "upgrading", component, async () => (await migrator.up()).map((m) => m.name));
  } catch (error) {
    throw failure(db, component, "upgrading", error);
  }
}

/** Reverts the last applied migration of `component`; returns its name (undefined: none applied). */
export async function downgrade(db: OpenDatabase, catalog: DbCatalog, component: string, opts: MigratorOptions = {}): Promise<string | undefined> {
  const migrator = await migratorFor(db, catalog, component, opts);
  try {
    const executed = await migrator.getExecutedMigrations();
    if (!executed.length) return undefined;
    const last = executed[executed.length - 1].name;
    const known = componentMigrations(catalog, component, db.name, db.dialect) ?? [];
    if (!known.some((m) => m.name === last)) throw new DatabaseError(`cannot downgrade ${component} on database "${db.name}": its last applied migration ${last} is not in this build (rebuild with the migration file present)`);
    const reverted = await migrating(db, migrator, opts, "downgrading", component, () => migrator.down());
    return reverted[0]?.name ?? last;
  } catch (error) {
    throw failure(db, component, "downgrading", error);
  }
}

function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * PostgreSQL with distinct admin and user roles: the user role may read and write every table and use
 * its sequences, nothing more (tables belong to the admin role, so only it can alter or drop them).
 * That is every table of the admin's current schema (outflow's, the migrations tables, models without a
 * schema) and the tables of models declared in another schema (`schema: "archive"`), with their sequences.
 */
export async function grantUserRole(db: OpenDatabase, config: DatabaseConfig, models: ModelTable[] = []): Promise<string | undefined> {
  if (config.dialect !== "postgresql" || !config.admin || config.admin.username === config.user.username) return undefined;
  const conn = db.orm.em.getConnection();
  try {
    const [{ schema }] = await conn.execute<{ schema: string }[]>("select current_schema() as schema", [], "all");
    const user = ident(config.user.username);
    await conn.execute(`grant usage on schema ${ident(schema)} to ${user}`);
    await conn.execute(`grant select, insert, update, delete on all tables in schema ${ident(schema)} to ${user}`);
    await conn.execute(`grant usage, select, update on all sequences in schema ${ident(schema)} to ${user}`);
    const elsewhere = models.filter((t): t is { schema: string; table: string } => !!t.schema && t.schema !== "*" && t.schema !== schema);
    if (elsewhere.length) {
      // Those of the models' tables that exist (a failed upgrade may not have made them all), and their sequences.
      const found: Array<{ schema: string; name: string; sequence: boolean }> = await conn.execute(
        `select n.nspname as schema, c.relname as name, c.relkind = 'S' as sequence from pg_class c join pg_namespace n on n.oid = c.relnamespace
          where (c.relkind in ('r', 'p') and (n.nspname, c.relname) in (${elsewhere.map(() => "(?, ?)").join(", ")}))
             or (c.relkind = 'S' and exists (select 1 from pg_depend d join pg_class t on t.oid = d.refobjid join pg_namespace tn on tn.oid = t.relnamespace
                   where d.objid = c.oid and d.deptype in ('a', 'i') and (tn.nspname, t.relname) in (${elsewhere.map(() => "(?, ?)").join(", ")})))`,
        [...elsewhere, ...elsewhere].flatMap((t) => [t.schema, t.table]),
        "all",
      );
      for (const s of new Set(found.map((f) => f.schema))) await conn.execute(`grant usage on schema ${ident(s)} to ${user}`);
      for (const f of found) {
        await conn.execute(`grant ${f.sequence ? "usage, select, update" : "select, insert, update, delete"} on ${f.sequence ? "sequence " : ""}${ident(f.schema)}.${ident(f.name)} to ${user}`);
      }
    }
    return config.user.username;
  } catch (error) {
    throw new DatabaseError(`granting data access to role ${config.user.username} on database "${db.name}" failed: ${driverReason(error)}`);
  }
}

export interface ModelTable {
  /** MikroORM's `schema` option of the model, if any. */
  schema?: string;
  table: string;
}

/** The tables of the models of `plugins` in database `name`, with their schema (to grant access to). */
export function modelTables(catalog: DbCatalog, plugins: readonly string[], name: string): ModelTable[] {
  return allModels(catalog, plugins)
    .filter((m) => m.database === name)
    .map((m) => ({ schema: m.entity.meta.schema, table: entityTable(m.entity) }));
}
