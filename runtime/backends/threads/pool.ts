import type { Worker, TransferListItem } from "node:worker_threads";

/** A worker died (process.exit, out of memory, uncaught error) while running a job. */
export class WorkerCrash extends Error {
  constructor(readonly exitCode: number | null, detail: string) {
    super(`worker thread exited${exitCode === null ? "" : ` with code ${exitCode}`}${detail ? `: ${detail}` : ""}`);
    this.name = "WorkerCrash";
  }
}

/**
 * A job that was queued behind another on a worker that died before starting it. It did not run: its
 * sender runs it again (its transferred buffers went with the worker, so the pool cannot resend it).
 */
export class JobNotStarted extends Error {
  constructor() {
    super("worker thread exited before the job started");
    this.name = "JobNotStarted";
  }
}

export interface RunOptions {
  /** Buffers to move to the worker instead of copying. */
  transfer?: TransferListItem[];
  /**
   * The job may wait on a busy worker, behind the one job it runs (at most one waits per worker). For short
   * jobs in a stream, such as a fine map's batches: the worker starts the next batch the moment it replies,
   * instead of idling for a round trip through the main thread.
   */
  queueBehind?: boolean;
  /** Called when the worker starts the job (at once on an idle worker, else when the job before it replies). */
  onStart?: () => void;
  /** Asked before the job is posted: when it says no (its map failed meanwhile), the job is dropped with JobNotStarted. */
  wanted?: () => boolean;
}

interface Job extends RunOptions {
  message: unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

interface Slot {
  worker: Worker;
  /** Jobs posted to this worker, in order: the first one runs, a second one waits (workers run one job at a time). */
  jobs: Job[];
  lastError?: string;
}

/**
 * A small worker pool: one job running per worker, plus at most one `queueBehind` job waiting on it; a FIFO
 * queue; a dead worker is replaced, its running job rejected with WorkerCrash and its waiting job with
 * JobNotStarted. Measured ~5x faster than piscina for fine-grained messages, and it can start its workers
 * from the bundle itself (no second file).
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
    const slot: Slot = { worker: this.spawn(), jobs: [] };
    if (this.greeting !== undefined) slot.worker.postMessage(this.greeting);
    slot.worker.on("message", (reply: unknown) => {
      const job = slot.jobs.shift();
      slot.jobs[0]?.onStart?.();
      job?.resolve(reply);
      // After the sender's own callback (queued first): a map that failed on this reply is seen as no
      // longer `wanted` before its next queued batch is posted.
      queueMicrotask(() => this.pump());
    });
    slot.worker.on("error", (error) => {
      slot.lastError = error instanceof Error ? error.message : String(error);
    });
    slot.worker.on("exit", (code) => {
      const [running, ...waiting] = slot.jobs.splice(0);
      const index = this.slots.indexOf(slot);
      if (this.closed || index < 0) return;
      this.slots[index] = this.start();
      running?.reject(new WorkerCrash(code, slot.lastError ?? ""));
      for (const job of waiting) job.reject(new JobNotStarted());
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

  /** Posts queued jobs in order: to an idle worker, else (a `queueBehind` job) behind a worker's one running job. */
  private pump(): void {
    // A deferred pump can come after close(): it must not unreference the workers being terminated.
    if (this.closed) return;
    while (this.queue.length) {
      const job = this.queue[0];
      if (job.wanted && !job.wanted()) {
        this.queue.shift();
        job.reject(new JobNotStarted());
        continue;
      }
      const slot = this.slots.find((s) => s.jobs.length === 0) ?? (job.queueBehind ? this.slots.find((s) => s.jobs.length === 1) : undefined);
      // The first job that has no place waits, and so does everything behind it: a task node queued during a
      // fine map gets the next idle worker instead of being overtaken by batches.
      if (!slot) break;
      this.queue.shift();
      slot.jobs.push(job);
      if (slot.jobs.length === 1) job.onStart?.();
      slot.worker.ref();
      slot.worker.postMessage(job.message, job.transfer ?? []);
    }
    for (const slot of this.slots) if (slot.jobs.length === 0) slot.worker.unref();
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
