import { currentScope } from "../context.js";

/** `process.exit()` called by a task running in the driver: the task fails with this instead. */
export class ProcessExitInTask extends Error {
  constructor(code: number | string | null | undefined) {
    super(`process.exit(${code ?? ""}) was called inside the task: outflow fails the task instead, so that the run is recorded (throw an Error to fail it, or call exitPipeline() to end the run early)`);
    this.name = "ProcessExit";
  }
}

/**
 * While a run's tasks run in this thread (the sequential backend, the driver's tasks on Slurm): a task
 * that calls `process.exit()` would end the process with the run still `running` and the records of
 * tasks already finished unwritten. Called from a task's context it throws ProcessExitInTask instead;
 * outflow's own calls (the second Ctrl-C) and calls after the run reach the real one. A worker thread's
 * `process.exit()` stays what it is, the crash of its element. Returns the function that removes it.
 */
export function guardProcessExit(): () => void {
  const real = process.exit;
  const guarded = function exit(code?: number | string | null): never {
    if (currentScope()?.task) throw new ProcessExitInTask(code);
    return real.call(process, code as number | undefined);
  } as typeof process.exit;
  process.exit = guarded;
  return () => {
    if (process.exit === guarded) process.exit = real;
  };
}
