/**
 * Applying and reverting migrations with MikroORM's migrator, one component (outflow or a plugin) at a
 * time, each with its own migrations table. Runs as the admin role; on PostgreSQL the user role is then
 * granted DML (never DDL) on every table, so a pipeline run cannot drop one.
 */
import type { DatabaseConfig } from "../config/schema.js";
import { componentMigrations, migrationsTable, type DbCatalog, type MigrationEntry } from "./catalog.js";
import type { OpenDatabase } from "./connect.js";
import { DatabaseError, driverReason } from "./errors.js";

type Migrator = import("@mikro-orm/migrations").Migrator;

/**
 * How a migrator runs: in a transaction of its own (all or nothing), or inside the one the caller holds
 * (SQLite's first run, which creates every component's tables in one transaction): then it opens none,
 * and its migrations table is created in that transaction too.
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

function failure(db: OpenDatabase, component: string, what: string, error: unknown): DatabaseError {
  const name = (error as { migration?: { name?: string } })?.migration?.name;
  const cause = (error as { cause?: unknown })?.cause ?? error;
  return new DatabaseError(`${what} ${component} on database "${db.name}" (${db.where}) failed${name ? ` in ${name}` : ""}: ${driverReason(cause)}`);
}

/** Applies every pending migration of `component`; returns their names. */
export async function upgrade(db: OpenDatabase, catalog: DbCatalog, component: string, opts: MigratorOptions = {}): Promise<string[]> {
  const migrator = await migratorFor(db, catalog, component, opts);
  try {
    return (await migrator.up()).map((m) => m.name);
  } catch (error) {
    throw failure(db, component, "upgrading", error);
  }
}

/** Reverts the last applied migration of `component`; returns its name (undefined: none applied). */
export async function downgrade(db: OpenDatabase, catalog: DbCatalog, component: string): Promise<string | undefined> {
  const migrator = await migratorFor(db, catalog, component);
  try {
    const executed = await migrator.getExecutedMigrations();
    if (!executed.length) return undefined;
    const last = executed[executed.length - 1].name;
    const known = componentMigrations(catalog, component, db.name, db.dialect) ?? [];
    if (!known.some((m) => m.name === last)) throw new DatabaseError(`cannot downgrade ${component} on database "${db.name}": its last applied migration ${last} is not in this build (rebuild with the migration file present)`);
    const reverted = await migrator.down();
    return reverted[0]?.name ?? last;
  } catch (error) {
    if (error instanceof DatabaseError) throw error;
    throw failure(db, component, "downgrading", error);
  }
}

function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * PostgreSQL with distinct admin and user roles: the user role may read and write every table and use
 * its sequences, nothing more (tables belong to the admin role, so only it can alter or drop them).
 */
export async function grantUserRole(db: OpenDatabase, config: DatabaseConfig): Promise<string | undefined> {
  if (config.dialect !== "postgresql" || !config.admin || config.admin.username === config.user.username) return undefined;
  const conn = db.orm.em.getConnection();
  try {
    const [{ schema }] = await conn.execute<{ schema: string }[]>("select current_schema() as schema", [], "all");
    const user = ident(config.user.username);
    await conn.execute(`grant usage on schema ${ident(schema)} to ${user}`);
    await conn.execute(`grant select, insert, update, delete on all tables in schema ${ident(schema)} to ${user}`);
    await conn.execute(`grant usage, select, update on all sequences in schema ${ident(schema)} to ${user}`);
    return config.user.username;
  } catch (error) {
    throw new DatabaseError(`granting data access to role ${config.user.username} on database "${db.name}" failed: ${driverReason(error)}`);
  }
}
