import type { BundleInput } from "../main.js";
import { loadPipelineConfig } from "../pipeline.js";
import { registerTasks } from "../registry.js";
import { startShell } from "./shell.js";

/** `management shell`: loads the config, the pipeline's tasks and (when configured) its databases, then a REPL. */
export async function openShell(input: BundleInput, root: string, values: Record<string, unknown>): Promise<number> {
  const config = await loadPipelineConfig(input, (values.config as string | undefined) ?? process.env.OUTFLOW_CONFIG_PATH);
  const refs = registerTasks(await input.loadModules());
  const tasks = new Map([...refs].map(([id, ref]) => [ref.displayName, ref]));
  for (const [id, ref] of refs) tasks.set(id, ref);
  const { openWorkerDatabases } = await import("../db/worker.js");
  const databases = await openWorkerDatabases({ config, root, loadDb: input.loadDb });
  try {
    return await startShell({ config, tasks, em: databases.forkEm(), db: databases.db, root });
  } finally {
    await databases.close();
  }
}
