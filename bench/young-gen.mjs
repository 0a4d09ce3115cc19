// What a small young generation costs a task that allocates: `node [flags] bench/young-gen.mjs <kind>`
// runs one worker thread doing the work of <kind> and prints {"kind", "ms"} (the worker's own timer).
// - arrays: arrays of 1000 numbers kept for a while (a window of the last 200), as a reduction that
//   buffers rows does;
// - strings: a map of 50k strings rebuilt over and over, as a task that indexes records does.
// Run with and without `--max-semi-space-size=2` (the README's memory tip) to see the trade-off.
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";
import { fileURLToPath } from "node:url";

if (!isMainThread) {
  const t0 = performance.now();
  let acc = 0;
  if (workerData.kind === "arrays") {
    const window = [];
    for (let i = 0; i < 2e5; i++) {
      const row = new Array(1000);
      for (let j = 0; j < 1000; j++) row[j] = j * 0.5;
      window.push(row);
      if (window.length > 200) window.shift();
      acc += row[999];
    }
  } else {
    const index = new Map();
    for (let i = 0; i < 3e6; i++) {
      const s = "k" + (i % 50000) + ":" + i;
      index.set(i % 50000, s);
      acc += s.length;
    }
  }
  parentPort.postMessage({ ms: performance.now() - t0, acc });
} else {
  const kind = process.argv[2] ?? "arrays";
  const { ms } = await new Promise((resolve) => new Worker(fileURLToPath(import.meta.url), { workerData: { kind } }).once("message", resolve));
  process.stdout.write(JSON.stringify({ kind, ms }) + "\n");
}
