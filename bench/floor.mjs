// The raw worker-dispatch floors: 2 workers from this same file, items sent in batches of 1024, x*2 each.
// `node bench/floor.mjs [n] [clone|packed]` prints {"n", "ms", "ok"}.
// - clone (default): each batch a slice of the input array, cloned to the worker and back. What the
//   threads backend's map time is compared with.
// - packed: the leanest program for memory: batches packed into Float64Arrays whose buffers go to the
//   workers and back (transferred, reused), results written into one array as small integers. What the
//   1e6 map's peak RSS growth is compared with.
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";

if (!isMainThread && workerData?.role === "floor") {
  parentPort.on("message", (batch) => {
    if (!ArrayBuffer.isView(batch)) return parentPort.postMessage(batch.map((x) => x * 2));
    for (let i = 0; i < batch.length; i++) batch[i] = batch[i] * 2;
    parentPort.postMessage(batch, [batch.buffer]);
  });
} else if (isMainThread) {
  const n = Number(process.argv[2] ?? 100000);
  const packed = process.argv[3] === "packed";
  const size = availableParallelism();
  const t0 = performance.now();
  const workers = Array.from({ length: size }, () => new Worker(fileURLToPath(import.meta.url), { workerData: { role: "floor" } }));
  const items = Array.from({ length: n }, (_, i) => i);
  const batch = Math.max(1, Math.min(1024, Math.ceil(n / (size * 8))));
  const out = new Array(n);
  let next = 0;
  const send = (w, message, transfer) =>
    new Promise((r) => {
      w.once("message", r);
      w.postMessage(message, transfer);
    });
  await Promise.all(
    workers.map(async (w) => {
      let buffer = new Float64Array(batch);
      while (next < n) {
        const start = next;
        const count = Math.min(batch, n - start);
        next += count;
        if (!packed) {
          const res = await send(w, items.slice(start, start + count));
          for (let i = 0; i < res.length; i++) out[start + i] = res[i];
          continue;
        }
        const view = buffer.subarray(0, count);
        for (let i = 0; i < count; i++) view[i] = items[start + i];
        const back = await send(w, view, [view.buffer]);
        for (let i = 0; i < back.length; i++) out[start + i] = back[i] === (back[i] | 0) ? back[i] | 0 : back[i];
        buffer = new Float64Array(back.buffer);
      }
    }),
  );
  await Promise.all(workers.map((w) => w.terminate()));
  process.stdout.write(JSON.stringify({ n, ms: performance.now() - t0, ok: out[n - 1] === (n - 1) * 2 }) + "\n");
}
