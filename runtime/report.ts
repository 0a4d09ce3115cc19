import { UsageError } from "./cli/usage-error.js";
import { ConfigError } from "./config/errors.js";
import { GraphError } from "./graph/recorder.js";
import { TaskFailure, RunCancelled } from "./execute/run-graph.js";
import { userStack } from "./user-stack.js";

/** A failure already explained to the user (diagnostics printed): only the exit code remains. */
export class ReportedError extends Error {
  constructor(readonly exitCode: number) {
    super(`exit ${exitCode}`);
  }
}

/** Prints one clear line for an error and returns the exit code (2 = bad input, 1 = failure, 130 = cancelled). */
export function reportFatal(error: unknown): number {
  if (error instanceof ReportedError) return error.exitCode;
  if (error instanceof UsageError) {
    process.stderr.write(`error: ${error.message}\nRun with --help for usage.\n`);
    return 2;
  }
  if (error instanceof ConfigError) {
    process.stderr.write(`error: ${error.message}\n`);
    return 2;
  }
  if (error instanceof RunCancelled) {
    process.stderr.write("error: run cancelled\n");
    return 130;
  }
  if (error instanceof TaskFailure) {
    const stack = userStack(error.cause);
    process.stderr.write(`error: ${error.message}\n${stack ? stack + "\n" : ""}`);
    return 1;
  }
  if (error instanceof GraphError) {
    process.stderr.write(`error: ${error.message}\n`);
    return 1;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`error: ${message}\n`);
  if (process.env.OUTFLOW_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
  return 1;
}
