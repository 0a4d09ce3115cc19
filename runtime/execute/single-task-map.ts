import type { GraphNode } from "../graph/model.js";
import type { NodePlan } from "../graph/plan.js";
import { runInScope, type Scope } from "../context.js";
import { isSkipped } from "../api/control.js";
import { validateInput, validateOutputs } from "./validate.js";
import { TaskFailure, type Execution, type MapJob } from "./run-graph.js";

/**
 * The fast path for the most common map: a body of ONE task, untracked (no records, no database session
 * per element). It skips the per-element graph machinery (a graph run, observer events, one async-context
 * switch per element) that dominates fine-grained maps: same inputs, validation, context and results.
 */
export function singleTaskBody(exec: Execution, job: MapJob): { node: GraphNode; plan: NodePlan } | undefined {
  const body = job.node.map!.body;
  if (exec.forkEm || body.nodes.length !== 1 || body.nodes[0].kind !== "task") return undefined;
  return { node: body.nodes[0], plan: job.plan.body!.nodes[0] };
}

export type ElementResult = { index: number; ok: true; value: unknown } | { index: number; ok: false; error: unknown };

/** Runs the given elements of a single-task map body in order; a failing element does not stop the others. */
export async function runSingleTaskElements(exec: Execution, job: MapJob, target: { node: GraphNode; plan: NodePlan }, items: Iterable<{ index: number; value: unknown }>, onResult: (r: ElementResult) => void): Promise<void> {
  const { node, plan } = target;
  const ref = node.task!;
  const spec = exec.tasks[ref.id!];
  const fn = ref.fn as (...a: unknown[]) => unknown;
  const task = { id: spec.id, name: spec.name, plugin: spec.plugin, element: 0 };
  const scope: Scope = { ...exec.scope, task };
  await runInScope(scope, async () => {
    for (const { index, value } of items) {
      task.element = index;
      try {
        const args = plan.inputs.map((input) => {
          const from = input.from;
          const v = from.kind === "element" ? value : from.kind === "outer" ? job.outer[from.output] : from.kind === "bound" ? node.bound[input.name] : undefined;
          validateInput(spec, exec.validators, input.name, v);
          return v;
        });
        let returned = fn(...args);
        if (typeof (returned as PromiseLike<unknown> | null)?.then === "function") returned = await returned;
        if (isSkipped(returned)) {
          onResult({ index, ok: true, value: {} });
          continue;
        }
        const outputs = validateOutputs(spec, exec.validators, returned);
        const keys = Object.keys(outputs);
        onResult({ index, ok: true, value: keys.length === 1 ? outputs[keys[0]] : outputs });
      } catch (error) {
        onResult({ index, ok: false, error: error instanceof Error && error.name === "ExitPipeline" ? error : new TaskFailure(spec.name, [...job.elementPath, index], error) });
      }
    }
  });
}
