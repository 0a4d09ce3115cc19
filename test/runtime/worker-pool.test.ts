import { afterEach, describe, expect, it } from "vitest";
import { Worker } from "node:worker_threads";
import { JobNotStarted, WorkerCrash, WorkerPool } from "../../runtime/backends/threads/pool.js";

// A worker that runs one job at a time in arrival order (as outflow's worker does) and says when it started
// each: { id, ms } sleeps ms then replies { id, started, thread }; { id, exit } exits with that code.
const WORKER = `
const { parentPort, threadId } = require("node:worker_threads");
let previous = Promise.resolve();
parentPort.on("message", (job) => {
  previous = previous.then(async () => {
    const started = Date.now();
    if (job.exit !== undefined) process.exit(job.exit);
    await new Promise((r) => setTimeout(r, job.ms ?? 0));
    parentPort.postMessage({ id: job.id, started, thread: threadId });
  });
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
  it("posts a queueBehind job to a busy worker, which starts it when the one before replies", async () => {
    const pool = poolOf(1);
    const starts: number[] = [];
    const first = pool.run<Reply>({ id: 1, ms: 150 }, { onStart: () => starts.push(1) });
    const second = pool.run<Reply>({ id: 2 }, { queueBehind: true, onStart: () => starts.push(2) });
    // Posted at once (the worker holds it), started only after the first.
    expect(starts).toEqual([1]);
    const [a, b] = await Promise.all([first, second]);
    expect([a.id, b.id]).toEqual([1, 2]);
    expect(b.started).toBeGreaterThanOrEqual(a.started + 140);
    expect(starts).toEqual([1, 2]);
  });

  it("keeps a job that may not queue waiting for an idle worker, and the queueBehind jobs behind it too", async () => {
    const pool = poolOf(1);
    const order: number[] = [];
    const track = (p: Promise<Reply>) => p.then((r) => (order.push(r.id), r));
    const jobs = [
      track(pool.run<Reply>({ id: 1, ms: 100 })),
      track(pool.run<Reply>({ id: 2, ms: 0 })),
      track(pool.run<Reply>({ id: 3, ms: 0 }, { queueBehind: true })),
    ];
    await Promise.all(jobs);
    expect(order).toEqual([1, 2, 3]);
  });

  it("fails the running job of a worker that dies with WorkerCrash, the job waiting on it with JobNotStarted, and goes on", async () => {
    const pool = poolOf(1);
    const crashed = pool.run<Reply>({ id: 1, exit: 7 });
    const waiting = pool.run<Reply>({ id: 2 }, { queueBehind: true });
    await expect(crashed).rejects.toBeInstanceOf(WorkerCrash);
    await expect(crashed).rejects.toThrow(/exited with code 7/);
    await expect(waiting).rejects.toBeInstanceOf(JobNotStarted);
    // The replacement worker takes the next job.
    const next = await pool.run<Reply>({ id: 3 });
    expect(next.id).toBe(3);
  });

  it("drops a queued job that is no longer wanted when its turn comes, without posting it", async () => {
    const pool = poolOf(1);
    let wanted = true;
    const starts: number[] = [];
    const first = pool.run<Reply>({ id: 1, ms: 100 }).then((r) => ((wanted = false), r));
    const second = pool.run<Reply>({ id: 2 }, { wanted: () => wanted, onStart: () => starts.push(2) });
    await first;
    await expect(second).rejects.toBeInstanceOf(JobNotStarted);
    expect(starts).toEqual([]);
  });

  it("gives jobs to idle workers before queueing any behind a busy one", async () => {
    const pool = poolOf(2);
    const a = pool.run<Reply>({ id: 1, ms: 200 });
    const b = pool.run<Reply>({ id: 2, ms: 0 }, { queueBehind: true });
    const [ra, rb] = await Promise.all([a, b]);
    expect(rb.thread).not.toBe(ra.thread);
    expect(rb.started).toBeLessThan(ra.started + 150);
  });
});
