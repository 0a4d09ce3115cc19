import { isPlainObject } from "../config/merge.js";
import type { DatabaseConfig } from "../config/schema.js";

/** Objects merge key by key; arrays and scalars replace (as a per-instance config file does). */
export function deepMerge(base: unknown, over: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(over)) return over === undefined ? base : over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = deepMerge(base[k], v);
  return out;
}

/** A partial configuration a test lays over the pipeline's outflow.config.ts. */
export type ConfigOverrides = Record<string, unknown>;

/**
 * The pipeline's config with the test's overrides; `database` replaces `databases.default` whole (a
 * PostgreSQL entry must not inherit the SQLite `path`).
 */
export function overrideConfig(base: unknown, overrides: ConfigOverrides | undefined, database: DatabaseConfig | undefined): unknown {
  let merged = overrides ? deepMerge(base ?? {}, overrides) : base;
  if (database) {
    const current = isPlainObject(merged) ? merged : {};
    const databases = isPlainObject(current.databases) ? current.databases : {};
    merged = { ...current, databases: { ...databases, default: database } };
  }
  return merged;
}
