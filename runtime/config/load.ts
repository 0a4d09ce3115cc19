/**
 * Builds the pipeline config: `outflow.config.ts` (the base) ← the per-instance file (`--config`,
 * else `OUTFLOW_CONFIG_PATH`) deep-merged over it ← schema defaults; then validates it.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import * as z from "zod/mini";
import { describeValue } from "./describe.js";
import { ConfigError } from "./errors.js";
import { describeIssue, formatIssueLine } from "./issues.js";
import { isPlainObject, markDefaults, mergeLayer, sourceOf, type Sources } from "./merge.js";
import { displayPath, readConfigFile } from "./read.js";
import { configSchema, type OutflowConfig } from "./schema.js";

export { ConfigError } from "./errors.js";

export interface LoadConfigOptions {
  /** The default export of `outflow.config.ts`; may be undefined. */
  base: unknown;
  /** How the base is named in messages and `sources`, e.g. `"outflow.config.ts"`. */
  baseName: string;
  /** The `--config` path (relative to `cwd`); wins over `OUTFLOW_CONFIG_PATH`. */
  file?: string;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export interface LoadedConfig {
  config: OutflowConfig;
  /** Dotted key path (`"databases"`, `"databases.default.path"`) → file it came from, or `"default"`. */
  sources: Map<string, string>;
}

export function loadConfig(opts: LoadConfigOptions): LoadedConfig {
  const sources: Sources = new Map();
  const base = opts.base ?? {};
  if (!isPlainObject(base)) {
    throw new ConfigError(`${opts.baseName}: the default export must be an object (export default defineConfig({ ... })), got ${describeValue(base)}`);
  }
  let merged = mergeLayer({}, base, opts.baseName, sources);

  const instance = instanceFile(opts);
  if (instance) {
    const absPath = resolve(opts.cwd, instance.path);
    if (!existsSync(absPath)) throw new ConfigError(`config file not found: ${instance.path} (from ${instance.from})`);
    const name = displayPath(absPath, opts.cwd);
    const { value, origins } = readConfigFile(absPath, { cwd: opts.cwd, env: opts.env });
    if (value !== undefined && value !== null) {
      if (!isPlainObject(value)) throw new ConfigError(`${name}: expected a mapping of config keys at the top level, got ${describeValue(value)}`);
      merged = mergeLayer(merged, value, name, sources, origins);
    }
  }

  const result = z.safeParse(configSchema, merged);
  if (!result.success) {
    const [first, ...rest] = result.error.issues;
    const line = describeIssue(first!, merged);
    const file = sourceOf(sources, line.path) ?? opts.baseName;
    const more = rest.length > 0 ? ` (and ${rest.length} more problem${rest.length === 1 ? "" : "s"})` : "";
    throw new ConfigError(`${file}: ${formatIssueLine(line)}${more}`);
  }
  markDefaults(result.data, sources);
  return { config: result.data, sources };
}

function instanceFile(opts: LoadConfigOptions): { path: string; from: string } | undefined {
  if (opts.file) return { path: opts.file, from: "--config" };
  const fromEnv = opts.env.OUTFLOW_CONFIG_PATH;
  if (fromEnv) return { path: fromEnv, from: "OUTFLOW_CONFIG_PATH" };
  return undefined;
}
