import type { TaskSpec } from "../../contract/manifest.js";
import type { Graph, GraphNode } from "../graph/model.js";
import type { GraphPlan, NodePlan, TaskTable } from "../graph/plan.js";
import { runInScope, type Scope } from "../context.js";
import { validateInput, validateOutputs, TaskValueError, type Validators } from "./validate.js";
import { isSkipped } from "../api/control.js";
import { runControlNode, isExitPipeline } from "./control-nodes.js";
import { reasonOf } from "../reason.js";
import { runSingleTaskElements, singleTaskBody } from "./single-task-map.js";
import { mayRunConcurrently } from "../graph/concurrency.js";
import { getLogger } from "../logging/logger.js";
import { EventLoopTurns } from "./event-loop-turn.js";
import { builtinLabel } from "../graph/labels.js";

/** Receives task lifecycle events (the database run records implement it). */
export interface TaskStartEvent {
  name: string;
  plugin: string;
  taskId?: string;
  /**
   * The graph node's id (task, map and loop nodes): at top level it picks the node's planned row, so a
   * task called twice gets each event in the row of the call that made it, whatever order they come in.
   */
  node?: number;
  /** The handle of the enclosing map / map element record. */
  parent?: unknown;
  element?: number;
  inputs: string[];
  outputs: string[];
  /** When it started, if not now (events replayed from a worker). */
  at?: Date;
}

export interface RunObserver {
  taskStarted(event: TaskStartEvent): unknown | Promise<unknown>;
  /** `at`: when it finished, if not now (events replayed from a worker). */
  taskFinished(handle: unknown, state: "success" | "failed" | "skipped", error?: unknown, at?: Date): void | Promise<void>;
  /**
   * A node that never ran (on a branch not taken): its row is `skipped`, with no start or end time. (A
   * task that ran and returned `Skipped` is started and finished `skipped` instead: it has its times.)
   */
  taskSkipped(event: Omit<TaskStartEvent, "at">): void | Promise<void>;
}

export const silentObserver: RunObserver = { taskStarted: () => undefined, taskFinished: () => {}, taskSkipped: () => {} };

/**
 * Where in the run a node runs: the map elements and loop iterations around it, outermost first (plain
 * data: it crosses to workers and array tasks).
 */
export type Place = ReadonlyArray<{ element: number } | { iteration: number }>;

/** A place as the error lines say it: `loop iteration 2, map element 1`; steps of one kind in a row are one path (`map element 2/1`). */
export function placeText(place: Place): string {
  const parts: string[] = [];
  let kind: "element" | "iteration" | undefined;
  for (const step of place) {
    const [k, index] = "element" in step ? (["element", step.element] as const) : (["iteration", step.iteration] as const);
    if (k === kind) parts[parts.length - 1] += `/${index}`;
    else parts.push(`${k === "element" ? "map element" : "loop iteration"} ${index}`);
    kind = k;
  }
  return parts.join(", ");
}

/** The map element indices of a place, outermost first (without its loop iterations). */
export function elementIndices(place: Place): number[] {
  return place.flatMap((step) => ("element" in step ? [step.element] : []));
}

/** A task failed: names the task, where it ran (map elements, loop iterations) and keeps the original error as `cause`. */
export class TaskFailure extends Error {
  constructor(readonly task: string, readonly place: Place, readonly cause: unknown) {
    super(`task ${task}${place.length ? ` (${placeText(place)})` : ""} failed: ${reasonOf(cause)}`);
    this.name = "TaskFailure";
  }
}

export class RunCancelled extends Error {
  constructor() {
    super("run cancelled");
    this.name = "RunCancelled";
  }
}

/**
 * The run stops because a backend wrote a map's work to be submitted by hand (slurm --emit-only):
 * nothing failed; the map's row (and the loop rows around it) are `emitted`, as is the run.
 */
export class RunEmitted extends RunCancelled {
  constructor(message: string) {
    super();
    this.message = message;
    this.name = "RunEmitted";
  }
}

export interface Execution {
  tasks: TaskTable;
  validators: Validators;
  observer: RunObserver;
  /** The context every task sees, without its task-specific part. */
  scope: Omit<Scope, "task" | "em">;
  /** A fresh database session per task / per map element; undefined when untracked. */
  forkEm?: () => Scope["em"];
  signal?: AbortSignal;
  /** How a map's elements run: sequential in-process by default; the threads backend dispatches them. */
  runMap?: (job: MapJob) => Promise<unknown[]>;
  /** How a task body is called: in this thread by default; the threads backend runs a task in a worker when another node could run at the same time. */
  invokeTask?: (spec: TaskSpec, args: unknown[], scope: Scope) => Promise<unknown>;
  /** Start every node whose parents are done, so independent branches overlap. */
  parallel?: boolean;
}

export interface MapJob {
  node: GraphNode;
  /** Node ids from the command graph down to this map node (through enclosing map bodies). */
  path: number[];
  plan: NodePlan;
  outer: Record<string, unknown>;
  /** The iterated values: a JS array, or a typed array as it came (never copied into a JS array). */
  items: ArrayLike<unknown>;
  parentHandle: unknown;
  /** Where the map node runs. */
  place: Place;
}

/** Per-graph frame: values reachable by the body's entry nodes. */
export interface Frame {
  outer: Record<string, unknown>;
  element?: { target: string; value: unknown; index: number };
  parentHandle: unknown;
  place: Place;
}

export type Outputs = Record<string, unknown>;

/** The result of a node that did not run: a skipped branch, or a task that returned `Skipped`. */
export const SKIP: Outputs = Object.freeze({}) as Outputs;

/** Per-run-graph state shared by the nodes of one (sub-)graph execution. */
export interface GraphState {
  results: Map<number, Outputs>;
  /** `if` node id → the condition's answer. */
  decisions: Map<number, boolean>;
}

/** Runs a (sub-)graph in topological order (or as a DAG when `exec.parallel`); returns every node's outputs. */
export async function runGraph(exec: Execution, graph: Graph, plan: GraphPlan, frame: Frame): Promise<Map<number, Outputs>> {
  const results = new Map<number, Outputs>();
  const state: GraphState = { results, decisions: new Map() };
  const runNode = async (id: number) => {
    if (exec.signal?.aborted) throw new RunCancelled();
    const node = graph.nodes[id];
    const nodePlan = plan.nodes[id];
    if (node.kind !== "merge" && nodePlan.parents.some((p) => results.get(p) === SKIP)) {
      results.set(id, await skipNode(exec, node, frame));
      return;
    }
    switch (node.kind) {
      case "task":
        results.set(id, await runTaskNode(exec, node, nodePlan, results, frame));
        return;
      case "map":
        results.set(id, await runMapNode(exec, graph, node, nodePlan, results, frame));
        return;
      default:
        results.set(id, await runControlNode(exec, node, nodePlan, state, frame));
    }
  };
  if (!exec.parallel) {
    const turns = new EventLoopTurns();
    for (const id of plan.order) {
      if (--turns.countdown === 0) {
        const turn = turns.check();
        if (turn) await turn;
      }
      await runNode(id);
    }
    return results;
  }
  // DAG scheduling: a node starts when its parents are done; after a failure nothing new starts. Tasks of
  // a chain run in this thread: between them the event loop gets its turns too (a Ctrl-C in an infinite
  // loop of quick tasks), and runNode sees an abort that came during one.
  const finished = new Map<number, Promise<void>>();
  const turns = new EventLoopTurns();
  let failed = false;
  for (const id of plan.order) {
    const parents = plan.nodes[id].parents.map((p) => finished.get(p)!);
    finished.set(
      id,
      Promise.all(parents).then(async () => {
        if (failed) throw new RunCancelled();
        if (--turns.countdown === 0) {
          const turn = turns.check();
          if (turn) await turn;
          // A sibling that failed during the turn: this node does not start.
          if (failed) throw new RunCancelled();
        }
        return runNode(id).catch((error) => {
          failed = true;
          throw error;
        });
      }),
    );
  }
  const settled = await Promise.allSettled(finished.values());
  const errors = settled.filter((s): s is PromiseRejectedResult => s.status === "rejected").map((s) => s.reason);
  // The nodes that did not start after it threw RunCancelled: the error that stopped them says why, and
  // so does a map that stopped the run after writing its job scripts (RunEmitted), whatever came first.
  const first = errors.find((e) => !(e instanceof RunCancelled)) ?? errors.find((e) => e instanceof RunEmitted) ?? errors[0];
  if (first !== undefined) throw first;
  return results;
}

function inputValue(plan: NodePlan["inputs"][number], node: GraphNode, results: Map<number, Outputs>, frame: Frame): unknown {
  const from = plan.from;
  switch (from.kind) {
    case "output":
      return results.get(from.node)?.[from.output];
    case "bound":
      return node.bound[plan.name];
    case "outer":
      return frame.outer[from.output];
    case "element":
      return frame.element?.value;
    case "default":
      return undefined;
  }
}

/** A node on a branch not taken: tasks, maps and loops get their `skipped` row, without times (control nodes have none). */
async function skipNode(exec: Execution, node: GraphNode, frame: Frame): Promise<Outputs> {
  const where = { node: node.id, parent: frame.parentHandle, element: frame.element?.index };
  let skipped: TaskStartEvent | undefined;
  if (node.kind === "task") {
    const spec = exec.tasks[node.task!.id!];
    skipped = { ...where, name: spec.name, plugin: spec.plugin, taskId: spec.id, ...namesOf(spec) };
  } else if (node.kind === "map" || node.kind === "loop") {
    skipped = { ...where, name: builtinLabel(node), plugin: "", inputs: [], outputs: node.map ? [node.map.options.outputName] : [] };
  }
  if (skipped) await exec.observer.taskSkipped(skipped);
  return SKIP;
}

/** `context.em` forks its EntityManager on first use: most tasks never touch the database. */
export function lazyEm(scope: Scope, fork: NonNullable<Execution["forkEm"]>): void {
  let em: Scope["em"];
  Object.defineProperty(scope, "em", { get: () => (em ??= fork()), enumerable: true, configurable: true });
}

/** Awaits only real promises: an `await` on a plain value still costs a microtask (and async-hook work). */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === "function";
}

const targetNames = new WeakMap<TaskSpec, { inputs: string[]; outputs: string[] }>();
function namesOf(spec: TaskSpec) {
  let names = targetNames.get(spec);
  if (!names) targetNames.set(spec, (names = { inputs: spec.inputs.map((i) => i.name), outputs: spec.outputs.map((o) => o.name) }));
  return names;
}

/**
 * A map's (or loop's) pass-through input is the same value for every element (iteration): checked once per
 * body task and input, not once per element (a 1e6-number array passed through costs ~2 ms to check).
 */
const checkedPassThrough = new WeakMap<object, Set<string>>();
export function validatePassThrough(exec: Execution, spec: TaskSpec, name: string, outer: object, value: unknown): void {
  let checked = checkedPassThrough.get(outer);
  if (!checked) checkedPassThrough.set(outer, (checked = new Set()));
  const key = `${spec.id}\0${name}`;
  if (checked.has(key)) return;
  validateInput(spec, exec.validators, name, value);
  checked.add(key);
}

/** The observer's answer, a promise only when it really is one (await it then). */
function finish(exec: Execution, handle: unknown, state: "success" | "failed" | "skipped", error?: unknown): void | Promise<void> {
  return exec.observer.taskFinished(handle, state, error);
}

async function runTaskNode(exec: Execution, node: GraphNode, plan: NodePlan, results: Map<number, Outputs>, frame: Frame): Promise<Outputs> {
  const ref = node.task!;
  const spec: TaskSpec = exec.tasks[ref.id!];
  const names = namesOf(spec);
  const started = exec.observer.taskStarted({ name: spec.name, plugin: spec.plugin, taskId: spec.id, node: node.id, parent: frame.parentHandle, element: frame.element?.index, inputs: names.inputs, outputs: names.outputs });
  const handle = isThenable(started) ? await started : started;
  try {
    const args = plan.inputs.map((input) => {
      const value = inputValue(input, node, results, frame);
      if (input.from.kind === "outer") validatePassThrough(exec, spec, input.name, frame.outer, value);
      else validateInput(spec, exec.validators, input.name, value);
      return value;
    });
    const scope: Scope = { ...exec.scope, task: { id: spec.id, name: spec.name, plugin: spec.plugin, element: frame.element?.index } };
    if (exec.forkEm) lazyEm(scope, exec.forkEm);
    // Called as a plain function (not `ref.fn(...)`: the frame would read `at Function.Compute`).
    const fn = ref.fn as (...a: unknown[]) => unknown;
    const call = exec.invokeTask && mayRunConcurrently(node) ? exec.invokeTask(spec, args, scope) : runInScope(scope, () => fn(...args));
    const returned = isThenable(call) ? await call : call;
    if (isSkipped(returned)) {
      const f = finish(exec, handle, "skipped");
      if (isThenable(f)) await f;
      return SKIP;
    }
    const outputs = validateOutputs(spec, exec.validators, returned);
    const f = finish(exec, handle, "success");
    if (isThenable(f)) await f;
    return outputs;
  } catch (error) {
    if (isExitPipeline(error)) {
      await finish(exec, handle, "success");
      throw error;
    }
    await finish(exec, handle, "failed", error);
    if (error instanceof TaskFailure || error instanceof RunCancelled) throw error;
    throw new TaskFailure(spec.name, frame.place, error);
  }
}

/** What a map/loop body sees as pass-through values: the node's parents' outputs (or the enclosing frame's). */
export function mapScope(parents: number[], results: Map<number, Outputs>, frame: Frame): Record<string, unknown> {
  const outer: Record<string, unknown> = parents.length === 0 ? { ...frame.outer } : {};
  for (const p of parents) Object.assign(outer, results.get(p));
  return outer;
}

/** The outputs of a graph's terminal tasks, merged: a command's result. */
export function terminalOutputs(outputs: Map<number, Outputs>, plan: GraphPlan): Outputs {
  const merged: Outputs = {};
  for (const id of plan.terminals) if (outputs.get(id) !== SKIP) Object.assign(merged, outputs.get(id));
  return merged;
}

/**
 * The result of a map element that was skipped (its body's terminal tasks returned Skipped): it has no
 * result, and is left out of the map's results (which keep input order).
 */
export const SKIPPED_ELEMENT: unique symbol = Symbol("outflow.skippedElement");

/** The map's results without its skipped elements. */
function withoutSkipped(elements: unknown[]): unknown[] {
  return elements.includes(SKIPPED_ELEMENT) ? elements.filter((e) => e !== SKIPPED_ELEMENT) : elements;
}

/** Every terminal of a (body) graph was skipped: it gives nothing, and what follows it is skipped too. */
export function allTerminalsSkipped(outputs: Map<number, Outputs>, plan: GraphPlan): boolean {
  return plan.terminals.length > 0 && plan.terminals.every((id) => outputs.get(id) === SKIP);
}

/**
 * One element's result: the outputs of the body's terminal tasks. The value itself when the terminals
 * offer exactly one name (known from the plan, not from what ran: a body ending in a merge() of branches
 * returning `big` or `small` gives `{ small: "small1" }`, never a bare string), else the object of them.
 */
export function elementResult(outputs: Map<number, Outputs>, plan: GraphPlan): unknown {
  if (allTerminalsSkipped(outputs, plan)) return SKIPPED_ELEMENT;
  const merged = terminalOutputs(outputs, plan);
  return plan.resultNames.length === 1 ? merged[plan.resultNames[0]] : merged;
}

const mapLog = getLogger("outflow.map");

async function runMapNode(exec: Execution, graph: Graph, node: GraphNode, plan: NodePlan, results: Map<number, Outputs>, frame: Frame): Promise<Outputs> {
  const info = node.map!;
  const name = `map(${info.options.outputName})`;
  const outer = mapScope(plan.parents, results, frame);
  const items = outer[plan.iterate!];
  const handle = await exec.observer.taskStarted({ name, plugin: "", node: node.id, parent: frame.parentHandle, element: frame.element?.index, inputs: [plan.iterate!], outputs: [info.options.outputName] });
  try {
    if (!isIterable(items)) throw new TaskValueError(`${name}: upstream target "${plan.iterate}" is not an array (got ${items === null ? "null" : typeof items})`);
    const job: MapJob = { node, path: nodePath(node), plan, outer, items: items as ArrayLike<unknown>, parentHandle: handle, place: frame.place };
    const started = performance.now();
    const elements = withoutSkipped(await (exec.runMap ? exec.runMap(job) : runMapSequential(exec, job)));
    mapLog.debug(`${name}: ${job.items.length} element${job.items.length === 1 ? "" : "s"} in ${((performance.now() - started) / 1000).toFixed(3)} s`);
    const value = info.reduce ? info.reduce(elements) : elements;
    await exec.observer.taskFinished(handle, "success");
    return { [info.options.outputName]: value };
  } catch (error) {
    // exitPipeline() in an element ends the map (and the run) early, successfully, as in a task or a loop.
    if (isExitPipeline(error)) {
      await exec.observer.taskFinished(handle, "success");
      throw error;
    }
    await exec.observer.taskFinished(handle, "failed", error);
    if (error instanceof TaskFailure || error instanceof RunCancelled) throw error;
    throw new TaskFailure(name, frame.place, error);
  }
}

export function nodePath(node: GraphNode): number[] {
  const path = [node.id];
  for (let owner = node.graph.owner; owner; owner = owner.graph.owner) path.unshift(owner.id);
  return path;
}

function isIterable(value: unknown): boolean {
  return Array.isArray(value) || ArrayBuffer.isView(value);
}

/** The record event of a map element: `<outputName>[<index>]`, under the map's row. */
export function elementStartEvent(job: MapJob, index: number, at?: Date): TaskStartEvent {
  return { name: `${job.node.map!.options.outputName}[${index}]`, plugin: "", parent: job.parentHandle, element: index, inputs: [], outputs: [], at };
}

/** Runs one element of a map body in this thread (the sequential backend, and each worker of the pool). */
export async function runMapElement(exec: Execution, job: MapJob, index: number): Promise<unknown> {
  const body = job.node.map!.body;
  const handle = await exec.observer.taskStarted(elementStartEvent(job, index));
  try {
    const outputs = await runGraph(exec, body, job.plan.body!, {
      outer: job.outer,
      element: { target: job.plan.iterate!, value: job.items[index], index },
      parentHandle: handle,
      place: [...job.place, { element: index }],
    });
    const result = elementResult(outputs, job.plan.body!);
    // An element whose body's terminals all returned Skipped is skipped (left out of the map's results).
    await exec.observer.taskFinished(handle, result === SKIPPED_ELEMENT ? "skipped" : "success");
    return result;
  } catch (error) {
    // exitPipeline() in the element: it ends the run, successfully.
    if (isExitPipeline(error)) await exec.observer.taskFinished(handle, "success");
    else await exec.observer.taskFinished(handle, "failed", error);
    throw error;
  }
}

/** The sequential backend's map: one element after the other, in input order. */
export async function runMapSequential(exec: Execution, job: MapJob): Promise<unknown[]> {
  const fast = singleTaskBody(job);
  if (fast) {
    const values = new Array<unknown>(job.items.length);
    let failure: unknown;
    // Stops at the first failure, and when the run is cancelled (the element in flight finishes first).
    // A flag set by the abort, not `signal.aborted` per element: that getter costs as much as a trivial element.
    let cancelled = false;
    const stop = () => (cancelled = true);
    exec.signal?.addEventListener("abort", stop, { once: true });
    // The array read in place (no pair object per element: on a 1e6 map, garbage that would grow the young
    // generation), stopping at the first failure or the cancellation.
    const items = { first: 0, values: job.items, until: () => failure !== undefined || cancelled };
    try {
      await runSingleTaskElements(exec, job, fast, items, (index, ok, v) => {
        if (ok) values[index] = v;
        else failure ??= v;
      });
    } finally {
      exec.signal?.removeEventListener("abort", stop);
    }
    if (cancelled || exec.signal?.aborted) throw new RunCancelled();
    if (failure !== undefined) throw failure;
    return values;
  }
  const results: unknown[] = [];
  for (let i = 0; i < job.items.length; i++) results.push(await runMapElement(exec, job, i));
  return results;
}
