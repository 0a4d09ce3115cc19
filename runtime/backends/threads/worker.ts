import { parentPort, workerData } from "node:worker_threads";
import type { Manifest } from "../../../contract/manifest.js";
import type { OutflowConfig } from "../../config/schema.js";
import { configureLogging } from "../../logging/logger.js";
import { registerTasks } from "../../registry.js";
import { runInScope, type RunInfo, type Scope } from "../../context.js";
import type { PipelineLoaders } from "../../pipeline.js";
import type { WorkerDatabases } from "../../db/worker.js";
import { ElementHost } from "../elements.js";
import { SKIPPED_ELEMENT, type Place } from "../../execute/run-graph.js";
import { cloneError, failUnsendable } from "../events.js";
import { packValues, packedTransfer, serializeError, unpackNumber, type SerializedError, type RunMessage, type WorkerInit, type WorkerReply, type WorkerRequest } from "./protocol.js";
import { transferables } from "./pool.js";

interface Ready {
  host: ElementHost;
  refs: ReturnType<typeof registerTasks>;
  databases?: WorkerDatabases;
}

/**
 * The worker side of the threads backend: runs single tasks and batches of map elements. It loads the
 * pipeline at once (in parallel with the main thread's start-up) and waits for the `run` message before
 * opening databases and running anything.
 */
export async function startWorker(input: PipelineLoaders & { manifest: Manifest }): Promise<void> {
  const init = workerData as WorkerInit;
  const config = init.config as OutflowConfig;
  let gotRun!: (run: RunInfo) => void;
  const run = new Promise<RunInfo>((resolve) => (gotRun = resolve));
  const ready: Promise<Ready> = (async () => {
    configureLogging({ level: init.logLevel ?? config.logging.level, plugins: config.logging.plugins, root: init.root });
    const [modules, validators, dbModule] = await Promise.all([input.loadModules(), input.loadValidators(), init.db ? import("../../db/worker.js") : undefined]);
    const refs = registerTasks(modules);
    const info = await run;
    // A tracked command's workers open their own sessions (as the user role) for `context.em`, once the
    // main thread has checked (or migrated) the databases; records stay with the main thread.
    const databases = dbModule ? await dbModule.openWorkerDatabases({ config, root: init.root, loadDb: input.loadDb }) : undefined;
    const host = new ElementHost({ manifest: input.manifest, modules, validators, command: init.command, args: init.args, config, run: info, forkEm: databases?.forkEm, db: databases?.db, collectEvents: init.db });
    return { host, refs, databases };
  })();
  // A start-up failure (a database that does not open) fails each job with that error, not the worker.
  ready.catch(() => {});

  const handle = async (message: WorkerRequest): Promise<void> => {
    let reply: WorkerReply;
    let transfer: ArrayBuffer[] = [];
    try {
      const state = await ready;
      ({ reply, transfer } = message.kind === "task" ? await runTask(input.manifest, state, message) : await runElements(state, message));
    } catch (error) {
      reply = failedReply(message, error);
    }
    try {
      parentPort!.postMessage(reply, transfer);
    } catch (error) {
      // A result that cannot be cloned (a function typed unknown, say): the elements whose results those are
      // fail with the clone error, the others' results go back (never run twice); failing that, the whole
      // job fails with it. The worker goes on.
      const salvaged = reply.kind === "elements" && message.kind === "elements" ? withoutUncloneable(reply, message.place) : undefined;
      try {
        if (!salvaged) throw error;
        parentPort!.postMessage(salvaged, transferables(salvaged.values));
      } catch {
        parentPort!.postMessage(failedReply(message, cloneError(error, RESULT_NOT_SENT)));
      }
    }
  };
  parentPort!.on("message", (message: WorkerRequest | RunMessage) => {
    if (message.kind === "run") return gotRun(message.run);
    void handle(message);
  });
}

const RESULT_NOT_SENT = "a result cannot be sent back from the worker thread";

/**
 * An elements reply less the results that cannot be cloned: each such element fails with the clone error,
 * in its records too (its element row with the task's failure, its task's row with the error). Undefined
 * when no single result is at fault.
 */
function withoutUncloneable(reply: Extract<WorkerReply, { kind: "elements" }>, place: Place): Extract<WorkerReply, { kind: "elements" }> | undefined {
  if (!Array.isArray(reply.values)) return undefined;
  const values = [...reply.values];
  const failures = [...reply.failures];
  const events = reply.events.map((e) => ({ ...e }));
  for (let k = 0; k < values.length; k++) {
    try {
      structuredClone(values[k]);
    } catch (error) {
      const index = reply.first + k;
      values[k] = undefined;
      failures.push({ index, error: failUnsendable(events, index, place, cloneError(error, RESULT_NOT_SENT)) });
    }
  }
  return failures.length > reply.failures.length ? { ...reply, values, failures, events } : undefined;
}

/** The reply of a job that failed as a whole: the task's error, or the same error for each of the batch's elements. */
function failedReply(message: WorkerRequest, error: unknown): WorkerReply {
  if (message.kind === "task") return { kind: "task", ok: false, error: serializeError(error) };
  return { kind: "elements", first: message.first, values: [], failures: Array.from({ length: message.values.length }, (_, k) => ({ index: message.first + k, error: serializeError(error) })), events: [], whole: true };
}

async function runTask(manifest: Manifest, state: Ready, request: Extract<WorkerRequest, { kind: "task" }>): Promise<{ reply: WorkerReply; transfer: ArrayBuffer[] }> {
  const spec = manifest.tasks[request.taskId];
  try {
    const scope: Scope = { ...state.host.scope, task: { id: spec.id, name: spec.name, plugin: spec.plugin }, em: state.databases?.forkEm(), db: state.databases?.db };
    const fn = state.refs.get(request.taskId)!.fn as (...a: unknown[]) => unknown;
    const value = await runInScope(scope, () => fn(...request.args));
    return { reply: { kind: "task", ok: true, value }, transfer: transferables(value) };
  } catch (error) {
    return { reply: { kind: "task", ok: false, error: serializeError(error) }, transfer: [] };
  }
}

async function runElements(state: Ready, request: Extract<WorkerRequest, { kind: "elements" }>): Promise<{ reply: WorkerReply; transfer: ArrayBuffer[] }> {
  const input = request.values;
  const packed = input instanceof Float64Array ? input : undefined;
  // exitPipeline() in an element ends the map: the batch's later elements do not start (as on sequential).
  let exited = false;
  const items = { first: request.first, values: input, map: packed ? (unpackNumber as (v: unknown) => unknown) : undefined, until: () => exited };
  // A packed batch's number results are written over its own values (element k is read before its result
  // is written): nothing is allocated for them. The first result of another kind moves them to an array.
  let out: unknown[] | undefined = packed ? undefined : new Array<unknown>(input.length);
  const failures: Extract<WorkerReply, { kind: "elements" }>["failures"] = [];
  const failed = new Set<number>();
  const unpacked = (count: number): unknown[] => {
    const array = new Array<unknown>(input.length);
    for (let j = 0; j < count; j++) if (!failed.has(j)) array[j] = unpackNumber(packed![j]);
    return array;
  };
  // Elements whose body returned Skipped: no result (the marker cannot be cloned), listed by index.
  const skipped: number[] = [];
  const { events } = await state.host.run({ path: request.path, place: request.place, outer: request.outer, items }, undefined, (index, ok, v) => {
    const k = index - request.first;
    if (!ok) {
      failures.push({ index, error: v as SerializedError });
      failed.add(k);
      if ((v as SerializedError).name === "ExitPipeline") exited = true;
      return;
    }
    if (v === SKIPPED_ELEMENT) {
      skipped.push(index);
      v = undefined;
    }
    if (out === undefined) {
      if (typeof v === "number") {
        packed![k] = v;
        return;
      }
      out = unpacked(k);
    }
    out[k] = v;
  });
  if (out === undefined && failures.length) out = unpacked(input.length);
  // All-number results go back packed: in the request's own buffer when it came packed.
  const values = out === undefined ? packed! : failures.length ? out : packValues(out, 0, out.length);
  return { reply: { kind: "elements", first: request.first, values, failures, events, ...(skipped.length ? { skipped } : {}) }, transfer: values instanceof Float64Array ? packedTransfer(values) : transferables(values) };
}
