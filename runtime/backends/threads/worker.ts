import { parentPort, workerData } from "node:worker_threads";
import type { Manifest } from "../../../contract/manifest.js";
import type { OutflowConfig } from "../../config/schema.js";
import { configureLogging } from "../../logging/logger.js";
import { registerTasks } from "../../registry.js";
import { runInScope, type Scope } from "../../context.js";
import { recordAndCheck, type PipelineLoaders } from "../../pipeline.js";
import { runMapElement, type Execution, type MapJob, type RunObserver, type TaskStartEvent } from "../../execute/run-graph.js";
import type { Graph, GraphNode } from "../../graph/model.js";
import type { GraphPlan, NodePlan } from "../../graph/plan.js";
import { serializeError, type RecordedEvent, type WorkerInit, type WorkerReply, type WorkerRequest } from "./protocol.js";
import { transferables } from "./pool.js";

/** Collects task record events in the worker; the main thread replays them into the run records. */
class EventCollector implements RunObserver {
  events: RecordedEvent[] = [];
  private next = 1;
  taskStarted(e: TaskStartEvent): number {
    const id = this.next++;
    this.events.push({ id, parent: typeof e.parent === "number" ? e.parent : null, name: e.name, plugin: e.plugin, taskId: e.taskId, element: e.element, inputs: e.inputs, outputs: e.outputs, startedAt: Date.now() });
    return id;
  }
  taskFinished(handle: unknown, state: "success" | "failed" | "skipped", error?: unknown): void {
    const ev = this.events.find((x) => x.id === handle);
    if (!ev) return;
    ev.finishedAt = Date.now();
    ev.state = state;
    if (error !== undefined) ev.error = serializeError(error);
  }
}

function findMap(graph: Graph, plan: GraphPlan, path: number[]): { node: GraphNode; plan: NodePlan } {
  let g = graph;
  let p = plan;
  for (let i = 0; ; i++) {
    const node = g.nodes[path[i]];
    const nodePlan = p.nodes[path[i]];
    if (i === path.length - 1) return { node, plan: nodePlan };
    g = node.map!.body;
    p = nodePlan.body!;
  }
}

/** The worker side of the threads backend: runs single tasks and batches of map elements. */
export async function startWorker(input: PipelineLoaders & { manifest: Manifest }): Promise<void> {
  const init = workerData as WorkerInit;
  const config = init.config as OutflowConfig;
  configureLogging({ level: config.logging.level, plugins: config.logging.plugins, root: init.run.root });
  const modules = await input.loadModules();
  const refs = registerTasks(modules);
  const validators = await input.loadValidators();
  const command = input.manifest.commands.find((c) => c.path.join(" ") === init.command.join(" "))!;
  let recorded: { graph: Graph; plan: GraphPlan } | undefined;
  const baseScope: Omit<Scope, "task" | "em"> = { args: init.args, config, run: init.run };

  parentPort!.on("message", async (request: WorkerRequest) => {
    let reply: WorkerReply;
    if (request.kind === "task") {
      const spec = input.manifest.tasks[request.taskId];
      try {
        const scope: Scope = { ...baseScope, task: { id: spec.id, name: spec.name, plugin: spec.plugin } };
        const value = await runInScope(scope, () => (refs.get(request.taskId)!.fn as (...a: unknown[]) => unknown)(...request.args));
        reply = { kind: "task", ok: true, value };
      } catch (error) {
        reply = { kind: "task", ok: false, error: serializeError(error) };
      }
      parentPort!.postMessage(reply, transferables(reply.kind === "task" && reply.ok ? reply.value : undefined));
      return;
    }
    recorded ??= recordAndCheck({ manifest: input.manifest, root: init.run.root, command }, modules, init.args);
    const target = findMap(recorded.graph, recorded.plan, request.path);
    const collector = new EventCollector();
    const exec: Execution = { tasks: input.manifest.tasks, validators, observer: collector, scope: baseScope };
    const job: MapJob = { node: target.node, path: request.path, plan: target.plan, outer: request.outer, items: [], parentHandle: null, elementPath: request.elementPath };
    const results: Extract<WorkerReply, { kind: "elements" }>["results"] = [];
    for (const item of request.items) {
      job.items[item.index] = item.value;
      try {
        results.push({ index: item.index, ok: true, value: await runMapElement(exec, job, item.index) });
      } catch (error) {
        results.push({ index: item.index, ok: false, error: serializeError(error) });
      }
      delete job.items[item.index];
    }
    reply = { kind: "elements", results, events: collector.events };
    parentPort!.postMessage(reply, transferables(results.map((r) => (r.ok ? r.value : undefined))));
  });
}
