import type { Worker, TransferListItem } from "node:worker_threads";
import { cloneError } from "../events.js";

/** A worker died (process.exit, out of memory, uncaught error) while running a job. */
export class WorkerCrash extends Error {
  constructor(readonly exitCode: number | null, detail: string) {
    super(`worker thread exited${exitCode === null ? "" : ` with code ${exitCode}`}${detail ? `: ${detail}` : ""}`);
    this.name = "WorkerCrash";
  }
}

/** A queued job that was dropped before any worker got it: its sender no longer wanted it (see `wanted`). */
export class JobNotStarted extends Error {
  constructor() {
    super("the job was dropped before it started");
    this.name = "JobNotStarted";
  }
}

export interface RunOptions {
  /** Buffers to move to the worker instead of copying. */
  transfer?: TransferListItem[];
  /** Called when a worker gets the job (at once when one is idle, else when one frees up). */
  onStart?: () => void;
  /** Asked when the job's turn comes: when it says no (its map failed meanwhile), the job is dropped with JobNotStarted. */
  wanted?: () => boolean;
}

interface Job extends RunOptions {
  message: unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

interface Slot {
  worker: Worker;
  job?: Job;
  lastError?: string;
}

/**
 * A small worker pool: one job in flight per worker, FIFO queue, a dead worker is replaced and its job
 * rejected with WorkerCrash. Measured ~5x faster than piscina for fine-grained messages, and it can start
 * its workers from the bundle itself (no second file).
 */
export class WorkerPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private closed = false;
  private greeting?: unknown;

  constructor(readonly size: number, private readonly spawn: () => Worker) {
    for (let i = 0; i < size; i++) this.slots.push(this.start());
  }

  /** A message every worker gets before any job (and every replacement worker, first thing); no reply. */
  greet(message: unknown): void {
    this.greeting = message;
    for (const slot of this.slots) slot.worker.postMessage(message);
  }

  private start(): Slot {
    const slot: Slot = { worker: this.spawn() };
    if (this.greeting !== undefined) slot.worker.postMessage(this.greeting);
    slot.worker.on("message", (reply: unknown) => {
      const job = slot.job;
      slot.job = undefined;
      job?.resolve(reply);
      // After the sender's own callback (queued first): a map that failed on this reply is no longer
      // `wanted` when its next queued batch's turn comes.
      queueMicrotask(() => this.pump());
    });
    slot.worker.on("error", (error) => {
      slot.lastError = error instanceof Error ? error.message : String(error);
    });
    slot.worker.on("exit", (code) => {
      const job = slot.job;
      slot.job = undefined;
      const index = this.slots.indexOf(slot);
      if (this.closed || index < 0) {
        job?.reject(new Error("worker pool closed"));
        return;
      }
      this.slots[index] = this.start();
      job?.reject(new WorkerCrash(code, slot.lastError ?? ""));
      // After the senders have seen the crash (their promise callbacks run first), so that a map that fails
      // on it does not hand its next queued batch to the replacement worker.
      setImmediate(() => this.pump());
    });
    slot.worker.unref();
    return slot;
  }

  run<T>(message: unknown, options: RunOptions = {}): Promise<T> {
    if (this.closed) return Promise.reject(new Error("worker pool is closed"));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ ...options, message, resolve: resolve as (v: unknown) => void, reject });
      this.pump();
    });
  }

  private pump(): void {
    // A deferred pump can come after close(): it must not unreference the workers being terminated.
    if (this.closed) return;
    for (const slot of this.slots) {
      while (!slot.job && this.queue.length) {
        const job = this.queue.shift()!;
        if (job.wanted && !job.wanted()) {
          job.reject(new JobNotStarted());
          continue;
        }
        try {
          slot.worker.postMessage(job.message, job.transfer ?? []);
        } catch (error) {
          // A value that cannot be cloned (a function in an input typed unknown): this job fails with the
          // clone error, and the worker stays free for the next one.
          job.reject(cloneError(error, "a value cannot be sent to a worker thread"));
          continue;
        }
        slot.job = job;
        job.onStart?.();
        slot.worker.ref();
      }
    }
    for (const slot of this.slots) if (!slot.job) slot.worker.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(new Error("worker pool closed"));
    // Referenced until they are gone: terminating an idle (unreferenced) worker that is still starting, say a
    // replacement for one that crashed, would otherwise leave nothing to keep the process waiting for it.
    await Promise.all(
      this.slots.map((s) => {
        s.worker.ref();
        return s.worker.terminate();
      }),
    );
  }
}

/** ArrayBuffers of typed arrays in a value (one level deep in arrays/objects), to transfer instead of copy. */
export function transferables(value: unknown, found = new Set<ArrayBuffer>(), depth = 0): ArrayBuffer[] {
  if (ArrayBuffer.isView(value)) {
    if (value.buffer instanceof ArrayBuffer && value.byteOffset === 0 && value.byteLength === value.buffer.byteLength) found.add(value.buffer);
  } else if (depth < 3 && Array.isArray(value)) {
    for (const v of value.length > 64 && !ArrayBuffer.isView(value[0]) ? [] : value) transferables(v, found, depth + 1);
  } else if (depth < 3 && value && typeof value === "object") {
    for (const v of Object.values(value)) transferables(v, found, depth + 1);
  }
  return [...found];
}
