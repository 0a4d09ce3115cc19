/**
 * outflow's own tables: the run records. Declared with `defineEntity` like any plugin model; their
 * migrations live in `migrations/{sqlite,postgresql}/` of the outflow package.
 */
import { defineEntity, p, type InferEntity } from "@mikro-orm/core";

/**
 * `emitted`: `--backend slurm --emit-only` wrote the job scripts and submitted nothing; the run waits for
 * them to be submitted by hand and collected with `--resubmit-failed` (a run of its own).
 */
export const RUN_STATES = ["running", "success", "failed", "cancelled", "emitted"] as const;
/** `emitted`: a map whose Slurm array was written by `--emit-only`, waiting to be submitted by hand. */
export const TASK_STATES = ["pending", "running", "success", "failed", "skipped", "emitted"] as const;
/**
 * `task`: a task call; `map`: a map node; `element`: one element of a map (parent of its body's tasks);
 * `loop`: a loop node; `iteration`: one run of a loop's body (`loop()[2]`, parent of that run's tasks).
 * Stored as text so new node kinds need no migration.
 */
export const TASK_KINDS = ["task", "map", "element", "loop", "iteration"] as const;

export type RunState = (typeof RUN_STATES)[number];
export type TaskState = (typeof TASK_STATES)[number];
export type TaskKind = (typeof TASK_KINDS)[number];

/** One row per distinct configuration (credentials masked); runs point at it. */
export const OutflowConfiguration = defineEntity({
  name: "OutflowConfiguration",
  tableName: "configuration",
  properties: {
    id: p.integer().primary().autoincrement(),
    /** sha256 of the canonical JSON of `content`. */
    hash: p.string().length(64).unique(),
    content: p.json<Record<string, unknown>>(),
    createdAt: p.datetime(),
  },
});

/** One execution of a command. */
export const OutflowRun = defineEntity({
  name: "OutflowRun",
  tableName: "run",
  properties: {
    uuid: p.uuid().primary(),
    /** The command path, space separated: `compute_data`, `db upgrade`. */
    command: p.string(),
    /** The command's own args (not the global options), credentials masked. */
    args: p.json<Record<string, unknown>>(),
    backend: p.string().length(32),
    host: p.string(),
    state: p.enum([...RUN_STATES]),
    startTime: p.datetime(),
    endTime: p.datetime().nullable(),
    configuration: p.manyToOne(OutflowConfiguration).nullable().deleteRule("set null"),
    /** The run this one completes (`--resubmit-failed <its run dir | run id>`); null for a first run. */
    resubmissionOf: () => p.manyToOne(OutflowRun).nullable().deleteRule("set null").index(),
  },
  indexes: [{ properties: ["startTime"] }],
});

/** One task execution, map node or map element of a run. */
export const OutflowTask = defineEntity({
  name: "OutflowTask",
  tableName: "task",
  properties: {
    id: p.integer().primary().autoincrement(),
    run: p.manyToOne(OutflowRun).deleteRule("cascade").index(),
    kind: p.string().length(16),
    /** Plugin folder name; "" for maps and elements. */
    plugin: p.string(),
    /** Task name (`Compute`), `map(<outputName>)` or `<outputName>[<index>]`. */
    name: p.string(),
    /** The manifest task id (`plugins/data_reduction/tasks.ts#Compute`); null for maps and elements. */
    ref: p.string().length(512).nullable(),
    state: p.enum([...TASK_STATES]),
    startTime: p.datetime().nullable(),
    endTime: p.datetime().nullable(),
    exceptionMessage: p.text().nullable(),
    exceptionStack: p.text().nullable(),
    inputTargets: p.json<string[]>(),
    outputTargets: p.json<string[]>(),
    /** The enclosing map element (for tasks of a map body) or map node (for elements). */
    parent: () => p.manyToOne(OutflowTask).nullable().deleteRule("cascade").index(),
    /** Index of the map element this row is, or runs inside of. */
    elementIndex: p.integer().nullable(),
  },
});

/** A dependency between two tasks of a run's top-level graph. */
export const OutflowEdge = defineEntity({
  name: "OutflowEdge",
  tableName: "edge",
  properties: {
    id: p.integer().primary().autoincrement(),
    run: p.manyToOne(OutflowRun).deleteRule("cascade").index(),
    fromTask: p.manyToOne(OutflowTask).deleteRule("cascade"),
    toTask: p.manyToOne(OutflowTask).deleteRule("cascade"),
  },
});

export type IOutflowConfiguration = InferEntity<typeof OutflowConfiguration>;
export type IOutflowRun = InferEntity<typeof OutflowRun>;
export type IOutflowTask = InferEntity<typeof OutflowTask>;
export type IOutflowEdge = InferEntity<typeof OutflowEdge>;

export const outflowEntities = [OutflowConfiguration, OutflowRun, OutflowTask, OutflowEdge];
