/**
 * RunRecorder: the RunObserver that writes a run's task records. At run start the top-level graph is
 * written as `pending` rows with its edges; each task / map / map element then goes running → success,
 * failed (exception message and source-mapped stack stored) or skipped; a node that never ran (on a branch
 * not taken) goes straight to skipped, with no start or end time. Map elements and the tasks of map
 * bodies get rows as they start, with their parent row and element index.
 */
import type { TaskSpec } from "../../contract/manifest.js";
import type { RunObserver } from "../execute/run-graph.js";
import { RunCancelled, RunEmitted, TaskFailure } from "../execute/run-graph.js";
import type { Graph, GraphNode } from "../graph/model.js";
import type { GraphPlan, TaskTable } from "../graph/plan.js";
import { mapStack } from "../source-map.js";
import type { TaskKind, TaskState } from "./entities.js";
import { RecordBuffer } from "./record-buffer.js";
import { RowHandle, type RecordStore, type TaskRow } from "./record-store.js";

type StartEvent = Parameters<RunObserver["taskStarted"]>[0] & { at?: Date };

/**
 * Handles are RowHandles. Events of map bodies are buffered and written in batches (RecordBuffer);
 * events of top-level nodes are written before the run goes on, so a long task shows as running.
 */
export class RunRecorder implements RunObserver {
  /** Pending top-level rows not started (or skipped) yet, by graph node id. */
  private readonly planned = new Map<number, RowHandle>();
  private readonly buffer: RecordBuffer;
  /** Rows of top-level nodes: their events are written at once. */

  constructor(
    private readonly store: RecordStore,
    readonly runId: string,
  ) {
    this.buffer = new RecordBuffer(store, runId);
  }

  /** Writes everything buffered; rejects if a record could not be written. */
  flush(): Promise<void> {
    return this.buffer.flush();
  }

  /**
   * Writes the command's top-level task, map and loop nodes as pending rows, and the edges between them
   * (through control nodes such as if/merge, which have no row).
   */
  async plan(graph: Graph, plan: GraphPlan, tasks: TaskTable): Promise<void> {
    const rows: TaskRow[] = [];
    const index = new Map<number, number>();
    for (const id of plan.order) {
      const row = plannedRow(graph.nodes[id], plan.nodes[id]?.iterate, tasks);
      if (!row) continue;
      index.set(id, rows.length);
      rows.push(row);
    }
    const children = new Map<number, number[]>();
    for (const e of graph.edges) children.set(e.from, [...(children.get(e.from) ?? []), e.to]);
    const edges: Array<[number, number]> = [];
    for (const [node, row] of index) {
      const seen = new Set<number>();
      const walk = (from: number) => {
        for (const c of children.get(from) ?? []) {
          if (seen.has(c)) continue;
          seen.add(c);
          if (index.has(c)) edges.push([row, index.get(c)!]);
          else walk(c);
        }
      };
      walk(node);
    }
    const ids = await this.store.insertGraph(this.runId, rows, edges);
    for (const [node, i] of index) this.planned.set(node, new RowHandle(ids[i]));
  }

  /**
   * The run was cancelled: what is buffered gets written, the rows still running are then failed with the
   * cancellation, and events of tasks still unwinding are not written (a task that finishes during the
   * grace period does not turn its cancelled row into `success`).
   */
  stop(): void {
    this.stopped = true;
  }
  private stopped = false;

  taskStarted(e: StartEvent): RowHandle | Promise<RowHandle> {
    if (this.stopped) return new RowHandle();
    const at = e.at ?? new Date();
    const kind = kindOf(e);
    const parent = e.parent instanceof RowHandle ? e.parent : null;
    const planned = parent ? undefined : this.takePlanned(e);
    if (planned) {
      // Written with the next batch (at most FLUSH_MS later), not in a transaction of its own: a chain of
      // small tasks would otherwise pay one commit per task.
      this.buffer.start(planned, at);
      return planned;
    }
    return this.buffer.insert(this.row(e, kind, "running", at, parent));
  }

  /** A node that never ran: its row (the planned one, at top level) is `skipped`, start and end left empty. */
  taskSkipped(e: StartEvent): void {
    if (this.stopped) return;
    const kind = kindOf(e);
    const parent = e.parent instanceof RowHandle ? e.parent : null;
    const planned = parent ? undefined : this.takePlanned(e);
    if (planned) this.buffer.skip(planned);
    else this.buffer.insert(this.row(e, kind, "skipped", null, parent));
  }

  /**
   * The pending top-level row of the event's node, if any: by the node's id, never by its label (a task
   * called twice, on two branches that finish in any order, would get the other call's row).
   */
  private takePlanned(e: StartEvent): RowHandle | undefined {
    if (e.node === undefined) return undefined;
    const row = this.planned.get(e.node);
    if (row) this.planned.delete(e.node);
    return row;
  }

  private row(e: StartEvent, kind: TaskRow["kind"], state: "running" | "skipped", at: Date | null, parent: RowHandle | null): TaskRow {
    return { kind, plugin: e.plugin, name: e.name, ref: e.taskId ?? null, state, start: at, end: null, message: null, stack: null, inputs: e.inputs, outputs: e.outputs, parent, element: e.element ?? null };
  }

  taskFinished(handle: unknown, state: "success" | "failed" | "skipped", error?: unknown, at?: Date): void | Promise<void> {
    if (this.stopped || !(handle instanceof RowHandle)) return;
    // slurm --emit-only: the map's array is written, to be submitted by hand; nothing failed.
    if (state === "failed" && error instanceof RunEmitted) return this.buffer.finish(handle, "emitted", at ?? new Date(), null, null);
    const { message, stack } = state === "failed" ? describeFailure(error) : { message: null, stack: null };
    this.buffer.finish(handle, state as TaskState, at ?? new Date(), message, stack);
  }
}

function kindOf(e: StartEvent): TaskKind | "control" {
  if (e.taskId) return "task";
  if (e.name.startsWith("map(")) return "map";
  if (e.name.startsWith("loop(")) return /\[\d+\]$/.test(e.name) ? "iteration" : "loop";
  return /\[\d+\]$/.test(e.name) ? "element" : "control";
}

function plannedRow(node: GraphNode, iterate: string | undefined, tasks: TaskTable): TaskRow | undefined {
  const base = { ref: null, state: "pending" as const, start: null, end: null, message: null, stack: null, parent: null, element: null, plugin: "" };
  switch (node.kind) {
    case "task": {
      const spec: TaskSpec | undefined = tasks[node.task!.id!];
      return { ...base, kind: "task", plugin: spec?.plugin ?? "", name: spec?.name ?? node.task!.displayName, ref: spec?.id ?? null, inputs: spec?.inputs.map((i) => i.name) ?? [], outputs: spec?.outputs.map((o) => o.name) ?? [] };
    }
    case "map":
      return { ...base, kind: "map", name: `map(${node.map!.options.outputName})`, inputs: iterate ? [iterate] : [], outputs: [node.map!.options.outputName] };
    case "loop":
      return { ...base, kind: "loop", name: "loop()", inputs: [], outputs: [] };
    default:
      return undefined;
  }
}

/** The stored exception: the task's own error with its stack mapped to the user's sources; wrappers by message. */
export function describeFailure(error: unknown): { message: string; stack: string | null } {
  if (error instanceof RunCancelled) return { message: "run cancelled", stack: null };
  if (error instanceof TaskFailure) return { message: error.message, stack: null };
  if (error instanceof Error) {
    const message = error.name && error.name !== "Error" ? `${error.name}: ${error.message}` : error.message;
    return { message, stack: error.stack ? mapStack(error.stack) : null };
  }
  return { message: String(error), stack: null };
}
