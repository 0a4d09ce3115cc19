/**
 * Run-start checks, before any record is written: every component's migrations are applied in every
 * database it uses, and every model's table has the columns the model maps, with the types and
 * nullability it says. Each problem is one DatabaseError line.
 */
import type { EntityMetadata } from "@mikro-orm/core";
import { allModels, componentMigrations, componentsIn, migrationsTable, OUTFLOW, type DbCatalog } from "./catalog.js";
import type { OpenDatabase } from "./connect.js";
import { DatabaseError, driverReason, isMissingTable } from "./errors.js";
import { liveColumns, storedType } from "./live-columns.js";
import { getLogger } from "../logging/logger.js";

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
      throw new DatabaseError(`plugin ${p} has models in database "${db.name}" but no ${db.dialect} migrations; ${makeMigrationsHint(p)}`);
    }
  }
}

/** What to do about a plugin's model that does not match its table. */
export function makeMigrationsHint(plugin: string): string {
  return `create a migration (\`outflow management db make-migrations --plugin ${plugin} --message "..."\`), rebuild, then ${UPGRADE_HINT.slice(4)}`;
}

const OUTFLOW_HINT = "it is outflow's own table, changed outside outflow's migrations: undo that change";

/** The plugin each table belongs to (a pivot table to the model that declares the relation); outflow's otherwise. */
function tableOwners(metas: EntityMetadata[], catalog: DbCatalog, plugins: readonly string[]): Map<string, { model: string; plugin: string }> {
  const plugin = new Map(allModels(catalog, plugins).map((m) => [m.entity.meta.className, m.plugin]));
  const out = new Map<string, { model: string; plugin: string }>();
  for (const meta of metas) {
    const declaring = meta.pivotTable ? metas.find((m) => m.props.some((p) => p.pivotEntity === meta.className || p.pivotTable === meta.tableName)) : undefined;
    const model = declaring ?? meta;
    out.set(meta.tableName, { model: model.className, plugin: plugin.get(model.className) ?? OUTFLOW });
  }
  return out;
}

const quoted = (values: readonly unknown[]) => values.map((v) => `'${v}'`).join(", ");

function described(type: string, nullable: boolean): string {
  return `${type} ${nullable ? "null" : "not null"}`;
}

/**
 * Every model's table and columns as the database has them (one catalog query), against what MikroORM's
 * schema generator makes of the models: a missing table or column, a column that stores another type
 * (compared as the dialect stores it: SQLite's affinity, PostgreSQL's type without length or precision),
 * whose nullability differs, or whose check does not admit a value of the model's enum, is an error line
 * each, as is a table the role may not read. A column the model no longer maps is a warning (its data is
 * kept) unless it is NOT NULL without a default, which would make every insert fail.
 */
export async function checkModels(db: OpenDatabase, catalog: DbCatalog, plugins: readonly string[]): Promise<void> {
  const metas = Object.values(db.orm.getMetadata().getAll()).filter((m) => m.tableName && !m.embeddable && !m.virtual);
  if (!metas.length) return;
  const owners = tableOwners(metas, catalog, plugins);
  const target = (db.orm.getSchemaGenerator() as unknown as { getTargetSchema(): import("@mikro-orm/knex").DatabaseSchema }).getTargetSchema();
  const tables = target.getTables();
  const schemaOf = (t: { schema?: string }) => (db.dialect === "postgresql" && t.schema && t.schema !== "*" && t.schema !== "public" ? t.schema : undefined);
  let live: Awaited<ReturnType<typeof liveColumns>>;
  try {
    live = await liveColumns(db, tables.map((t) => ({ table: t.name, schema: schemaOf(t) })));
  } catch (error) {
    throw new DatabaseError(`database "${db.name}" (${db.where}): cannot read its tables' columns: ${driverReason(error)}`);
  }
  const errors: string[] = [];
  const warnings: string[] = [];
  for (const table of tables) {
    const owner = owners.get(table.name) ?? { model: table.name, plugin: OUTFLOW };
    const fix = owner.plugin === OUTFLOW ? OUTFLOW_HINT : makeMigrationsHint(owner.plugin);
    const schema = schemaOf(table);
    const name = schema ? `${schema}.${table.name}` : table.name;
    const where = `in database "${db.name}" (${db.where})`;
    const existing = live.get(name);
    if (!existing) {
      errors.push(`model ${owner.model} (${owner.plugin}) has no table ${name} ${where}; ${fix}`);
      continue;
    }
    if (!existing.readable) {
      errors.push(`model ${owner.model} (${owner.plugin}): role ${db.login} may not read table ${name} ${where}; ${UPGRADE_HINT} (it grants the user role data access)`);
      continue;
    }
    const has = existing.columns;
    const primary = new Set(table.getPrimaryKey()?.columnNames ?? []);
    const mismatch = (column: string, what: string) => `model ${owner.model} (${owner.plugin}) does not match table ${name} ${where}: column ${column}: ${what}; ${fix}`;
    const mapped = new Set<string>();
    for (const column of table.getColumns()) {
      mapped.add(column.name);
      const found = has.get(column.name);
      const model = described(column.type, !!column.nullable);
      if (!found) {
        errors.push(mismatch(column.name, `the model has ${model}, the table has no such column`));
        continue;
      }
      const typeDiffers = !column.generated && storedType(db.dialect, column.type) !== storedType(db.dialect, found.type);
      const nullDiffers = !primary.has(column.name) && !found.primary && !!column.nullable !== found.nullable;
      if (typeDiffers || nullDiffers) errors.push(mismatch(column.name, `the model has ${model}, the table has ${described(found.type, found.nullable)}`));
      const refused = found.allowed && column.enumItems?.filter((v) => !found.allowed!.includes(String(v)));
      if (refused?.length) errors.push(mismatch(column.name, `the model allows ${quoted(column.enumItems!)}, the table's check only ${quoted(found.allowed!)}`));
    }
    for (const [column, found] of has) {
      if (mapped.has(column)) continue;
      if (!found.nullable && !found.hasDefault && !found.primary) {
        errors.push(mismatch(column, `the table has ${described(found.type, false)} without a default, the model has no such column (every insert of ${owner.model} would fail)`));
      } else {
        const kept = owner.plugin === OUTFLOW ? "outflow leaves it alone" : `a new migration of ${owner.plugin} would drop it`;
        warnings.push(`model ${owner.model} (${owner.plugin}) does not map column ${column} (${described(found.type, found.nullable)}) of table ${name} ${where}: its data is kept, ${kept}`);
      }
    }
  }
  const log = getLogger("outflow.db");
  for (const w of warnings) log.warning(w);
  // One problem a line: the top-level report prefixes the first with "error: ", so do the rest.
  if (errors.length) throw new DatabaseError(errors.join("\nerror: "));
}
