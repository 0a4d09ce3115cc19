// The raw worker-dispatch floor: 2 workers from this same file, items sent in batches of 1024, x*2 each.
// What the threads backend's map overhead is compared with.
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";

if (!isMainThread && workerData?.role === "floor") {
  parentPort.on("message", (batch) => parentPort.postMessage(batch.map((x) => x * 2)));
} else if (isMainThread) {
  const n = Number(process.argv[2] ?? 100000);
  const size = availableParallelism();
  const t0 = performance.now();
  const workers = Array.from({ length: size }, () => new Worker(fileURLToPath(import.meta.url), { workerData: { role: "floor" } }));
  const items = Array.from({ length: n }, (_, i) => i);
  const batch = Math.max(1, Math.min(1024, Math.ceil(n / (size * 8))));
  const out = new Array(n);
  let next = 0;
  await Promise.all(
    workers.map(async (w) => {
      while (next < n) {
        const start = next;
        next += batch;
        const slice = items.slice(start, start + batch);
        const res = await new Promise((r) => {
          w.once("message", r);
          w.postMessage(slice);
        });
        for (let i = 0; i < res.length; i++) out[start + i] = res[i];
      }
    }),
  );
  await Promise.all(workers.map((w) => w.terminate()));
  process.stdout.write(JSON.stringify({ n, ms: performance.now() - t0, ok: out[n - 1] === (n - 1) * 2 }) + "\n");
}
