/**
 * outflow's public API: what pipeline code imports from "outflow".
 * Everything here is cheap to import: graph recording, context, logger, config typing.
 */
export { task, type IterateOn, type TaskRef, type TaskFunction, type BoundInputs } from "./api/task.js";
export { command, type CommandDefinition, type CommandRef, type ArgsDefinition, type ArgValues } from "./api/command.js";
export { map, type MapOptions } from "./api/map.js";
export { pipe } from "./graph/recorder.js";
export type { GraphNode } from "./graph/model.js";
export { context, type Scope, type RunInfo } from "./context.js";
export { logger, getLogger } from "./logging/logger.js";
export { defineConfig } from "./config/define.js";
export type { OutflowConfig, OutflowConfigInput } from "./config/schema.js";
export { loop, ifThenElse, merge, interactive, Skipped, exitPipeline, type LoopOptions, type SkippedValue } from "./api/control.js";
