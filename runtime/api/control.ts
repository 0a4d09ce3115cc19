import { addIfThenElse, addLoopNode, addPassNode } from "../graph/recorder.js";
import type { GraphNode } from "../graph/model.js";

/**
 * outflow's built-in control-flow tasks: loop(), ifThenElse() + merge(), Skipped and exitPipeline(),
 * interactive(). Like map(), they are recorded in `setup()` and checked by the compiler.
 */

export type LoopOptions = { iterations: number } | { infinite: true };

/**
 * Repeats `body` (`iterations` times, or until `exitPipeline()` / an exception when `infinite`). Upstream
 * outputs pass through to the body's first tasks on every iteration; the loop outputs what the body's
 * terminal tasks returned in the last iteration.
 */
export function loop(options: LoopOptions, body: () => void): GraphNode {
  const iterations = "infinite" in options && options.infinite ? null : (options as { iterations: number }).iterations;
  if (iterations !== null && (!Number.isInteger(iterations) || iterations < 0)) throw new TypeError(`loop(): iterations must be a whole number >= 0, got ${iterations}`);
  return addLoopNode(iterations, body, loop);
}

/**
 * Splits the workflow in two: `const [ifNode, thenNode, elseNode] = ifThenElse(cond)`. Pipe the inputs
 * into `ifNode`; `cond` receives their outputs; the children of `thenNode` run when it returns true, those
 * of `elseNode` otherwise, and the branch not taken is recorded `skipped`.
 */
export function ifThenElse(condition: (inputs: Record<string, unknown>) => boolean | Promise<boolean>): [GraphNode, GraphNode, GraphNode] {
  if (typeof condition !== "function") throw new TypeError("ifThenElse() takes a condition function");
  return addIfThenElse(condition, ifThenElse);
}

/** Joins branches: outputs the outputs of its only non-skipped parent. */
export function merge(): GraphNode {
  return addPassNode("merge", merge);
}

/** Pauses the workflow in a REPL with the outputs flowing through in `inputs`; edits are passed on at EOF. */
export function interactive(): GraphNode {
  return addPassNode("interactive", interactive);
}

/** Returned by a task instead of its outputs: the task and everything downstream (up to a merge) is skipped. */
export const Skipped: SkippedValue = Object.freeze({ __outflowSkipped: true as const });
export interface SkippedValue {
  readonly __outflowSkipped: true;
}

export function isSkipped(value: unknown): value is SkippedValue {
  return typeof value === "object" && value !== null && (value as SkippedValue).__outflowSkipped === true;
}

/** Thrown by `exitPipeline()`: ends the run early and successfully. */
export class ExitPipeline extends Error {
  constructor(readonly reason?: string) {
    super(reason ?? "exitPipeline() called");
    this.name = "ExitPipeline";
  }
}

/** Ends the whole run here, successfully (e.g. to stop an infinite loop()). */
export function exitPipeline(reason?: string): never {
  throw new ExitPipeline(reason);
}
