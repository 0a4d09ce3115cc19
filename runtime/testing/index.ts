/**
 * outflow/testing: helpers for testing a pipeline with vitest (outflow's TaskTestCase, CommandTestCase
 * and PostgresCommandTestCase). The first helper call compiles the pipeline in-process (`outflow build
 * --check`, cached across test files); no build step is needed.
 *
 *     import { runTask, runCommand, testDatabase, withContext } from "outflow/testing";
 */
export { runTask, withContext, type RunTaskOptions, type ContextOverrides, type TaskOutputs } from "./run-task.js";
export { runCommand, type RunCommandOptions, type CommandRun } from "./run-command.js";
export { createTestDatabase, testDatabase, type TestDatabase, type TestDatabaseOptions } from "./database.js";
export { postgresGlobalSetup, testPostgres, type PostgresServer } from "./postgres.js";
export { loadTestPipeline, type TestPipeline } from "./pipeline.js";
export { PipelineCompileError } from "./compile.js";
