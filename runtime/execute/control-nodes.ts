import type { GraphNode } from "../graph/model.js";
import type { NodePlan } from "../graph/plan.js";
import { ExitPipeline } from "../api/control.js";
import { runInteractive } from "./interactive.js";
import { mapScope, runGraph, terminalOutputs, SKIP, TaskFailure, type Execution, type Frame, type GraphState, type Outputs } from "./run-graph.js";

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
      decisions.set(node.id, Boolean(await node.condition!(inputs)));
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
      if (live.length > 1) throw new TaskFailure("merge()", frame.elementPath, new Error(`merge() received outputs from ${live.length} branches; exactly one branch may run (return Skipped from the others)`));
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

async function runLoop(exec: Execution, node: GraphNode, plan: NodePlan, outer: Record<string, unknown>, frame: Frame): Promise<Outputs> {
  const { iterations, body } = node.loop!;
  const handle = await exec.observer.taskStarted({ name: "loop()", plugin: "", parent: frame.parentHandle, element: frame.element?.index, inputs: Object.keys(outer), outputs: [] });
  let last: Outputs = {};
  try {
    for (let i = 0; iterations === null || i < iterations; i++) {
      const outputs = await runGraph(exec, body, plan.body!, { outer, parentHandle: handle, elementPath: frame.elementPath });
      last = terminalOutputs(outputs, plan.body!);
    }
    await exec.observer.taskFinished(handle, "success");
    return last;
  } catch (error) {
    await exec.observer.taskFinished(handle, isExitPipeline(error) ? "success" : "failed", isExitPipeline(error) ? undefined : error);
    throw error;
  }
}
