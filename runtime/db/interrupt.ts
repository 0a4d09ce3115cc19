/**
 * SIGINT / SIGTERM during a run: abort the run's AbortController (backends stop dispatching, Slurm
 * cancels its jobs), record the cancellation, then give the run a short grace period to unwind before
 * exiting with 130. A second signal exits at once.
 */
import { RunCancelled } from "../execute/run-graph.js";
import { reasonOf } from "../reason.js";
import { userStack } from "../user-stack.js";

export const CANCEL_EXIT_CODE = 130;

// The process's own exit, taken before a run guards process.exit() against tasks (execute/exit-guard.ts):
// a crash handler runs in the async context of the task code that threw, where the guard would refuse it.
const exitProcess: (code: number) => never = process.exit.bind(process);

export interface InterruptOptions {
  /** Records the cancellation (awaited before the grace period starts). */
  onCancel?: (signal: NodeJS.Signals) => Promise<void> | void;
  /**
   * Given when the run owns the process (a bundle's CLI, not a test runner's worker): an exception nobody
   * catches (a callback of task code that outlived its task, a promise nobody awaited) aborts the run with
   * an OutsideTaskError; this records it (awaited before the grace period, after which the process exits 1).
   */
  onCrash?: (error: OutsideTaskError) => Promise<void> | void;
  /** How long the run may take to unwind after the signal (default 1000 ms, or OUTFLOW_CANCEL_GRACE_MS). */
  graceMs?: number;
}

/** Installs the handlers; returns the function that removes them. */
export function handleInterrupts(controller: AbortController, opts: InterruptOptions = {}): () => void {
  const grace = opts.graceMs ?? (Number(process.env.OUTFLOW_CANCEL_GRACE_MS) || 1000);
  let received: NodeJS.Signals | undefined;
  // Abort the run, record why, then exit after the grace period (a timer that keeps the process alive
  // when `hold`; else the process may end sooner, once the run has unwound).
  const end = (reason: Error, record: () => Promise<void> | void, what: string, code: number, hold: boolean) => {
    controller.abort(reason);
    void Promise.resolve()
      .then(record)
      .catch((error) => process.stderr.write(`outflow: could not record the ${what}: ${error instanceof Error ? error.message : String(error)}\n`))
      .finally(() => {
        const timer = setTimeout(() => exitProcess(code), grace);
        if (!hold) timer.unref();
      });
  };
  const handler = (signal: NodeJS.Signals) => {
    if (received) exitProcess(CANCEL_EXIT_CODE);
    received = signal;
    process.stderr.write(`outflow: ${signal} received, cancelling the run\n`);
    end(new RunCancelled(), () => opts.onCancel?.(signal), "cancellation", CANCEL_EXIT_CODE, false);
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  const crash = (thrown: unknown) => {
    if (received) return;
    received = "SIGABRT";
    const error = new OutsideTaskError(thrown);
    // Said here: the run may not unwind within the grace period (a task still sleeping).
    const stack = userStack(thrown);
    process.stderr.write(`error: ${error.message}\n${stack ? stack + "\n" : ""}`);
    // Held: when the callback that threw was the one a task waited for, nothing else may keep the process
    // alive, and it would end with node's "unsettled top-level await" (13) instead of 1.
    end(error, () => opts.onCrash?.(error), "failure", 1, true);
  };
  if (opts.onCrash) {
    process.on("uncaughtException", crash);
    process.on("unhandledRejection", crash);
  }
  return () => {
    process.off("SIGINT", handler);
    process.off("SIGTERM", handler);
    process.off("uncaughtException", crash);
    process.off("unhandledRejection", crash);
  };
}

/** An exception thrown outside any task during a run (a timer or a promise of task code that nobody awaited). */
export class OutsideTaskError extends Error {
  constructor(readonly thrown: unknown) {
    super(`uncaught exception outside any task (a callback or promise of task code that outlived its task?): ${reasonOf(thrown)}`);
    this.name = "OutsideTaskError";
  }
}
