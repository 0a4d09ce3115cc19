// The raw floor of the CPU-bound map: N elements that spin ~0.5 s each, on a pool of workers started from
// this file (one element per message), against the same elements one after the other in this thread.
// `node bench/cpu-floor.mjs [n] [threads|sequential]` prints {"ms": …}.
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";

function spin(item) {
  const end = performance.now() + 500;
  let x = item;
  while (performance.now() < end) x = (x * 1103515245 + 12345) % 2147483648;
  return x;
}

if (!isMainThread && workerData?.role === "cpu-floor") {
  parentPort.on("message", (item) => parentPort.postMessage(spin(item)));
} else if (isMainThread) {
  const n = Number(process.argv[2] ?? 8);
  const mode = process.argv[3] ?? "threads";
  const t0 = performance.now();
  const items = Array.from({ length: n }, (_, i) => i);
  if (mode === "sequential") {
    items.map(spin);
  } else {
    const workers = Array.from({ length: availableParallelism() }, () => new Worker(fileURLToPath(import.meta.url), { workerData: { role: "cpu-floor" } }));
    let next = 0;
    await Promise.all(workers.map(async (w) => {
      while (next < n) {
        const item = items[next++];
        await new Promise((r) => { w.once("message", r); w.postMessage(item); });
      }
    }));
    await Promise.all(workers.map((w) => w.terminate()));
  }
  process.stdout.write(JSON.stringify({ n, mode, ms: performance.now() - t0 }) + "\n");
}
