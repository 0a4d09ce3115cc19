import type { ArgSpec } from "../../contract/manifest.js";
import { callSite, type RawSite } from "../graph/site.js";

/** Argument declarations: `{ multiplier: { type: "number", required: true } }`. */
export type ArgsDefinition = Record<string, ArgSpec>;

type ArgValue<S extends ArgSpec> = S["type"] extends "number" | "integer"
  ? number
  : S["type"] extends "boolean"
    ? boolean
    : S["type"] extends "enum"
      ? S extends { options: readonly (infer O)[] } ? O : string
      : string;

/** The parsed values of a command's args: required or defaulted args are present, others may be undefined. */
export type ArgValues<A extends ArgsDefinition> = {
  [K in keyof A]: A[K] extends { required: true } | { default: unknown } ? ArgValue<A[K]> : ArgValue<A[K]> | undefined;
};

export interface CommandDefinition<A extends ArgsDefinition = ArgsDefinition> {
  /** CLI name; defaults to the export name in snake_case. */
  name?: string;
  description?: string;
  args?: A;
  /** Builds the task graph. Runs in recording mode: task calls add nodes, no task body runs. */
  setup?: (input: { args: ArgValues<A> }) => void;
  /** Nested commands, by CLI name. */
  subcommands?: Record<string, CommandRef>;
  /** `false`: a group that prints its help. Default true when `setup` is given. */
  invokable?: boolean;
  /** Backend for this command (CLI `--backend` wins, config is the fallback). */
  backend?: "sequential" | "threads" | "slurm";
  /** `false`: untracked, runs with no database. */
  db?: boolean;
  /** sbatch directives for this command's maps on the slurm backend (config < command < `map({ slurm })`). */
  slurm?: Record<string, unknown>;
}

export interface CommandRef<A extends ArgsDefinition = ArgsDefinition> {
  readonly __outflowCommand: true;
  readonly definition: CommandDefinition<A>;
  /** Where `command(` is written. */
  readonly site: RawSite;
}

export function command<const A extends ArgsDefinition = {}>(definition: CommandDefinition<A>): CommandRef<A> {
  return { __outflowCommand: true, definition, site: callSite(command) };
}

export function isCommandRef(value: unknown): value is CommandRef {
  return typeof value === "object" && value !== null && (value as CommandRef).__outflowCommand === true;
}

/** `computeData` → `compute_data`, `HTTPFetch` → `http_fetch`. */
export function snakeCase(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1_$2")
    .replace(/[-\s]+/g, "_")
    .toLowerCase();
}
