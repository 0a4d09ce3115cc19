import type { GraphNode } from "../graph/model.js";
import type { NodePlan } from "../graph/plan.js";
import { ExitPipeline } from "../api/control.js";
import { runInteractive } from "./interactive.js";
import { siteText } from "../graph/record-and-check.js";
import { builtinLabel } from "../graph/labels.js";
import { allTerminalsSkipped, mapScope, runGraph, terminalOutputs, RunCancelled, SKIP, TaskFailure, type Execution, type Frame, type GraphState, type Outputs } from "./run-graph.js";

/** `exitPipeline()` ended the run (also when the error crossed a worker boundary and lost its class). */
export function isExitPipeline(error: unknown): boolean {
  return error instanceof ExitPipeline || (error instanceof Error && error.name === "ExitPipeline");
}

/** if / then / else / merge / interactive / loop: the nodes that route values instead of computing them. */
export async function runControlNode(exec: Execution, node: GraphNode, plan: NodePlan, state: GraphState, frame: Frame): Promise<Outputs> {
  const { results, decisions } = state;
  switch (node.kind) {
    case "if": {
      const inputs = mapScope(plan.parents, results, frame);
      let decision: unknown;
      try {
        decision = await node.condition!(inputs);
      } catch (error) {
        // exitPipeline() in a condition ends the run (successfully), as in a task.
        if (isExitPipeline(error) || error instanceof RunCancelled) throw error;
        throw await controlFailure(exec, node, frame, error, " condition");
      }
      decisions.set(node.id, Boolean(decision));
      return inputs;
    }
    case "then":
    case "else": {
      const ifId = plan.parents[0];
      return decisions.get(ifId) === (node.kind === "then") ? results.get(ifId)! : SKIP;
    }
    case "merge": {
      const live = plan.parents.filter((p) => results.get(p) !== SKIP);
      if (live.length === 0) return SKIP;
      if (live.length > 1) {
        const error = new Error(`merge() received outputs from ${live.length} branches; exactly one branch may run (return Skipped from the others)`);
        // Said where the merge() is: a stack would show outflow's frames in the bundle.
        error.stack = `Error: ${error.message}`;
        throw await controlFailure(exec, node, frame, error);
      }
      return results.get(live[0])!;
    }
    case "interactive":
      return runInteractive(mapScope(plan.parents, results, frame), exec);
    case "loop":
      return runLoop(exec, node, plan, mapScope(plan.parents, results, frame), frame);
    default:
      throw new Error(`unknown node kind ${node.kind}`);
  }
}

/**
 * A control node that failed (an ifThenElse() condition that threw, a merge() with two live branches):
 * a row of its own holds the exception (control nodes have none otherwise), and the failure names the
 * node and where it is in the command's source.
 */
async function controlFailure(exec: Execution, node: GraphNode, frame: Frame, error: unknown, part = ""): Promise<TaskFailure> {
  const label = builtinLabel(node) + part;
  const where = siteText(exec.scope.run.root, node.site);
  const handle = await exec.observer.taskStarted({ name: label, plugin: "", parent: frame.parentHandle, element: frame.element?.index, inputs: [], outputs: [] });
  await exec.observer.taskFinished(handle, "failed", error);
  return new TaskFailure(`${label} at ${where}`, frame.place, error);
}

async function runLoop(exec: Execution, node: GraphNode, plan: NodePlan, outer: Record<string, unknown>, frame: Frame): Promise<Outputs> {
  const { iterations, body } = node.loop!;
  const handle = await exec.observer.taskStarted({ name: "loop()", plugin: "", node: node.id, parent: frame.parentHandle, element: frame.element?.index, inputs: Object.keys(outer), outputs: [] });
  // No iteration (`iterations: 0`) leaves nothing to pass on: what follows the loop is skipped.
  let last: Outputs = SKIP;
  try {
    for (let i = 0; iterations === null || i < iterations; i++) {
      // Each run of the body has a row (`loop()[i]`, kind iteration), the parent of that run's task rows.
      const iteration = await exec.observer.taskStarted({ name: `loop()[${i}]`, plugin: "", parent: handle, element: i, inputs: Object.keys(outer), outputs: [] });
      let outputs: Awaited<ReturnType<typeof runGraph>>;
      try {
        outputs = await runGraph(exec, body, plan.body!, { outer, parentHandle: iteration, place: [...frame.place, { iteration: i }] });
      } catch (error) {
        await exec.observer.taskFinished(iteration, isExitPipeline(error) ? "success" : "failed", isExitPipeline(error) ? undefined : error);
        throw error;
      }
      // Every terminal of the iteration skipped (it returned Skipped): what follows the loop is skipped
      // too, up to a merge(), as after a skipped task.
      const skipped = allTerminalsSkipped(outputs, plan.body!);
      await exec.observer.taskFinished(iteration, skipped ? "skipped" : "success");
      last = skipped ? SKIP : terminalOutputs(outputs, plan.body!);
    }
    await exec.observer.taskFinished(handle, "success");
    return last;
  } catch (error) {
    await exec.observer.taskFinished(handle, isExitPipeline(error) ? "success" : "failed", isExitPipeline(error) ? undefined : error);
    throw error;
  }
}
