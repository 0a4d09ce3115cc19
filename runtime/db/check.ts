/**
 * Run-start checks, before any record is written: every component's migrations are applied in every
 * database it uses, and every model's columns exist in its table. Each problem is one DatabaseError line.
 */
import type { EntityMetadata } from "@mikro-orm/core";
import { allModels, componentMigrations, componentsIn, migrationsTable, OUTFLOW, type DbCatalog } from "./catalog.js";
import type { OpenDatabase } from "./connect.js";
import { DatabaseError, driverReason, isMissingTable } from "./errors.js";

export const UPGRADE_HINT = "run `outflow management db upgrade heads`";

export interface ComponentStatus {
  component: string;
  database: string;
  /** Migration names this build ships for the database's dialect, in order. */
  known: string[];
  /** Names recorded in the component's migrations table (empty when the table is missing). */
  applied: string[];
  pending: string[];
  /** Applied migrations this build does not know (the database is newer than the code). */
  unknown: string[];
}

function quote(db: OpenDatabase, identifier: string): string {
  return db.dialect === "sqlite" ? `\`${identifier.replace(/`/g, "``")}\`` : `"${identifier.replace(/"/g, '""')}"`;
}

/** Names recorded in a component's migrations table, oldest first; [] when the table does not exist. */
export async function appliedMigrations(db: OpenDatabase, component: string): Promise<string[]> {
  try {
    const rows: Array<{ name: string }> = await db.orm.em.getConnection().execute(`select name from ${quote(db, migrationsTable(component))} order by id`, [], "all");
    return rows.map((r) => r.name);
  } catch (error) {
    if (isMissingTable(error)) return [];
    throw new DatabaseError(`database "${db.name}" (${db.where}): cannot read ${migrationsTable(component)}: ${driverReason(error)}`);
  }
}

export async function componentStatus(db: OpenDatabase, catalog: DbCatalog, component: string): Promise<ComponentStatus> {
  const known = (componentMigrations(catalog, component, db.name, db.dialect) ?? []).map((m) => m.name);
  const applied = await appliedMigrations(db, component);
  const done = new Set(applied);
  const knownSet = new Set(known);
  return { component, database: db.name, known, applied, pending: known.filter((n) => !done.has(n)), unknown: applied.filter((n) => !knownSet.has(n)) };
}

export async function databaseStatus(db: OpenDatabase, catalog: DbCatalog, plugins: readonly string[]): Promise<ComponentStatus[]> {
  return Promise.all(componentsIn(catalog, plugins, db.name).map((c) => componentStatus(db, catalog, c)));
}

/** Throws the "run `outflow management db upgrade heads`" line when a migration is missing. */
export async function checkMigrations(db: OpenDatabase, catalog: DbCatalog, plugins: readonly string[]): Promise<void> {
  const statuses = await databaseStatus(db, catalog, plugins);
  const behind = statuses.filter((s) => s.pending.length > 0);
  if (behind.length) {
    const what = behind.map((s) => `${s.component}: ${s.pending.length} of ${s.known.length} migration${s.known.length === 1 ? "" : "s"} not applied`).join(", ");
    const fresh = behind.some((s) => s.component === OUTFLOW && s.applied.length === 0) ? " (outflow's tables do not exist yet)" : "";
    throw new DatabaseError(`database "${db.name}" (${db.where}) is not up to date${fresh}: ${what}; ${UPGRADE_HINT}`);
  }
  const withModels = new Set(allModels(catalog, plugins).filter((m) => m.database === db.name).map((m) => m.plugin));
  for (const p of withModels) {
    if (!statuses.some((s) => s.component === p && s.known.length)) {
      throw new DatabaseError(`plugin ${p} has models in database "${db.name}" but no ${db.dialect} migrations; run \`outflow management db make-migrations --plugin ${p} --message "..."\`, rebuild, then ${UPGRADE_HINT.slice(4)}`);
    }
  }
}

/** Columns a model maps to: scalars, owning relations, embedded fields. */
function columnsOf(meta: EntityMetadata): string[] {
  return meta.props
    .filter((p) => p.persist !== false && !p.formula && (p.kind === "scalar" || p.kind === "m:1" || (p.kind === "1:1" && p.owner)) && p.fieldNames?.length)
    .flatMap((p) => p.fieldNames);
}

/** Every model's table and columns exist: `select <columns> from <table> where 1 = 0`. */
export async function checkModels(db: OpenDatabase, catalog: DbCatalog, plugins: readonly string[]): Promise<void> {
  const conn = db.orm.em.getConnection();
  const owner = new Map(allModels(catalog, plugins).map((m) => [m.entity.meta.className, m.plugin]));
  for (const meta of Object.values(db.orm.getMetadata().getAll())) {
    if (meta.embeddable || meta.virtual || !meta.tableName) continue;
    const cols = columnsOf(meta);
    if (!cols.length) continue;
    const table = meta.schema && meta.schema !== "*" ? `${quote(db, meta.schema)}.${quote(db, meta.tableName)}` : quote(db, meta.tableName);
    try {
      await conn.execute(`select ${cols.map((c) => quote(db, c)).join(", ")} from ${table} where 1 = 0`, [], "all");
    } catch (error) {
      const plugin = owner.get(meta.className) ?? OUTFLOW;
      throw new DatabaseError(`model ${meta.className} (${plugin}) does not match table ${meta.tableName} in database "${db.name}" (${db.where}): ${driverReason(error)}; create a migration (outflow management db make-migrations --plugin ${plugin} --message "..."), rebuild, then upgrade`);
    }
  }
}
