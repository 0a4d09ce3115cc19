// The leanest raw program for the 1e6-number map's memory: the same input array (1e6 small integers),
// batches packed into Float64Arrays whose buffers go to the workers and back (transferred, reused), the
// results written into one array as small integers. What peak RSS growth a hand-written program reaches.
// `node bench/rss-floor.mjs [n]` prints {"n": …, "ok": true}.
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";

if (!isMainThread && workerData?.role === "rss-floor") {
  parentPort.on("message", (batch) => {
    for (let i = 0; i < batch.length; i++) batch[i] = batch[i] * 2;
    parentPort.postMessage(batch, [batch.buffer]);
  });
} else if (isMainThread) {
  const n = Number(process.argv[2] ?? 1000000);
  const size = availableParallelism();
  const workers = Array.from({ length: size }, () => new Worker(fileURLToPath(import.meta.url), { workerData: { role: "rss-floor" } }));
  const items = Array.from({ length: n }, (_, i) => i);
  const batch = Math.max(1, Math.min(1024, Math.ceil(n / (size * 8))));
  const out = new Array(n);
  let next = 0;
  await Promise.all(
    workers.map(async (w) => {
      let buffer = new Float64Array(batch);
      while (next < n) {
        const start = next;
        const count = Math.min(batch, n - start);
        next += count;
        const view = buffer.subarray(0, count);
        for (let i = 0; i < count; i++) view[i] = items[start + i];
        const back = await new Promise((r) => {
          w.once("message", r);
          w.postMessage(view, [view.buffer]);
        });
        for (let i = 0; i < back.length; i++) out[start + i] = back[i] === (back[i] | 0) ? back[i] | 0 : back[i];
        buffer = new Float64Array(back.buffer);
      }
    }),
  );
  await Promise.all(workers.map((w) => w.terminate()));
  process.stdout.write(JSON.stringify({ n, ok: out[n - 1] === (n - 1) * 2 }) + "\n");
}
