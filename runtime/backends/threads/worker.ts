import { parentPort, workerData } from "node:worker_threads";
import type { Manifest } from "../../../contract/manifest.js";
import type { OutflowConfig } from "../../config/schema.js";
import { configureLogging } from "../../logging/logger.js";
import { registerTasks } from "../../registry.js";
import { runInScope, type Scope } from "../../context.js";
import type { PipelineLoaders } from "../../pipeline.js";
import { ElementHost } from "../elements.js";
import { serializeError, type WorkerInit, type WorkerReply, type WorkerRequest } from "./protocol.js";
import { transferables } from "./pool.js";

/** The worker side of the threads backend: runs single tasks and batches of map elements. */
export async function startWorker(input: PipelineLoaders & { manifest: Manifest }): Promise<void> {
  const init = workerData as WorkerInit;
  const config = init.config as OutflowConfig;
  configureLogging({ level: config.logging.level, plugins: config.logging.plugins, root: init.run.root });
  const modules = await input.loadModules();
  const refs = registerTasks(modules);
  const validators = await input.loadValidators();
  // A tracked command's workers open their own sessions (as the user role) for `context.em`; records stay with the main thread.
  const databases = init.db ? await (await import("../../db/worker.js")).openWorkerDatabases({ config, root: init.run.root, loadDb: input.loadDb }) : undefined;
  const host = new ElementHost({ manifest: input.manifest, modules, validators, command: init.command, args: init.args, config, run: init.run, forkEm: databases?.forkEm, db: databases?.db, collectEvents: init.db });

  parentPort!.on("message", async (request: WorkerRequest) => {
    let reply: WorkerReply;
    if (request.kind === "task") {
      const spec = input.manifest.tasks[request.taskId];
      try {
        const scope: Scope = { ...host.scope, task: { id: spec.id, name: spec.name, plugin: spec.plugin }, em: databases?.forkEm(), db: databases?.db };
        const value = await runInScope(scope, () => (refs.get(request.taskId)!.fn as (...a: unknown[]) => unknown)(...request.args));
        reply = { kind: "task", ok: true, value };
      } catch (error) {
        reply = { kind: "task", ok: false, error: serializeError(error) };
      }
      parentPort!.postMessage(reply, transferables(reply.kind === "task" && reply.ok ? reply.value : undefined));
      return;
    }
    const items = request.values.map((value, i) => ({ index: request.first + i, value }));
    const { results, events } = await host.run({ path: request.path, elementPath: request.elementPath, outer: request.outer, items });
    const values = new Array<unknown>(request.values.length);
    const failures: Extract<WorkerReply, { kind: "elements" }>["failures"] = [];
    for (const r of results) {
      if (r.ok) values[r.index - request.first] = r.value;
      else failures.push({ index: r.index, error: r.error });
    }
    reply = { kind: "elements", first: request.first, values, failures, events };
    parentPort!.postMessage(reply, transferables(values));
  });
}
