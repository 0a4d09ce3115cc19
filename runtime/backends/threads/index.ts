import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { TaskSpec } from "../../../contract/manifest.js";
import { RunCancelled, SKIPPED_ELEMENT, TaskFailure, type Execution, type MapJob } from "../../execute/run-graph.js";
import { isExitPipeline } from "../../execute/control-nodes.js";
import { getLogger } from "../../logging/logger.js";
import { WorkerPool, WorkerCrash, JobNotStarted } from "./pool.js";
import { replayEvents } from "../events.js";
import { elementFailure, outerForElements, recordFailedElement, startElementRows } from "../elements.js";
import { deserializeError, packValues, packedTransfer, spareOf, unpackNumber, type RecordedEvent, type RunMessage, type WorkerInit, type WorkerReply, type WorkerRequest } from "./protocol.js";

export interface ThreadsBackend {
  /** The execution (and run) the workers' tasks belong to: the pool starts before the run is recorded. */
  attach(exec: Execution): void;
  runMap(job: MapJob): Promise<unknown[]>;
  invokeTask(spec: TaskSpec, args: unknown[]): Promise<unknown>;
  close(): Promise<void>;
  readonly size: number;
}

/** Elements per message to start with: large enough that fine-grained maps stay cheap, small enough to balance. */
export function batchSize(count: number, workers: number, simultaneous?: number): number {
  return Math.min(1024, maxBatchSize(count, workers, simultaneous));
}

/**
 * The most elements per message: every worker still gets about 8 batches (one at a time with
 * `simultaneousTasks`), and a packed batch stays within 64 KiB (larger ones measured no faster and
 * held more memory in flight).
 */
export function maxBatchSize(count: number, workers: number, simultaneous?: number): number {
  if (simultaneous !== undefined) return 1;
  return Math.max(1, Math.min(8192, Math.ceil(count / (workers * 8))));
}

const threadsLog = getLogger("outflow.threads");

/** A batch that came back within this many ms doubles the size of the map's next batches (up to maxBatchSize). */
const GROW_BELOW_MS = 5;

/**
 * The threads backend: a pool of worker threads started from the running bundle itself. Map elements are
 * batched to workers; task nodes run in workers too, so independent branches of the graph overlap.
 */
export function startThreadsBackend(opts: { bundleFile: string; workers?: number; init: WorkerInit }): ThreadsBackend {
  let exec: Execution | undefined;
  const current = (): Execution => {
    if (!exec) throw new Error("threads backend: attach() an execution before running tasks");
    return exec;
  };
  const size = Math.max(1, opts.workers ?? availableParallelism());
  const pool = new WorkerPool(size, () => new Worker(opts.bundleFile, { workerData: opts.init }));

  const replay = (events: RecordedEvent[], parent: unknown) => replayEvents(current().observer, events, parent);
  // Batches handed to the pool (of every map of the run), with when a worker got them (none yet while one
  // waits in the pool's queue behind other maps' batches or task nodes) and how to record their elements.
  interface InFlight {
    first: number;
    count: number;
    at?: Date;
    started: (index: number, at: Date) => unknown;
  }
  const inFlight = new Set<InFlight>();

  async function runMap(job: MapJob): Promise<unknown[]> {
    const results = new Array<unknown>(job.items.length);
    const name = `map(${job.node.map!.options.outputName})`;
    const simultaneous = job.node.map!.options.simultaneousTasks;
    // Batches are ranges [first, first + count) taken from the front of the array, 1024 elements at first;
    // while they come back quickly (trivial elements) the next ones double, so that a 1e6-element map is
    // not 977 round trips. A crashed batch is split into single elements, run after the rest.
    const total = job.items.length;
    let batchNow = batchSize(total, size, simultaneous);
    const largest = maxBatchSize(total, size, simultaneous);
    let next = 0;
    let biggest = 0;
    const pending: { first: number; count: number }[] = [];
    const take = (): { first: number; count: number } | undefined => {
      if (next >= total) return pending.shift();
      const range = { first: next, count: Math.min(batchNow, total - next) };
      next += range.count;
      biggest = Math.max(biggest, range.count);
      return range;
    };
    // The map's first failure, or the exitPipeline() of an element (which ends the run successfully).
    let failure: unknown;
    let batches = 0;
    // At most `simultaneousTasks` elements at once, and no more than the pool's threads allow when each
    // element needs `cpusPerTask` of them (an element that runs a multi-threaded library, say).
    const cpus = job.node.map!.options.cpusPerTask ?? 1;
    const limit = Math.max(1, Math.min(simultaneous ?? Infinity, Math.floor(size / cpus)));
    const signal = current().signal;

    // Each batch carries its own elements; the iterated array itself is not re-sent with every batch
    // (100k elements in 98 batches would clone it 98 times) unless a body task reads it whole.
    const outer = outerForElements(job);

    // A batch's element records come back with its reply. The elements of a batch that never replies get
    // their rows here, as on the sequential backend: a worker that died fails its element, and when the
    // run is cancelled the elements in flight are recorded running, then failed with the cancellation.
    const exec = current();
    const elementStarted = (index: number, at: Date) => startElementRows(exec, job, index, at);
    const failElement = async (index: number, at: Date, error: unknown): Promise<void> => {
      // The map stops here: no lane takes another batch while the element's rows are written.
      const failed = elementFailure(exec, job, index, error);
      failure ??= failed;
      await recordFailedElement(exec, job, index, at, error, failed);
    };

    // A batch still in the pool's queue is dropped once the map has failed or the run was cancelled.
    const wanted = () => !failure && !signal?.aborted;
    // Find the element at fault in a batch that failed as a whole (one element killed its worker, the worker
    // could not start): the batch is run again one element at a time, after the rest.
    const splitUp = (first: number, count: number): void => {
      for (let i = first; i < first + count; i++) pending.push({ first: i, count: 1 });
    };
    const runBatch = async ({ first, count }: { first: number; count: number }, lane: { spare?: Float64Array }): Promise<void> => {
      const values = packValues(job.items, first, count, lane.spare);
      lane.spare = undefined;
      const request: WorkerRequest = { kind: "elements", path: job.path, place: job.place, outer, first, values };
      let reply: Extract<WorkerReply, { kind: "elements" }>;
      const batch: InFlight = { first, count, started: elementStarted };
      let startedAt = 0;
      const onStart = () => {
        batch.at = new Date();
        startedAt = performance.now();
      };
      inFlight.add(batch);
      try {
        reply = await pool.run(request, { transfer: packedTransfer(values), onStart, wanted });
        if (performance.now() - startedAt < GROW_BELOW_MS && count === batchNow) batchNow = Math.min(largest, batchNow * 2);
      } catch (error) {
        // Already recorded (and the run cancelled) if the abort claimed the batch.
        if (!inFlight.delete(batch)) return;
        // Dropped from the pool's queue, never started: the map failed or the run was cancelled meanwhile.
        if (error instanceof JobNotStarted) {
          pending.unshift({ first, count });
          return;
        }
        if (error instanceof WorkerCrash && count > 1) return splitUp(first, count);
        // The map stops here: no lane takes another batch while the element's rows are written.
        return failElement(first, batch.at ?? new Date(), error);
      }
      // A reply that arrives after the run was cancelled: its elements are recorded cancelled already.
      if (!inFlight.delete(batch)) return;
      if (reply.whole) return count > 1 ? splitUp(first, count) : failElement(first, batch.at ?? new Date(), deserializeError(reply.failures[0].error));
      for (const f of reply.failures) {
        const error = deserializeError(f.error);
        failure ??= error instanceof TaskFailure || isExitPipeline(error) ? error : elementFailure(exec, job, f.index, error);
      }
      const back = reply.values;
      if (back instanceof Float64Array) for (let i = 0; i < back.length; i++) results[reply.first + i] = unpackNumber(back[i]);
      else for (let i = 0; i < back.length; i++) results[reply.first + i] = back[i];
      if (reply.skipped) for (const i of reply.skipped) results[i] = SKIPPED_ELEMENT;
      lane.spare = spareOf(reply.values);
      if (reply.events.length) await replay(reply.events, job.parentHandle);
    };

    // `limit` lanes pull batches until none is left or an element failed.
    const lane = async () => {
      const state: { spare?: Float64Array } = {};
      while (!failure && !signal?.aborted) {
        const range = take();
        if (!range) return;
        batches++;
        await runBatch(range, state);
      }
    };
    await Promise.all(Array.from({ length: Math.min(limit, Math.ceil(total / batchNow)) }, lane));
    threadsLog.debug(`${name}: ${total} element${total === 1 ? "" : "s"} in ${batches} batch${batches === 1 ? "" : "es"} of up to ${biggest}${failure ? " (stopped early)" : ""}`);
    if (signal?.aborted) throw new RunCancelled();
    if (failure) throw failure;
    return results;
  }

  async function invokeTask(spec: TaskSpec, args: unknown[]): Promise<unknown> {
    // Inputs are copied, never transferred: another branch may still use the same value.
    const reply = await pool.run<Extract<WorkerReply, { kind: "task" }>>({ kind: "task", taskId: spec.id, args } satisfies WorkerRequest);
    if (!reply.ok) throw deserializeError(reply.error);
    return reply.value;
  }

  // One listener for the run (not one per map: a wide graph would pass EventTarget's listener limit).
  const onAbort = () => {
    // A batch still in the pool's queue (its map shares the pool with another) never started: no rows, as
    // on the sequential backend.
    for (const b of inFlight) if (b.at) for (let i = b.first; i < b.first + b.count; i++) void b.started(i, b.at);
    inFlight.clear();
  };
  const attach = (e: Execution) => {
    exec = e;
    e.signal?.addEventListener("abort", onAbort, { once: true });
    pool.greet({ kind: "run", run: e.scope.run } satisfies RunMessage);
  };
  const close = () => {
    exec?.signal?.removeEventListener("abort", onAbort);
    return pool.close();
  };
  return { attach, runMap, invokeTask, close, size };
}
