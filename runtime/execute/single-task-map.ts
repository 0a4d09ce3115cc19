import type { GraphNode } from "../graph/model.js";
import type { NodePlan } from "../graph/plan.js";
import { runInScope, type Scope } from "../context.js";
import { isSkipped } from "../api/control.js";
import { validateInput, validateOutputs } from "./validate.js";
import { EventLoopTurns } from "./event-loop-turn.js";
import { TaskFailure, elementStartEvent, isThenable, lazyEm, silentObserver, type Execution, type MapJob } from "./run-graph.js";

/**
 * The fast path for the most common map: a body of ONE task. It skips the per-element graph machinery
 * (a graph run per element, a task node's planning, one async-context switch per element when nothing
 * needs one) that dominates fine-grained maps, with the same inputs, validation, context, results and
 * — when the run is tracked — the same task records: the element row, and the task row under it.
 */
export function singleTaskBody(job: MapJob): { node: GraphNode; plan: NodePlan } | undefined {
  const body = job.node.map!.body;
  if (body.nodes.length !== 1 || body.nodes[0].kind !== "task") return undefined;
  return { node: body.nodes[0], plan: job.plan.body!.nodes[0] };
}

export type ElementResult = { index: number; ok: true; value: unknown } | { index: number; ok: false; error: unknown };

/** Runs the given elements of a single-task map body in order; a failing element does not stop the others. */
export async function runSingleTaskElements(exec: Execution, job: MapJob, target: { node: GraphNode; plan: NodePlan }, items: Iterable<{ index: number; value: unknown }>, onResult: (r: ElementResult) => void): Promise<void> {
  const { node, plan } = target;
  const ref = node.task!;
  const spec = exec.tasks[ref.id!];
  const fn = ref.fn as (...a: unknown[]) => unknown;
  const tracked = exec.observer !== silentObserver;
  const observer = exec.observer;
  const inputs = spec.inputs.map((i) => i.name);
  const outputs = spec.outputs.map((o) => o.name);
  const task = { id: spec.id, name: spec.name, plugin: spec.plugin, element: 0 };
  const shared: Scope = { ...exec.scope, task };
  const turns = new EventLoopTurns();

  // The element's arguments, validated, and the task's call; then what the element's result is.
  const call = (value: unknown): unknown => {
    const args = plan.inputs.map((input) => {
      const from = input.from;
      const v = from.kind === "element" ? value : from.kind === "outer" ? job.outer[from.output] : from.kind === "bound" ? node.bound[input.name] : undefined;
      validateInput(spec, exec.validators, input.name, v);
      return v;
    });
    return fn(...args);
  };
  const resultOf = (returned: unknown): unknown => {
    const result = validateOutputs(spec, exec.validators, returned);
    const keys = Object.keys(result);
    return keys.length === 1 ? result[keys[0]] : result;
  };
  const exitOrFailure = (index: number, error: unknown): unknown => (error instanceof Error && error.name === "ExitPipeline" ? error : new TaskFailure(spec.name, [...job.elementPath, index], error));

  if (!tracked && !exec.forkEm) {
    // Untracked: one context for the whole batch (only `task.element` changes), no closure or promise per
    // element and nothing awaited unless the task returns a promise (a 1e6 map's workers stay small).
    await runInScope(shared, async () => {
      for (const { index, value } of items) {
        if (--turns.countdown === 0) {
          const turn = turns.check();
          if (turn) await turn;
        }
        task.element = index;
        try {
          let returned = call(value);
          if (isThenable(returned)) returned = await returned;
          onResult({ index, ok: true, value: isSkipped(returned) ? {} : resultOf(returned) });
        } catch (error) {
          onResult({ index, ok: false, error: exitOrFailure(index, error) });
        }
      }
    });
    return;
  }

  const finish = async (h: unknown, state: "success" | "failed" | "skipped", error?: unknown) => {
    if (!tracked) return;
    const f = observer.taskFinished(h, state, error);
    if (isThenable(f)) await f;
  };
  // Tracked: the element row, the task row under it, both finished before the element's result is handed on.
  const runOne = async (index: number, value: unknown): Promise<void> => {
    if (--turns.countdown === 0) {
      const turn = turns.check();
      if (turn) await turn;
    }
    task.element = index;
    let element: unknown;
    let handle: unknown;
    if (tracked) {
      const e = observer.taskStarted(elementStartEvent(job, index));
      element = isThenable(e) ? await e : e;
      const h = observer.taskStarted({ name: spec.name, plugin: spec.plugin, taskId: spec.id, parent: element, element: index, inputs, outputs });
      handle = isThenable(h) ? await h : h;
    }
    try {
      let returned = call(value);
      if (isThenable(returned)) returned = await returned;
      const skipped = isSkipped(returned);
      const result = skipped ? {} : resultOf(returned);
      await finish(handle, skipped ? "skipped" : "success");
      await finish(element, "success");
      onResult({ index, ok: true, value: result });
    } catch (error) {
      const failure = exitOrFailure(index, error);
      const exit = failure === error;
      await finish(handle, exit ? "success" : "failed", exit ? undefined : error);
      await finish(element, "failed", failure);
      onResult({ index, ok: false, error: failure });
    }
  };

  if (!exec.forkEm) {
    await runInScope(shared, async () => {
      for (const { index, value } of items) await runOne(index, value);
    });
    return;
  }
  // A tracked run's tasks get a fresh database session each (`context.em`, forked on first use).
  for (const { index, value } of items) {
    const scope: Scope = { ...exec.scope, task: { ...task, element: index } };
    lazyEm(scope, exec.forkEm);
    await runInScope(scope, () => runOne(index, value));
  }
}
