import type { GraphNode } from "../graph/model.js";
import type { NodePlan } from "../graph/plan.js";
import { runInScope, type Scope } from "../context.js";
import { isSkipped } from "../api/control.js";
import { inputGuard, singleOutputReader, validateInput, validateOutputs } from "./validate.js";
import { EventLoopTurns } from "./event-loop-turn.js";
import { SKIPPED_ELEMENT, TaskFailure, elementStartEvent, isThenable, lazyEm, silentObserver, validatePassThrough, type Execution, type MapJob } from "./run-graph.js";

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

/** Where an element's result goes: its value, or (`ok` false) the error it failed with. No object per element. */
export type ElementResultSink = (index: number, ok: boolean, valueOrError: unknown) => void;

/**
 * Elements to run: `{ index, value }` pairs, or a contiguous range of values (the sequential backend's
 * whole array, a threads batch) read in place, each through `map` when given (numbers unpacked from a
 * Float64Array), until `until` says stop (asked before each element).
 */
export type ElementItems = Iterable<{ index: number; value: unknown }> | ElementRange;
export interface ElementRange {
  first: number;
  values: ArrayLike<unknown>;
  map?: (value: unknown) => unknown;
  until?: () => boolean;
}

export function isElementRange(items: ElementItems): items is ElementRange {
  return typeof (items as ElementRange).first === "number";
}

/** The pairs of any ElementItems (for the paths that are not worth a loop of their own). */
export function* elementPairs(items: ElementItems): Iterable<{ index: number; value: unknown }> {
  if (!isElementRange(items)) return yield* items;
  const { first, values, map, until } = items;
  for (let k = 0; k < values.length && !until?.(); k++) yield { index: first + k, value: map ? map(values[k]) : values[k] };
}

/** Runs the given elements of a single-task map body in order; a failing element does not stop the others. */
export async function runSingleTaskElements(exec: Execution, job: MapJob, target: { node: GraphNode; plan: NodePlan }, items: ElementItems, onResult: ElementResultSink): Promise<void> {
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

  // The element's arguments, validated, and the task's call; then what the element's result is. The usual
  // element task (its one input is the element, one output) gets no arguments array and no result object.
  const only = plan.inputs.length === 1 && plan.inputs[0].from.kind === "element" ? plan.inputs[0].name : undefined;
  const onlyIs = only === undefined ? undefined : inputGuard(spec, exec.validators, only);
  const callOne = (value: unknown): unknown => {
    if (onlyIs === undefined || !onlyIs(value)) validateInput(spec, exec.validators, only!, value);
    return fn(value);
  };
  const callAny = (value: unknown): unknown => {
    const args = plan.inputs.map((input) => {
      const from = input.from;
      if (from.kind === "element") {
        validateInput(spec, exec.validators, input.name, value);
        return value;
      }
      const v = from.kind === "outer" ? job.outer[from.output] : from.kind === "bound" ? node.bound[input.name] : undefined;
      validatePassThrough(exec, spec, input.name, job.outer, v);
      return v;
    });
    return fn(...args);
  };
  const call = only === undefined ? callAny : callOne;
  // As elementResult: the value itself when the task declares one output, else the object of its outputs
  // (also when an optional one is missing: `{ a: 1 }` of `{ a: number; b?: string }` stays an object).
  const resultOf =
    spec.outputs.length === 1 ? singleOutputReader(spec, exec.validators) : (returned: unknown): unknown => validateOutputs(spec, exec.validators, returned);
  const exitOrFailure = (index: number, error: unknown): unknown => (error instanceof Error && error.name === "ExitPipeline" ? error : new TaskFailure(spec.name, [...job.place, { element: index }], error));

  if (!tracked && !exec.forkEm) {
    // Untracked: one context for the whole batch (only `task.element` changes), no closure or promise per
    // element and nothing awaited unless the task returns a promise (a 1e6 map's workers stay small).
    const settle = (index: number, returned: unknown): void => {
      try {
        onResult(index, true, isSkipped(returned) ? SKIPPED_ELEMENT : resultOf(returned));
      } catch (error) {
        onResult(index, false, exitOrFailure(index, error));
      }
    };
    const fail = (index: number, error: unknown): void => onResult(index, false, exitOrFailure(index, error));
    // One element; a promise only when the task returned one.
    const one = (index: number, value: unknown): Promise<void> | undefined => {
      task.element = index;
      let returned: unknown;
      try {
        returned = call(value);
      } catch (error) {
        fail(index, error);
        return undefined;
      }
      if (!isThenable(returned)) {
        settle(index, returned);
        return undefined;
      }
      return Promise.resolve(returned).then((r) => settle(index, r), (error: unknown) => fail(index, error));
    };
    await runInScope(shared, async () => {
      if (isElementRange(items)) {
        // A range: read in place, no pair object per element.
        const { first, values, map, until } = items;
        for (let k = 0; k < values.length; k++) {
          if (--turns.countdown === 0) {
            const turn = turns.check();
            if (turn) await turn;
          }
          // After the turn: an abort that came during it stops the map before the next element.
          if (until !== undefined && until()) return;
          const pending = one(first + k, map ? map(values[k]) : values[k]);
          if (pending) await pending;
        }
        return;
      }
      for (const { index, value } of items) {
        if (--turns.countdown === 0) {
          const turn = turns.check();
          if (turn) await turn;
        }
        const pending = one(index, value);
        if (pending) await pending;
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
  const until = isElementRange(items) ? items.until : undefined;
  const runOne = async (index: number, value: unknown): Promise<void> => {
    if (--turns.countdown === 0) {
      const turn = turns.check();
      if (turn) await turn;
      // An abort handled during the turn: this element does not start (and gets no rows).
      if (until !== undefined && until()) return;
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
      const result = skipped ? SKIPPED_ELEMENT : resultOf(returned);
      // An element whose body returned Skipped is skipped too (left out of the map's results).
      await finish(handle, skipped ? "skipped" : "success");
      await finish(element, skipped ? "skipped" : "success");
      onResult(index, true, result);
    } catch (error) {
      const failure = exitOrFailure(index, error);
      // exitPipeline() ends the run successfully: the task and its element are done, not failed.
      const exit = failure === error;
      await finish(handle, exit ? "success" : "failed", exit ? undefined : error);
      await finish(element, exit ? "success" : "failed", exit ? undefined : failure);
      onResult(index, false, failure);
    }
  };

  if (!exec.forkEm) {
    await runInScope(shared, async () => {
      for (const { index, value } of elementPairs(items)) await runOne(index, value);
    });
    return;
  }
  // A tracked run's tasks get a fresh database session each (`context.em`, forked on first use).
  for (const { index, value } of elementPairs(items)) {
    const scope: Scope = { ...exec.scope, task: { ...task, element: index } };
    lazyEm(scope, exec.forkEm);
    await runInScope(scope, () => runOne(index, value));
  }
}
