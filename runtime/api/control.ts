import { addIfThenElse, addLoopNode, addPassNode, refuse } from "../graph/recorder.js";
import { shown } from "../graph/labels.js";
import type { GraphNode } from "../graph/model.js";

/**
 * outflow's built-in control-flow tasks: loop(), ifThenElse() + merge(), Skipped and exitPipeline(),
 * interactive(). Like map(), they are recorded in `setup()` and checked by the compiler.
 */

export type LoopOptions = { iterations: number; infinite?: never } | { infinite: true; iterations?: never };

/**
 * Repeats `body` (`iterations` times, or until `exitPipeline()` / an exception when `infinite`). Upstream
 * outputs pass through to the body's first tasks on every iteration; the loop outputs what the body's
 * terminal tasks returned in the last iteration.
 */
export function loop(options: LoopOptions, body: () => void): GraphNode {
  const given = (typeof options === "object" && options !== null ? options : {}) as Partial<{ iterations: unknown; infinite: unknown }>;
  if (given.infinite !== true && !("iterations" in given)) refuse(`loop() takes { iterations: n } or { infinite: true } as its options, got ${shown(options)}`, loop);
  if ("infinite" in given && "iterations" in given) refuse(`loop() takes either { iterations: n } or { infinite: true }, not both: got ${shown(options)}`, loop);
  const iterations = given.infinite === true ? null : given.iterations;
  if (iterations !== null && (typeof iterations !== "number" || !Number.isInteger(iterations) || iterations < 0)) refuse(`loop(): iterations must be a whole number >= 0, got ${shown(iterations)}`, loop);
  if (typeof body !== "function") refuse(`loop() takes a function that builds its body, as in loop({ iterations: 3 }, () => { Step(); }); got ${shown(body)}`, loop);
  return addLoopNode(iterations, body, loop);
}

/**
 * Splits the workflow in two: `const [ifNode, thenNode, elseNode] = ifThenElse(cond)`. Pipe the inputs
 * into `ifNode` (piping into `thenNode` or `elseNode` is refused: they pass on what `ifNode` received);
 * `cond` receives their outputs; the children of `thenNode` run when it returns true, those
 * of `elseNode` otherwise, and the branch not taken is recorded `skipped`.
 */
export function ifThenElse(condition: (inputs: Record<string, unknown>) => boolean | Promise<boolean>): [GraphNode, GraphNode, GraphNode] {
  if (typeof condition !== "function") refuse(`ifThenElse() takes a condition function, as in ifThenElse((inputs) => (inputs.value as number) > 10); got ${shown(condition)}`, ifThenElse);
  return addIfThenElse(condition, ifThenElse);
}

/** Joins branches: outputs the outputs of its only non-skipped parent. */
export function merge(): GraphNode {
  if (arguments.length) refuse("merge() takes no arguments: pipe each branch into it (const join = merge(); a.pipe(join); b.pipe(join))", merge);
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

/** The message of an `exitPipeline()` given no reason (it survives a thread or process boundary, the class does not). */
export const NO_REASON = "exitPipeline() called";

/** Thrown by `exitPipeline()`: ends the run early and successfully. */
export class ExitPipeline extends Error {
  constructor(readonly reason?: string) {
    super(reason ?? NO_REASON);
    this.name = "ExitPipeline";
  }
}

/** Ends the whole run here, successfully (e.g. to stop an infinite loop()). */
export function exitPipeline(reason?: string): never {
  throw new ExitPipeline(reason);
}
