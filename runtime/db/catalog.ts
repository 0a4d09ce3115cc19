/**
 * The database catalog: what `outflow build` lists into `generated/db.ts` (every plugin's models and
 * migrations, and outflow's own migrations), so a bundle never globs the file system. Helpers here
 * answer "which entities live in database X" and "which migrations does component Y have there".
 */
import { EntitySchema } from "@mikro-orm/core";

export type Dialect = "sqlite" | "postgresql";
export const DIALECTS: readonly Dialect[] = ["sqlite", "postgresql"];

/** A MikroORM migration class (`export class Migration2026… extends Migration`). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type MigrationClass = new (...args: any[]) => object;

export interface MigrationEntry {
  /** File name without extension; what the migrations table records. */
  name: string;
  /** Imports the migration lazily (runs only need the names). */
  load: () => Promise<MigrationClass>;
}

/** Migrations of one component, by database name, then dialect. */
export type MigrationTree = Record<string, Partial<Record<Dialect, MigrationEntry[]>>>;

export interface PluginDb {
  /** Namespaces of `plugins/<p>/models/*.ts`; their `EntitySchema` exports are the plugin's entities. */
  models: Array<Record<string, unknown>>;
  migrations: MigrationTree;
}

/** The shape of `generated/db.ts`'s `db` export. */
export interface DbCatalog {
  outflow: { migrations: MigrationTree };
  plugins: Record<string, PluginDb>;
}

export const EMPTY_CATALOG: DbCatalog = { outflow: { migrations: {} }, plugins: {} };

/** outflow's own tables are a component named "outflow"; each plugin is another. */
export const OUTFLOW = "outflow";

/** The database that holds the run records. */
export const RECORDS_DATABASE = "default";

export interface ModelInfo {
  entity: EntitySchema;
  plugin: string;
  database: string;
}

/** A model module may say `export const database = "other"`; otherwise its entities live in "default". */
export function pluginModels(catalog: DbCatalog, plugin: string): ModelInfo[] {
  const out: ModelInfo[] = [];
  for (const mod of catalog.plugins[plugin]?.models ?? []) {
    const database = typeof mod.database === "string" && mod.database ? mod.database : RECORDS_DATABASE;
    for (const value of Object.values(mod)) if (value instanceof EntitySchema) out.push({ entity: value, plugin, database });
  }
  return out;
}

export function allModels(catalog: DbCatalog, plugins: readonly string[]): ModelInfo[] {
  return plugins.flatMap((p) => pluginModels(catalog, p));
}

export function componentMigrations(catalog: DbCatalog, component: string, database: string, dialect: Dialect): MigrationEntry[] | undefined {
  const tree = component === OUTFLOW ? catalog.outflow.migrations : catalog.plugins[component]?.migrations;
  return tree?.[database]?.[dialect];
}

/** Components with something in `database`: outflow (records database only), then plugins in config order. */
export function componentsIn(catalog: DbCatalog, plugins: readonly string[], database: string): string[] {
  const out: string[] = database === RECORDS_DATABASE ? [OUTFLOW] : [];
  for (const p of plugins) {
    const hasModels = pluginModels(catalog, p).some((m) => m.database === database);
    const tree = catalog.plugins[p]?.migrations?.[database];
    if (hasModels || (tree && Object.values(tree).some((l) => l && l.length))) out.push(p);
  }
  return out;
}

/** Each component keeps its own migrations table, so downgrading one never touches another. */
export function migrationsTable(component: string): string {
  return `outflow_migrations__${component.replace(/[^A-Za-z0-9_]/g, "_")}`;
}

export function entityTable(entity: EntitySchema): string {
  const meta = entity.meta;
  return meta.tableName ?? meta.collection ?? snake(meta.className);
}

function snake(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase();
}
