/**
 * The slurm backend: every map becomes one Slurm array (`sbatch --array=0-(N-1)%k`) of the shipped bundle;
 * the rest of the graph runs in the driver (the process on the login node). Elements and results move
 * through the run directory on the shared filesystem; one poller watches every array with one squeue call
 * per cycle. SIGINT/SIGTERM (the run's abort signal) scancels the arrays.
 */
import { existsSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import type { CommandSpec } from "../../../contract/manifest.js";
import { RunCancelled, TaskFailure, type Execution, type MapJob } from "../../execute/run-graph.js";
import { getLogger } from "../../logging/logger.js";
import { ConfigError } from "../../config/errors.js";
import type { SlurmConfig } from "../../config/schema.js";
import type { Graph } from "../../graph/model.js";
import { siteText } from "../../graph/record-and-check.js";
import { SlurmCluster, SlurmError } from "./cluster.js";
import { ensureDir, writeJson } from "./files.js";
import { LAYOUT_VERSION, type RunFile } from "./layout.js";
import { EmitOnlyStop, runArrayMap, type MapRunContext } from "./map-array.js";
import { mapSubmission } from "./options.js";
import { Poller } from "./poller.js";
import { DirectiveError } from "./quote.js";
import { RESUBMIT_FLAG, generatedRunId, resubmittedRun, runsBase } from "./run-dir.js";

export { EmitOnlyStop } from "./map-array.js";
export { resubmittedRun } from "./run-dir.js";
export { SlurmError } from "./cluster.js";

export interface SlurmStartInput {
  exec: Execution;
  root: string;
  command: CommandSpec;
  /** `slurm` of the command definition (config < command < map). */
  commandSlurm?: Record<string, unknown>;
  /** Parsed command values (args + global options), stored in run.json for --resubmit-failed. */
  values: Record<string, unknown>;
  globals: Record<string, unknown>;
  bundle?: string;
}

export interface SlurmBackend {
  runMap(job: MapJob): Promise<unknown[]>;
  /** True when the run stopped because --emit-only wrote the scripts (exit 0). */
  stoppedAfterEmit(error: unknown): boolean;
  /** A Slurm error wrapped in a TaskFailure by the graph runner, unwrapped into its one line. */
  unwrap(error: unknown): unknown;
  close(): Promise<void>;
  readonly runDir: string;
}

/**
 * Before anything runs: Slurm must be there (unless only the scripts are wanted), and every map the
 * driver submits must have options sbatch can take (config `slurm` < the command's < the map's): a bad
 * one is said at the map, before any task has run.
 */
/** Where a map's sbatch options come from (config `slurm` < the command's < the map's), and the root its sites are relative to. */
interface OptionSources {
  config: SlurmConfig | undefined;
  commandSlurm: Record<string, unknown> | undefined;
  root: string;
}

export function slurmPreflight(globals: Record<string, unknown>, bundle: string | undefined, maps?: OptionSources & { graph: Graph }): void {
  if (!bundle) throw new SlurmError("--backend slurm needs a built bundle (run `outflow build`, then `node dist/<command>.js`)");
  if (maps) checkMapOptions(maps.graph, maps);
  if (!globals["emit-only"]) SlurmCluster.require();
}

/** The maps the driver submits: those of the command's graph and of its loop bodies (a map's own body runs inside its array tasks). */
function checkMapOptions(graph: Graph, maps: OptionSources): void {
  for (const node of graph.nodes) {
    if (node.loop) checkMapOptions(node.loop.body, maps);
    if (!node.map) continue;
    try {
      mapSubmission(maps.config, maps.commandSlurm, node.map.options);
    } catch (error) {
      if (!(error instanceof DirectiveError)) throw error;
      throw new ConfigError(`${siteText(maps.root, node.site)} - map(${node.map.options.outputName}): ${error.message}`);
    }
  }
}

export function startSlurmBackend(input: SlurmStartInput): SlurmBackend {
  const { exec, globals } = input;
  const config = exec.scope.config;
  const log = getLogger("outflow.slurm");
  const emitOnly = Boolean(globals["emit-only"]);
  slurmPreflight(globals, input.bundle);
  const resubmitted = resubmittedRun(globals, input.root);
  const runDir = resubmitted?.runDir ?? join(runsBase(input.root, globals["slurm-dir"] as string | undefined), exec.scope.run.id ?? generatedRunId());
  const runId = resubmitted?.id ?? basename(runDir);
  const dbConfig = config.databases?.default;
  if (input.command.db && dbConfig?.dialect === "sqlite") {
    log.warning(`the run's database is SQLite (${dbConfig.path}): fine on one node, not across Slurm nodes; use PostgreSQL for a multi-node cluster`);
  }

  const cluster = new SlurmCluster();
  const poller = new Poller(cluster);
  const ctx: MapRunContext = {
    cluster,
    poller,
    exec,
    log,
    runDir,
    runId,
    command: input.command.path,
    root: input.root,
    cwd: process.cwd(),
    node: process.execPath,
    bundle: input.bundle!,
    tracked: input.command.db,
    logLevel: input.globals["log-level"] as string | undefined,
    resubmit: Boolean(resubmitted),
    emitOnly,
    submission: (job) => mapSubmission(config.slurm, input.commandSlurm, job.node.map!.options),
    submitted: new Set(),
    occurrences: new Map(),
  };

  let runFileWritten = false;
  const ensureRunFile = () => {
    if (runFileWritten) return;
    runFileWritten = true;
    ensureDir(runDir, 0o755);
    if (existsSync(join(runDir, "run.json"))) return;
    const values = Object.fromEntries(Object.entries(input.values).filter(([k]) => k !== RESUBMIT_FLAG && k !== "emit-only"));
    const file: RunFile = { version: LAYOUT_VERSION, id: runId, command: input.command.path, values, bundle: input.bundle!, created: new Date().toISOString() };
    writeJson(join(runDir, "run.json"), file);
  };

  let cancelled = false;
  const onAbort = () => {
    if (cancelled) return;
    cancelled = true;
    const ids = [...new Set([...ctx.submitted, ...poller.arrayJobIds()])];
    if (ids.length) {
      const problem = cluster.cancelNow(ids);
      process.stderr.write(problem ? `outflow: scancel ${ids.join(" ")} failed: ${problem}\n` : `outflow: cancelled Slurm array${ids.length > 1 ? "s" : ""} ${ids.join(", ")}\n`);
    }
    poller.stop(new RunCancelled());
  };
  exec.signal?.addEventListener("abort", onAbort);

  async function runMap(job: MapJob): Promise<unknown[]> {
    ensureRunFile();
    try {
      return await runArrayMap(ctx, job);
    } catch (error) {
      if (error instanceof DirectiveError) throw new SlurmError(`map(${job.node.map!.options.outputName}): ${error.message}`);
      throw error;
    }
  }

  return {
    runMap,
    runDir,
    stoppedAfterEmit: (error) => error instanceof EmitOnlyStop || (error instanceof TaskFailure && error.cause instanceof EmitOnlyStop),
    unwrap: (error) => (error instanceof TaskFailure && error.cause instanceof SlurmError ? error.cause : error),
    async close() {
      exec.signal?.removeEventListener("abort", onAbort);
      if (!cancelled) poller.stop(new RunCancelled());
      const statsFile = process.env.OUTFLOW_SLURM_STATS;
      if (statsFile) writeFileSync(statsFile, JSON.stringify({ calls: cluster.calls, poll: poller.stats, submitted: [...ctx.submitted], runDir }, null, 2) + "\n");
    },
  };
}
