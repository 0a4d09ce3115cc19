/**
 * SIGINT / SIGTERM during a run: abort the run's AbortController (backends stop dispatching, Slurm
 * cancels its jobs), record the cancellation, then give the run a short grace period to unwind before
 * exiting with 130. A second signal exits at once.
 */
import { RunCancelled } from "../execute/run-graph.js";

export const CANCEL_EXIT_CODE = 130;

export interface InterruptOptions {
  /** Records the cancellation (awaited before the grace period starts). */
  onCancel?: (signal: NodeJS.Signals) => Promise<void> | void;
  /** How long the run may take to unwind after the signal (default 1000 ms, or OUTFLOW_CANCEL_GRACE_MS). */
  graceMs?: number;
}

/** Installs the handlers; returns the function that removes them. */
export function handleInterrupts(controller: AbortController, opts: InterruptOptions = {}): () => void {
  const grace = opts.graceMs ?? (Number(process.env.OUTFLOW_CANCEL_GRACE_MS) || 1000);
  let received: NodeJS.Signals | undefined;
  const handler = (signal: NodeJS.Signals) => {
    if (received) process.exit(CANCEL_EXIT_CODE);
    received = signal;
    process.stderr.write(`outflow: ${signal} received, cancelling the run\n`);
    controller.abort(new RunCancelled());
    void Promise.resolve()
      .then(() => opts.onCancel?.(signal))
      .catch((error) => process.stderr.write(`outflow: could not record the cancellation: ${error instanceof Error ? error.message : String(error)}\n`))
      .finally(() => setTimeout(() => process.exit(CANCEL_EXIT_CODE), grace).unref());
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  return () => {
    process.off("SIGINT", handler);
    process.off("SIGTERM", handler);
  };
}
