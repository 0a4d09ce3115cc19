/**
 * The manifest: the one contract between `compiler/` and `runtime/`.
 *
 * `outflow build` writes it to `generated/manifest.json`; every bundle embeds it. The compiler never
 * hands the runtime anything else (besides the generated zod validators, keyed by the same task ids),
 * and the runtime never looks at TypeScript source. Reading this file explains the whole system.
 */

/** Bumped whenever the shape below changes incompatibly. */
export const MANIFEST_FORMAT = 1 as const;

/** A position in a source file, relative to the pipeline root, 1-based line and column. */
export interface Site {
  file: string;
  line: number;
  column: number;
}

/** `"<module path relative to root>#<export name>"`, e.g. `"plugins/data_reduction/tasks.ts#Compute"`. */
export type TaskId = string;

export interface InputSpec {
  /** Parameter name = input target name. */
  name: string;
  /** The declared TypeScript type, as text (for messages). */
  type: string;
  /** `x?: T` or `x = default`: the task runs without it. */
  optional: boolean;
  /** `x = default` (the default value lives in the task code, not here). */
  hasDefault: boolean;
  /** Set when the parameter is `IterateOn<"target", T>`: one element of the upstream array `target`. */
  iterateOn?: { target: string; elementType: string };
}

export interface OutputSpec {
  /** Key of the returned object = output target name. */
  name: string;
  type: string;
  optional: boolean;
}

export interface TaskSpec {
  id: TaskId;
  /** The export name, also the task's display name. */
  name: string;
  /** Plugin folder name (`data_reduction`), or "" for a task outside plugins/. */
  plugin: string;
  /** Module path relative to the pipeline root. */
  module: string;
  /** Where `task(` is written. */
  site: Site;
  async: boolean;
  inputs: InputSpec[];
  /** Empty for a `void` task. */
  outputs: OutputSpec[];
  /**
   * Whether the declared return type allows `Skipped` (`{...} | SkippedValue`). Absent when not recorded:
   * the graph checks then take the task as one that may return it (a `merge()` after it is not refused).
   */
  skippable?: boolean;
}

export type ArgType = "string" | "number" | "integer" | "boolean" | "enum";

export interface ArgSpec {
  type: ArgType;
  description?: string;
  required?: boolean;
  default?: string | number | boolean;
  /** For `enum`. */
  options?: string[];
  /** One-letter or short aliases (`["m"]`). */
  alias?: string[];
}

export interface CommandSpec {
  /** CLI name: snake_case of the export name unless `name` is given. */
  name: string;
  /** Path from the top level: `["compute_data"]`, `["db", "upgrade"]`. */
  path: string[];
  /** `"<module>#<export>"` of the `command()` value (for subcommands, the parent's path plus key). */
  source: string;
  site: Site;
  description: string;
  /** `false`: the command only groups subcommands and prints its help. */
  invokable: boolean;
  args: Record<string, ArgSpec>;
  /** `false`: untracked, runs with no database at all. */
  db: boolean;
  /** Backend set in the command definition (CLI > command > config). */
  backend?: string;
  /** The graph recorded at build time with default/placeholder args (the runtime re-records with real args). */
  graph: GraphSpec | null;
  /** CLI names of direct subcommands. */
  subcommands: string[];
}

/** A command's task graph, or the sub-workflow of a map/loop/branch. */
export interface GraphSpec {
  nodes: NodeSpec[];
  edges: EdgeSpec[];
  /** A map or loop body that setup() threw in while it was being recorded: what it holds is only what came before the throw. */
  cutShort?: true;
}

/**
 * `task`: a task call. `map`: outflow's MapTask (body once per element). `loop`: body repeated.
 * `if` / `then` / `else`: `ifThenElse(condition)`; the branch not taken is skipped. `merge`: the outputs
 * of its only non-skipped parent. `interactive`: a REPL on the outputs flowing through it.
 */
export type NodeKind = "task" | "map" | "loop" | "if" | "then" | "else" | "merge" | "interactive";

export interface NodeSpec {
  /** Index in `GraphSpec.nodes`. */
  id: number;
  kind: NodeKind;
  /** For `task` nodes. */
  task?: TaskId;
  /** Names of inputs bound to constants at the call (`Sleep({ seconds: 60 })`). */
  bound?: string[];
  /** Where the node was created (`Compute()` / `map(`). */
  site: Site;
  map?: MapSpec;
  loop?: LoopSpec;
}

export interface LoopSpec {
  /** A number of iterations, or `null` for `infinite: true` (ended by `exitPipeline()` or an exception). */
  iterations: number | null;
  body: GraphSpec;
}

export interface MapOptions {
  outputName: string;
  cpusPerTask?: number;
  simultaneousTasks?: number;
  /** Backend-specific options; other backends ignore them. */
  slurm?: Record<string, unknown>;
}

export interface MapSpec {
  options: MapOptions;
  /** True when a user `reduce` replaces the default array-of-elements result. */
  customReduce: boolean;
  body: GraphSpec;
}

export interface EdgeSpec {
  from: number;
  to: number;
  /** Where `.pipe(` / `pipe(` is written. */
  site: Site;
}

export interface PluginSpec {
  name: string;
  /** Folder relative to the pipeline root. */
  dir: string;
}

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  outflowVersion: string;
  /** Relative module path of the pipeline config (`outflow.config.ts`), if any. */
  configModule: string | null;
  plugins: PluginSpec[];
  tasks: Record<TaskId, TaskSpec>;
  commands: CommandSpec[];
}
