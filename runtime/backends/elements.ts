/**
 * Running map elements away from the driver, shared by the threads backend (a worker thread) and the
 * slurm backend (an array task): re-record the command's graph with the same args, find the map node by
 * its `path`, run a batch of its elements with `runMapElement`, and collect the task record events so the
 * driver can replay them into the run records.
 */
import type { Manifest } from "../../contract/manifest.js";
import type { OutflowConfig } from "../config/schema.js";
import type { RunInfo, Scope } from "../context.js";
import { recordAndCheck } from "../graph/record-and-check.js";
import type { ModuleTable } from "../registry.js";
import { SKIPPED_ELEMENT, TaskFailure, elementStartEvent, runMapElement, silentObserver, type Execution, type MapJob, type Place } from "../execute/run-graph.js";
import type { Validators } from "../execute/validate.js";
import type { Graph, GraphNode } from "../graph/model.js";
import type { GraphPlan, NodePlan } from "../graph/plan.js";
import { elementPairs, runSingleTaskElements, singleTaskBody, type ElementItems, type ElementResultSink } from "../execute/single-task-map.js";
import { EventCollector, serializeError, type ElementOutcome, type RecordedEvent } from "./events.js";

/** The map node at `path` (node ids from the command graph down through enclosing map and loop bodies). */
export function findMap(graph: Graph, plan: GraphPlan, path: number[]): { node: GraphNode; plan: NodePlan } {
  let g = graph;
  let p = plan;
  for (let i = 0; ; i++) {
    const node = g.nodes[path[i]];
    const nodePlan = p.nodes[path[i]];
    const rebuilt = "(was the bundle rebuilt with different code?)";
    if (!node || !nodePlan) throw new Error(`map node ${path.join("/")} not found in the command graph ${rebuilt}`);
    if (i === path.length - 1) {
      if (node.kind !== "map") throw new Error(`node ${path.join("/")} of the command graph is not a map ${rebuilt}`);
      return { node, plan: nodePlan };
    }
    const body = node.map?.body ?? node.loop?.body;
    if (!body || !nodePlan.body) throw new Error(`map node ${path.join("/")} not found in the command graph ${rebuilt}`);
    g = body;
    p = nodePlan.body;
  }
}

export interface ElementHostInput {
  manifest: Manifest;
  modules: ModuleTable;
  validators: Validators;
  /** The command's path (`["compute_data"]`). */
  command: string[];
  args: Record<string, unknown>;
  config: OutflowConfig;
  run: RunInfo;
  /** `false` for untracked commands: no task record events are collected. */
  collectEvents?: boolean;
  /** A tracked command's database session where the elements run (`context.em`, `context.db(name)`). */
  forkEm?: () => NonNullable<Scope["em"]>;
  db?: Scope["db"];
}

export interface ElementBatch {
  path: number[];
  /** Where the map node runs. */
  place: Place;
  outer: Record<string, unknown>;
  items: ElementItems;
}

const noEvents: RecordedEvent[] = [];

/**
 * True when a node of a map body, at any depth, may read `name` itself rather than its element: a task
 * input or an inner map that takes the iterated array whole, as a pass-through value, or a control node
 * (if, interactive, loop) at the start of a body, which sees every outer value. Errs on "yes".
 */
export function bodyReadsWhole(graph: Graph | undefined, plan: GraphPlan | undefined, name: string): boolean {
  if (!graph || !plan) return false;
  for (const node of plan.nodes) {
    if (!node) continue;
    const kind = graph.nodes[node.node]?.kind;
    if (node.parents.length === 0 && kind !== "task" && kind !== "map") return true;
    if (node.iterate === name) return true;
    if (node.inputs.some((i) => i.name === name && i.from.kind !== "element")) return true;
    const inner = graph.nodes[node.node];
    if (bodyReadsWhole(inner?.map?.body ?? inner?.loop?.body, node.body, name)) return true;
  }
  return false;
}

/**
 * The outer values a map's elements need where they run (a worker thread, a Slurm array task): all but
 * the iterated array, which each element gets its own part of, unless a body reads it whole.
 */
export function outerForElements(job: MapJob): Record<string, unknown> {
  const target = job.plan.iterate;
  if (target === undefined || bodyReadsWhole(job.node.map!.body, job.plan.body, target)) return job.outer;
  const { [target]: _iterated, ...rest } = job.outer;
  return rest;
}

/** Who an element's failure without a task of its own is said of: the body's one task, else the map. */
function blamedFor(exec: Execution, job: MapJob): string {
  const body = singleTaskBody(job);
  return (body && exec.tasks[body.node.task!.id!]?.name) ?? `map(${job.node.map!.options.outputName})`;
}

/** The failure of element `index` that failed with `error` and no task of its own to say it of. */
export function elementFailure(exec: Execution, job: MapJob, index: number, error: unknown): TaskFailure {
  return new TaskFailure(blamedFor(exec, job), [...job.place, { element: index }], error);
}

/**
 * The driver's rows of an element that ran away from it (a worker thread, a Slurm array task) and whose
 * own records never came back: the element's row and, in a one-task body, its task's row under it (which
 * task of a longer body ran is unknown there).
 */
export async function startElementRows(exec: Execution, job: MapJob, index: number, at: Date): Promise<{ element: unknown; task?: unknown }> {
  const element = await exec.observer.taskStarted(elementStartEvent(job, index, at));
  const body = singleTaskBody(job);
  const spec = body ? exec.tasks[body.node.task!.id!] : undefined;
  if (!spec) return { element };
  const task = await exec.observer.taskStarted({ name: spec.name, plugin: spec.plugin, taskId: spec.id, parent: element, element: index, inputs: spec.inputs.map((i) => i.name), outputs: spec.outputs.map((o) => o.name), at });
  return { element, task };
}

/**
 * An element that failed with no records of its own (its worker or array task died, its result could not
 * be sent back): its rows are written by the driver, the element's failed with the map's failure, its
 * task's with the error. Returns the element's failure.
 */
export async function recordFailedElement(exec: Execution, job: MapJob, index: number, at: Date, error: unknown, failure = elementFailure(exec, job, index, error)): Promise<TaskFailure> {
  const rows = await startElementRows(exec, job, index, at);
  if (rows.task !== undefined) await exec.observer.taskFinished(rows.task, "failed", error);
  await exec.observer.taskFinished(rows.element, "failed", failure);
  return failure;
}

/**
 * Runs batches of map elements in this process (a worker thread, an array task). The graph is recorded
 * once, with the run's args, the first time a batch needs it.
 */
export class ElementHost {
  private recorded?: { graph: Graph; plan: GraphPlan };
  readonly scope: Omit<Scope, "task" | "em">;

  constructor(private readonly input: ElementHostInput) {
    this.scope = { args: input.args, config: input.config, run: input.run, db: input.db };
  }

  private graph(): { graph: Graph; plan: GraphPlan } {
    if (!this.recorded) {
      const command = this.input.manifest.commands.find((c) => c.path.join(" ") === this.input.command.join(" "));
      if (!command) throw new Error(`command ${this.input.command.join(" ")} is not in this bundle (rebuild with \`outflow build\`)`);
      this.recorded = recordAndCheck({ manifest: this.input.manifest, root: this.input.run.root, command }, this.input.modules, this.input.args);
    }
    return this.recorded;
  }

  /**
   * Runs the batch's elements one after the other; a failing element does not stop the others. Returns each
   * element's outcome (or, given a `sink`, hands it each result and serialized error instead) and the task
   * record events (element records have `parent: null`).
   */
  async run(batch: ElementBatch, onElement?: (outcome: ElementOutcome, events: RecordedEvent[]) => void, sink?: ElementResultSink): Promise<{ results: ElementOutcome[]; events: RecordedEvent[] }> {
    const target = findMap(this.graph().graph, this.graph().plan, batch.path);
    // Untracked commands have no records to replay: collect nothing.
    const collector = this.input.collectEvents === false ? undefined : new EventCollector();
    const exec: Execution = { tasks: this.input.manifest.tasks, validators: this.input.validators, observer: collector ?? silentObserver, scope: this.scope, forkEm: this.input.forkEm };
    // Only the elements of this batch, at their own indices.
    const items: unknown[] = [];
    const job: MapJob = { node: target.node, path: batch.path, plan: target.plan, outer: batch.outer, items, parentHandle: null, place: batch.place };
    const results: ElementOutcome[] = [];
    const events: RecordedEvent[] = [];
    const done = (raw: ElementOutcome) => {
      if (sink) sink(raw.index, raw.ok, raw.ok ? raw.value : raw.error);
      // A skipped element crosses the process boundary as a flag (the marker is a symbol).
      const outcome: ElementOutcome = raw.ok && raw.value === SKIPPED_ELEMENT ? { index: raw.index, ok: true, value: undefined, skipped: true } : raw;
      if (!sink) results.push(outcome);
      // This element's task record events (ids stay unique across the batch).
      const mine = collector ? collector.take() : noEvents;
      for (const e of mine) events.push(e);
      onElement?.(outcome, mine);
    };
    const fast = singleTaskBody(job);
    if (fast) {
      // Untracked, results to a sink: no outcome object per element (the fine-map path of a worker).
      const direct = sink && !collector && !onElement;
      await runSingleTaskElements(exec, job, fast, batch.items, direct ? (index, ok, v) => sink(index, ok, ok ? v : serializeError(v)) : (index, ok, v) => done(ok ? { index, ok: true, value: v } : { index, ok: false, error: serializeError(v) }));
      return { results, events };
    }
    for (const item of elementPairs(batch.items)) {
      items[item.index] = item.value;
      let outcome: ElementOutcome;
      try {
        outcome = { index: item.index, ok: true, value: await runMapElement(exec, job, item.index) };
      } catch (error) {
        outcome = { index: item.index, ok: false, error: serializeError(error) };
      }
      delete items[item.index];
      done(outcome);
    }
    return { results, events };
  }
}
