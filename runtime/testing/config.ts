import { isPlainObject, mergeLayer } from "../config/merge.js";
import type { DatabaseConfig } from "../config/schema.js";

/**
 * Objects merge key by key, arrays and scalars replace, and a database whose dialect changes is replaced
 * whole: the same merge as a per-instance config file (`--config`).
 */
function mergeOverrides(base: unknown, over: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(over)) return over === undefined ? base : over;
  return mergeLayer(base, over, "test overrides", new Map());
}

/** A partial configuration a test lays over the pipeline's outflow.config.ts. */
export type ConfigOverrides = Record<string, unknown>;

/**
 * The pipeline's config with the test's overrides; `database` replaces `databases.default` whole (a
 * PostgreSQL entry must not inherit the SQLite `path`).
 */
export function overrideConfig(base: unknown, overrides: ConfigOverrides | undefined, database: DatabaseConfig | undefined): unknown {
  let merged = overrides ? mergeOverrides(base ?? {}, overrides) : base;
  if (database) {
    const current = isPlainObject(merged) ? merged : {};
    const databases = isPlainObject(current.databases) ? current.databases : {};
    merged = { ...current, databases: { ...databases, default: database } };
  }
  return merged;
}
