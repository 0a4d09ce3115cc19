import { afterEach, describe, expect, it } from "vitest";
import { Worker } from "node:worker_threads";
import { JobNotStarted, WorkerCrash, WorkerPool } from "../../runtime/backends/threads/pool.js";

// { id, ms } sleeps ms then replies { id, started, thread }; { id, exit } exits with that code.
const WORKER = `
const { parentPort, threadId } = require("node:worker_threads");
parentPort.on("message", async (job) => {
  const started = Date.now();
  if (job.exit !== undefined) process.exit(job.exit);
  await new Promise((r) => setTimeout(r, job.ms ?? 0));
  parentPort.postMessage({ id: job.id, started, thread: threadId });
});
`;

let pools: WorkerPool[] = [];
const poolOf = (size: number) => {
  const pool = new WorkerPool(size, () => new Worker(WORKER, { eval: true }));
  pools.push(pool);
  return pool;
};
afterEach(async () => {
  await Promise.all(pools.map((p) => p.close()));
  pools = [];
});

type Reply = { id: number; started: number; thread: number };

describe("worker pool", () => {
  it("runs one job per worker: a job waits for a free worker, and is started (onStart) only then", async () => {
    const pool = poolOf(1);
    const starts: number[] = [];
    const first = pool.run<Reply>({ id: 1, ms: 150 }, { onStart: () => starts.push(1) });
    const second = pool.run<Reply>({ id: 2 }, { onStart: () => starts.push(2) });
    expect(starts).toEqual([1]);
    const [a, b] = await Promise.all([first, second]);
    expect([a.id, b.id]).toEqual([1, 2]);
    expect(b.started).toBeGreaterThanOrEqual(a.started + 140);
    expect(starts).toEqual([1, 2]);
  });

  it("gives jobs to idle workers", async () => {
    const pool = poolOf(2);
    const a = pool.run<Reply>({ id: 1, ms: 200 });
    const b = pool.run<Reply>({ id: 2, ms: 0 });
    const [ra, rb] = await Promise.all([a, b]);
    expect(rb.thread).not.toBe(ra.thread);
    expect(rb.started).toBeLessThan(ra.started + 150);
  });

  it("fails the job of a worker that dies with WorkerCrash, and a replacement takes the next job", async () => {
    const pool = poolOf(1);
    const crashed = pool.run<Reply>({ id: 1, exit: 7 });
    const next = pool.run<Reply>({ id: 2 });
    await expect(crashed).rejects.toBeInstanceOf(WorkerCrash);
    await expect(crashed).rejects.toThrow(/exited with code 7/);
    expect((await next).id).toBe(2);
  });

  it("drops a queued job that is no longer wanted when its turn comes, without posting it", async () => {
    const pool = poolOf(1);
    let wanted = true;
    const starts: number[] = [];
    // The sender learns of a failure in the reply's callback: the next job's turn comes after it.
    const first = pool.run<Reply>({ id: 1, ms: 100 }).then((r) => ((wanted = false), r));
    const second = pool.run<Reply>({ id: 2 }, { wanted: () => wanted, onStart: () => starts.push(2) });
    await first;
    await expect(second).rejects.toBeInstanceOf(JobNotStarted);
    expect(starts).toEqual([]);
  });

  it("fails a job whose message cannot be cloned with that error, and the worker takes the next job", async () => {
    const pool = poolOf(1);
    const first = pool.run<Reply>({ id: 1, ms: 50 });
    const uncloneable = pool.run<Reply>({ id: 2, fn: () => 2 });
    const third = pool.run<Reply>({ id: 3 });
    expect((await first).id).toBe(1);
    await expect(uncloneable).rejects.toThrow(/^a value cannot be sent to a worker thread: .*could not be cloned/);
    await expect(uncloneable).rejects.toMatchObject({ name: "DataCloneError" });
    expect((await third).id).toBe(3);
  });

  it("settles a job still running when the pool closes (rejected: the pool closed)", async () => {
    const pool = poolOf(1);
    const running = pool.run<Reply>({ id: 1, ms: 5_000 });
    const queued = pool.run<Reply>({ id: 2 });
    // Both are watched before close() rejects them.
    const outcomes = Promise.allSettled([running, queued]);
    await new Promise((r) => setTimeout(r, 50));
    await pool.close();
    const [a, b] = await outcomes;
    expect(a).toMatchObject({ status: "rejected", reason: { message: "worker pool closed" } });
    expect(b).toMatchObject({ status: "rejected", reason: { message: "worker pool closed" } });
  });

  it("does not hand a crashed job's successor to the replacement when the crash made it unwanted", async () => {
    const pool = poolOf(1);
    let wanted = true;
    const crashed = pool.run<Reply>({ id: 1, exit: 3 }).catch((e: unknown) => ((wanted = false), e));
    const second = pool.run<Reply>({ id: 2 }, { wanted: () => wanted });
    expect(await crashed).toBeInstanceOf(WorkerCrash);
    await expect(second).rejects.toBeInstanceOf(JobNotStarted);
  });
});
