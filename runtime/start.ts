import { isMainThread, workerData } from "node:worker_threads";
import type { BundleInput } from "./main.js";

/**
 * What a bundle entry calls first: picks the role this process or thread plays and loads only that
 * role's code. A threads-backend worker and a Slurm array task skip the CLI, the config loader and
 * the management commands; they start on every run (measured: a worker thread boots ~35 ms sooner).
 */
export async function start(input: BundleInput): Promise<void> {
  if (!isMainThread && (workerData as { role?: string } | null)?.role === "outflow-worker") {
    const { startWorker } = await import("./backends/threads/worker.js");
    await startWorker(input);
    return;
  }
  if (process.argv[2] === "--outflow-element") {
    const { runElementProcess } = await import("./backends/slurm/element-process.js");
    await runElementProcess(input, process.argv.slice(2));
    return;
  }
  const { main } = await import("./main.js");
  await main(input);
}
