/**
 * Database sessions for code that runs tasks outside the main thread (threads-backend workers, Slurm
 * array elements): the same databases as the run, opened as the user role, without the run-start
 * checks (the main process made them) and without run records (the main process writes those).
 *
 *   const databases = init.db ? await openWorkerDatabases({ config, root, loadDb: input.loadDb }) : undefined;
 *   scope = { ...base, db: databases?.db };   // per task / map element: em: databases?.forkEm()
 */
import type { EntityManager } from "@mikro-orm/core";
import type { OutflowConfig } from "../config/schema.js";
import { EMPTY_CATALOG, type DbCatalog } from "./catalog.js";
import { DatabaseSession } from "./session.js";

export interface WorkerDatabases {
  forkEm: () => EntityManager;
  db: (name: string) => EntityManager;
  close(): Promise<void>;
}

export async function openWorkerDatabases(opts: { config: OutflowConfig; root: string; loadDb?: () => Promise<unknown> }): Promise<WorkerDatabases> {
  const catalog = ((await opts.loadDb?.()) as DbCatalog | undefined) ?? EMPTY_CATALOG;
  const session = await DatabaseSession.open({ config: opts.config, root: opts.root, catalog, role: "user" });
  return { forkEm: session.forkEm, db: session.db, close: () => session.close() };
}
