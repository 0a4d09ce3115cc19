/**
 * A tracked command's database side, start to end: open the databases, check migrations and models,
 * store the configuration and the run row, record the graph and every task, end the run as
 * success / failed / cancelled / emitted. `executeCommand` calls `startTracking` and uses what it returns.
 */
import { createHash, randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { EntityManager } from "@mikro-orm/core";
import type { CommandSpec } from "../../contract/manifest.js";
import type { OutflowConfig } from "../config/schema.js";
import { maskSecrets } from "../config/mask.js";
import type { RunObserver } from "../execute/run-graph.js";
import type { Graph } from "../graph/model.js";
import type { GraphPlan, TaskTable } from "../graph/plan.js";
import { getLogger } from "../logging/logger.js";
import { EMPTY_CATALOG, type DbCatalog } from "./catalog.js";
import { checkMigrations, checkModels } from "./check.js";
import { initialiseEmptySqlite } from "./fresh.js";
import type { RunState } from "./entities.js";
import { recordStore, type RecordStore } from "./record-store.js";
import { RunRecorder } from "./recorder.js";
import { DatabaseSession } from "./session.js";
import { DatabaseError, driverReason } from "./errors.js";

export interface TrackingInput {
  config: OutflowConfig;
  root: string;
  catalog: DbCatalog | undefined;
  command: CommandSpec;
  args: Record<string, unknown>;
  backend: string;
  graph: Graph;
  plan: GraphPlan;
  tasks: TaskTable;
  /** The id of the run this one completes (`--resubmit-failed`): stored as the run's `resubmission_of`. */
  resubmissionOf?: string;
  /** Another observer to notify too (tests, progress display). */
  observer?: RunObserver;
}

export interface Tracking {
  runId: string;
  observer: RunObserver;
  forkEm: () => EntityManager;
  db: (name: string) => EntityManager;
  session: DatabaseSession;
  /** Ends the run row (a cancelled run stays cancelled); `emitted`: slurm --emit-only wrote the job scripts. */
  finish(state: Exclude<RunState, "running">): Promise<void>;
  /** Records the cancellation at once: running tasks failed, the run cancelled. */
  cancel(signal: string): Promise<void>;
  /** Records at once a failure outside any task (an exception thrown by a callback of task code): running tasks failed with it, the run failed. */
  abandon(message: string): Promise<void>;
  close(): Promise<void>;
}

/** Canonical JSON (sorted keys): equal configurations hash equally. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) => (v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v));
}

export async function startTracking(input: TrackingInput): Promise<Tracking> {
  const catalog = input.catalog ?? EMPTY_CATALOG;
  const session = await DatabaseSession.open({ config: input.config, root: input.root, catalog, role: "user" });
  try {
    for (const db of session.databases.values()) {
      await initialiseEmptySqlite(db, catalog, input.config.plugins);
      await checkMigrations(db, catalog, input.config.plugins);
      await checkModels(db, catalog, input.config.plugins);
    }
    const store = await recordStore(session.records);
    const runId = randomUUID();
    const content = canonicalJson(maskSecrets(input.config));
    const configuration = await store.configuration(createHash("sha256").update(content).digest("hex"), content);
    const resubmissionOf = await earlierRun(store, input.resubmissionOf, runId, session.records.where);
    await store.insertRun({
      uuid: runId,
      command: input.command.path.join(" "),
      args: JSON.stringify(maskSecrets(input.args)),
      backend: input.backend,
      host: hostname(),
      start: new Date(),
      configuration,
      resubmissionOf,
    });
    const recorder = new RunRecorder(store, runId);
    await recorder.plan(input.graph, input.plan, input.tasks);
    getLogger("outflow.db").debug(`run ${runId} recorded in ${session.records.where}`);
    return tracking(session, store, recorder, input.observer);
  } catch (error) {
    await session.close();
    throw error;
  }
}

/** The run a resubmission completes, when the records hold it (else a warning, and no link). */
async function earlierRun(store: RecordStore, id: string | undefined, runId: string, where: string): Promise<string | null> {
  if (!id) return null;
  const log = getLogger("outflow.db");
  if (await store.hasRun(id)) {
    log.info(`run ${runId} is a resubmission of run ${id}`);
    return id;
  }
  log.warning(`the run this resubmission completes (${id}) is not in the run records (${where}); this run is recorded without resubmission_of`);
  return null;
}

function tracking(session: DatabaseSession, store: RecordStore, recorder: RunRecorder, extra: RunObserver | undefined): Tracking {
  let ended = false;
  // The run ends now, whatever its tasks still do: what is buffered is written, the rows still running are
  // failed with `message`, and later events of tasks still unwinding are not written.
  const stop = async (state: "cancelled" | "failed", message: string) => {
    if (ended) return;
    ended = true;
    recorder.stop();
    await recorder.flush().catch(recordsIncomplete(recorder.runId));
    const now = new Date();
    await store.failRunning(recorder.runId, now, message);
    await store.endRun(recorder.runId, state, now);
  };
  return {
    runId: recorder.runId,
    observer: extra ? tee(recorder, extra) : recorder,
    forkEm: session.forkEm,
    db: session.db,
    session,
    async finish(state) {
      if (ended) return;
      ended = true;
      let failure: unknown;
      await recorder.flush().catch((error) => (failure = error));
      if (!failure && state === "success") await store.skipPending(recorder.runId);
      await store.endRun(recorder.runId, failure ? "failed" : state, new Date());
      if (failure) throw failure;
    },
    cancel: (signal) => stop("cancelled", `run cancelled (${signal})`),
    abandon: (message) => stop("failed", message),
    close: () => session.close(),
  };
}

/**
 * A run that failed, was cancelled (or was emitted) ends with its own line and exit code even when its last
 * records could not be written; that they could not is said too, not dropped.
 */
export function recordsIncomplete(runId: string | undefined): (error: unknown) => void {
  return (error) => getLogger("outflow.db").warning(`${error instanceof DatabaseError ? error.message : driverReason(error)}; the records of run ${runId} are incomplete`);
}

/** Notifies two observers; each sees its own handles. */
function tee(a: RunObserver, b: RunObserver): RunObserver {
  type Pair = { a: unknown; b: unknown };
  return {
    async taskStarted(e) {
      const parent = e.parent as Pair | undefined;
      return { a: await a.taskStarted({ ...e, parent: parent?.a }), b: await b.taskStarted({ ...e, parent: parent?.b }) } satisfies Pair;
    },
    async taskFinished(handle: unknown, ...rest: unknown[]) {
      const h = handle as Pair;
      const finish = (o: RunObserver, x: unknown) => (o.taskFinished as (h: unknown, ...r: unknown[]) => unknown).call(o, x, ...rest);
      await finish(a, h.a);
      await finish(b, h.b);
    },
    async taskSkipped(e) {
      const parent = e.parent as Pair | undefined;
      await a.taskSkipped({ ...e, parent: parent?.a });
      await b.taskSkipped({ ...e, parent: parent?.b });
    },
  };
}
