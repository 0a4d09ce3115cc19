import { parseArgs } from "citty";
import type { ArgSpec } from "../../contract/manifest.js";

import { UsageError } from "./usage-error.js";

export { UsageError };

/** Options every runnable command accepts, whatever its own args. */
export const globalOptions: Record<string, ArgSpec> = {
  backend: { type: "enum", options: ["sequential", "threads", "slurm"], description: "Where tasks run (default: command, then config, then sequential)" },
  workers: { type: "integer", description: "Worker threads for --backend threads (default: available cores)" },
  config: { type: "string", description: "Per-instance config file (.yml/.yaml/.json); also OUTFLOW_CONFIG_PATH" },
  // slurm backend (runtime/backends/slurm)
  "emit-only": { type: "boolean", description: "With --backend slurm: write the sbatch scripts and inputs, print how to submit them, submit nothing" },
  "resubmit-failed": { type: "string", description: "With --backend slurm: complete the run in this run directory (or run id), submitting only its failed elements" },
  "slurm-dir": { type: "string", description: "With --backend slurm: where run directories go (default <pipeline root>/.outflow/runs; also OUTFLOW_SLURM_DIR)" },
  "log-level": { type: "enum", options: ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], alias: ["ll"], description: "Log level (overrides config)" },
};

/** `-ll DEBUG` is outflow's short form; citty would read it as `-l -l`. */
export function normaliseArgv(argv: string[]): string[] {
  return argv.map((a) => (a === "-ll" ? "--log-level" : a.startsWith("-ll=") ? `--log-level=${a.slice(4)}` : a));
}

function kebab(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, "$1-$2").toLowerCase();
}

function camel(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function coerce(name: string, spec: ArgSpec, raw: unknown): unknown {
  const flag = `--${kebab(name)}`;
  if (spec.type === "boolean") {
    if (typeof raw === "boolean") return raw;
    throw new UsageError(`${flag} is a switch and takes no value (got ${JSON.stringify(raw)})`);
  }
  if (raw === true || raw === "") throw new UsageError(`${flag} needs a value`);
  const text = String(raw);
  switch (spec.type) {
    case "number":
    case "integer": {
      const value = Number(text.trim());
      if (text.trim() === "" || !Number.isFinite(value)) throw new UsageError(`${flag} must be a number, got ${JSON.stringify(text)}`);
      if (spec.type === "integer" && !Number.isInteger(value)) throw new UsageError(`${flag} must be an integer, got ${JSON.stringify(text)}`);
      return value;
    }
    case "enum":
      if (!spec.options?.includes(text)) throw new UsageError(`${flag} must be one of ${spec.options?.join(", ")}, got ${JSON.stringify(text)}`);
      return text;
    default:
      return text;
  }
}

/**
 * Parses and validates `argv` against the declared args: types, enums, required args, unknown options
 * and stray positionals are all errors naming the argument.
 */
export function parseCommandArgs(argv: string[], specs: Record<string, ArgSpec>): Record<string, unknown> {
  const cittyDefs: Record<string, { type: "string" | "boolean"; alias?: string[] }> = {};
  for (const [name, spec] of Object.entries(specs)) cittyDefs[kebab(name)] = { type: spec.type === "boolean" ? "boolean" : "string", alias: spec.alias };
  const booleans = new Set(Object.entries(specs).filter(([, s]) => s.type === "boolean").map(([n]) => kebab(n)));
  // A value-taking option followed by nothing is a usage error, not a boolean `true`.
  const parsed = parseArgs(argv, cittyDefs as never) as Record<string, unknown> & { _: string[] };
  // `fail_at` is accepted as --fail_at and --fail-at; citty reports either under several spellings.
  const spellings = (name: string, spec: ArgSpec) => [...new Set([name, kebab(name), kebab(name).replace(/_/g, "-"), camel(kebab(name).replace(/_/g, "-")), ...(spec.alias ?? [])])];
  const known = new Set<string>(["_"]);
  for (const [name, spec] of Object.entries(specs)) for (const n of spellings(name, spec)) known.add(n);
  for (const key of Object.keys(parsed)) {
    if (!known.has(key) && !(key.startsWith("no") && booleans.has(kebab(key.slice(2)).replace(/^-/, "")))) {
      throw new UsageError(`unknown option ${key.length === 1 ? "-" : "--"}${kebab(key)}`);
    }
  }
  if (parsed._.length) throw new UsageError(`unexpected argument ${JSON.stringify(parsed._[0])}`);
  const values: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const raw = spellings(name, spec).map((n) => parsed[n]).find((v) => v !== undefined);
    if (raw === undefined) {
      if (spec.required) throw new UsageError(`missing required argument --${kebab(name)}${spec.description ? ` (${spec.description})` : ""}`);
      if (spec.default !== undefined) values[name] = spec.default;
      continue;
    }
    values[name] = coerce(name, spec, Array.isArray(raw) ? raw[raw.length - 1] : raw);
  }
  return values;
}

export { kebab as flagName };
