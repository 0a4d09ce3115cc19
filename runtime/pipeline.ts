import { resolve } from "node:path";
import type { CommandSpec, Manifest } from "../contract/manifest.js";
import { UsageError, globalOptions } from "./cli/args.js";
import { loadConfig } from "./config/load.js";
import type { OutflowConfig } from "./config/schema.js";
import { configureLogging, getLogger } from "./logging/logger.js";
import { isExitPipeline } from "./execute/control-nodes.js";
import { NO_REASON } from "./api/control.js";
import { findCommands, flattenCommands, type ModuleTable } from "./registry.js";
import type { GraphPlan } from "./graph/plan.js";
import type { Graph } from "./graph/model.js";
import { runGraph, terminalOutputs, silentObserver, RunCancelled, type Execution, type RunObserver } from "./execute/run-graph.js";
import type { Validators } from "./execute/validate.js";
import { startThreadsBackend, type ThreadsBackend } from "./backends/threads/index.js";
import { workerCount } from "./backends/threads/worker-count.js";
import { guardProcessExit } from "./execute/exit-guard.js";
import { ReportedError } from "./report.js";
import { recordAndCheck, siteText } from "./graph/record-and-check.js";
import { interactiveInsideMap } from "./graph/interactive-in-map.js";
import { GraphError } from "./graph/recorder.js";
import { recordsIncomplete, type Tracking } from "./db/tracking.js";

/** How a bundle (or the testing helpers) hands the runtime the user's code, lazily. */
export interface PipelineLoaders {
  loadModules(): Promise<ModuleTable>;
  loadValidators(): Promise<Validators>;
  /** The default export of `outflow.config.ts` (undefined when the pipeline has none). */
  loadConfig(): Promise<unknown>;
  /** `generated/db.ts`: every plugin's models and migrations (absent: no models, no migrations). */
  loadDb?(): Promise<unknown>;
}

export interface PipelineRun extends PipelineLoaders {
  manifest: Manifest;
  root: string;
  command: CommandSpec;
  /** Parsed CLI values: the command's args plus the global options. */
  values: Record<string, unknown>;
  /** The bundle file, which the threads backend starts its workers from. */
  bundleFile?: string;
  /** The run is what this process is for (a bundle's CLI): an exception nobody catches fails the run, recorded. */
  ownsProcess?: boolean;
}

export interface RunOutcome {
  code: number;
  /** Outputs of the terminal tasks, merged. */
  result: Record<string, unknown>;
  runId: string | null;
}

export async function loadPipelineConfig(run: Pick<PipelineRun, "manifest" | "loadConfig">, file: string | undefined): Promise<OutflowConfig> {
  const base = await run.loadConfig();
  return loadConfig({ base, baseName: run.manifest.configModule ?? "outflow.config.ts", file, env: process.env, cwd: process.cwd() }).config;
}

function splitValues(values: Record<string, unknown>, command: CommandSpec) {
  const args: Record<string, unknown> = {};
  const globals: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(values)) (k in command.args ? args : k in globalOptions ? globals : args)[k] = v;
  return { args, globals };
}

/** Runs one pipeline command end to end: config, logging, graph check, (records), tasks. */
export async function executeCommand(run: PipelineRun, observer: RunObserver = silentObserver): Promise<RunOutcome> {
  const { args, globals } = splitValues(run.values, run.command);
  const config = await loadPipelineConfig(run, (globals.config as string | undefined) ?? process.env.OUTFLOW_CONFIG_PATH);
  configureLogging({
    level: (globals["log-level"] as string | undefined) ?? config.logging.level,
    plugins: config.logging.plugins,
    file: config.logging.file ? resolve(run.root, config.logging.file) : undefined,
    root: run.root,
  });
  const backend = (globals.backend as string | undefined) ?? run.command.backend ?? config.backend;
  // threads: the workers start now, loading the pipeline while this thread checks the graph and opens the databases.
  const workers = workerCount(backend, globals.workers as number | undefined, config.threads?.workers);
  const threads = workers !== undefined ? startThreads(run, workers, globals, args, config) : undefined;
  try {
    return await executeOn(run, observer, { args, globals, config, backend, threads });
  } finally {
    await threads?.close();
  }
}

async function executeOn(run: PipelineRun, observer: RunObserver, on: { args: Record<string, unknown>; globals: Record<string, unknown>; config: OutflowConfig; backend: string; threads?: ThreadsBackend }): Promise<RunOutcome> {
  const { args, globals, config, backend } = on;
  const modules = await run.loadModules();
  const { graph, plan } = recordAndCheck(run, modules, args);
  const validators = await run.loadValidators();
  const controller = new AbortController();
  // slurm backend: fail before anything runs (or is recorded) when Slurm is missing.
  for (const flag of ["emit-only", "resubmit-failed"]) if (globals[flag] && backend !== "slurm") throw new UsageError(`--${flag} only applies to --backend slurm (the backend is ${backend})`);
  const cornered = backend === "sequential" ? undefined : interactiveInsideMap(graph);
  if (cornered) {
    throw new GraphError(`${siteText(run.root, cornered.node.site)} - interactive() inside map(${cornered.map.map!.options.outputName}) cannot run on --backend ${backend}: the map's elements run in ${backend === "slurm" ? "Slurm array tasks" : "worker threads"}, which have no terminal; run this command with --backend sequential`, cornered.node.site);
  }
  const slurmModule = backend === "slurm" ? await import("./backends/slurm/index.js") : undefined;
  slurmModule?.slurmPreflight(globals, run.bundleFile, { graph, config: config.slurm, commandSlurm: commandSlurmOf(run, modules), root: run.root });
  // --resubmit-failed: the new run row links to the run it completes.
  const resubmissionOf = slurmModule?.resubmittedRun(globals, run.root)?.id;
  // Ctrl-C is handled from here on: a signal while the databases open (migrations of a fresh file, the
  // run row being written) lets that finish, then records the run cancelled; it never leaves it `running`.
  const { handleInterrupts } = await import("./db/interrupt.js");
  let tracking: Promise<Tracking> | undefined;
  let records: Tracking | undefined;
  const recordsNow = async () => records ?? (await tracking?.catch(() => undefined));
  const stopHandling = handleInterrupts(controller, {
    onCancel: async (signal) => (await recordsNow())?.cancel(signal),
    // A bundle's process only: in a test runner's worker, its own handlers report such errors.
    onCrash: run.ownsProcess ? async (error) => (await recordsNow())?.abandon(error.message) : undefined,
  });
  try {
    // Tracked commands (the default): open the databases, check migrations, record the run and its tasks.
    if (run.command.db) {
      const [{ startTracking }, catalog] = await Promise.all([import("./db/tracking.js"), run.loadDb?.()]);
      if (controller.signal.aborted) throw abortError(controller);
      tracking = startTracking({ config, root: run.root, catalog: catalog as never, command: run.command, args, backend, graph, plan, tasks: run.manifest.tasks, resubmissionOf, observer: observer === silentObserver ? undefined : observer });
      records = await tracking;
    }
    try {
      return await runTracked(run, observer, on, { graph, plan, modules, validators, controller, records });
    } finally {
      await records?.close();
    }
  } finally {
    stopHandling();
  }
}

async function runTracked(
  run: PipelineRun,
  observer: RunObserver,
  on: { args: Record<string, unknown>; globals: Record<string, unknown>; config: OutflowConfig; backend: string; threads?: ThreadsBackend },
  state: { graph: Graph; plan: GraphPlan; modules: ModuleTable; validators: Validators; controller: AbortController; records?: Tracking },
): Promise<RunOutcome> {
  const { args, globals, config, backend, threads } = on;
  const { graph, plan, modules, validators, controller, records } = state;
  const exec: Execution = {
    tasks: run.manifest.tasks,
    validators,
    observer: records?.observer ?? observer,
    scope: { args, config, run: { id: records?.runId ?? null, command: run.command.path, backend, root: run.root }, db: records?.db },
    forkEm: records?.forkEm,
    signal: controller.signal,
  };
  if (threads) useThreads(threads, exec);
  const slurm = backend === "slurm" ? startSlurm(await import("./backends/slurm/index.js"), run, exec, globals, modules) : undefined;
  const unguardExit = guardProcessExit();
  // Aborted by a signal (cancelled), or by an exception outside any task (failed: see handleInterrupts).
  const aborted = () => ({ state: isCrash(controller) ? ("failed" as const) : ("cancelled" as const), error: abortError(controller) });
  try {
    if (controller.signal.aborted) throw aborted().error;
    const outputs = await runGraph(exec, graph, plan, { outer: {}, parentHandle: undefined, place: [] });
    await records?.finish(controller.signal.aborted ? aborted().state : "success");
    if (controller.signal.aborted) throw aborted().error;
    return { code: 0, result: terminalOutputs(outputs, plan), runId: records?.runId ?? null };
  } catch (error) {
    if (isExitPipeline(error) && !controller.signal.aborted) {
      const reason = (error as Error).message;
      getLogger("outflow.runtime").info(reason === NO_REASON ? "exitPipeline() was called; the run ends here" : `exitPipeline(): ${reason}; the run ends here`);
      await records?.finish("success");
      return { code: 0, result: {}, runId: records?.runId ?? null };
    }
    if (slurm?.stoppedAfterEmit(error) && !controller.signal.aborted) {
      // slurm --emit-only: the job scripts are written; the run stops there, `emitted` (collected by --resubmit-failed).
      await records?.finish("emitted").catch(recordsIncomplete(records?.runId));
      if (records) getLogger("outflow.runtime").info(`run ${records.runId} is emitted: its Slurm arrays wait to be submitted by hand`);
      return { code: 0, result: {}, runId: records?.runId ?? null };
    }
    await records?.finish(controller.signal.aborted ? aborted().state : "failed").catch(recordsIncomplete(records?.runId));
    const thrown = controller.signal.aborted ? aborted().error : (slurm?.unwrap(error) ?? error);
    if (records && typeof thrown === "object" && thrown !== null) failedRuns.set(thrown, records.runId);
    throw thrown;
  } finally {
    unguardExit();
    await slurm?.close();
  }
}

/** The recorded run a failure ended (outflow/testing reports it with the exit code). */
const failedRuns = new WeakMap<object, string>();

/** The id of the recorded run that `error` ended, if it ended one. */
export function failedRunId(error: unknown): string | null {
  return (typeof error === "object" && error !== null && failedRuns.get(error)) || null;
}

/** The run was aborted by an exception outside any task (see handleInterrupts), not by a signal. */
function isCrash(controller: AbortController): boolean {
  const reason: unknown = controller.signal.reason;
  return reason instanceof Error && reason.name === "OutsideTaskError";
}

/** What an aborted run ends with: cancelled (exit 130), or failed by a crash the handler has already said (exit 1). */
function abortError(controller: AbortController): Error {
  return isCrash(controller) ? new ReportedError(1) : new RunCancelled();
}

function startThreads(run: PipelineRun, workers: number, globals: Record<string, unknown>, args: Record<string, unknown>, config: OutflowConfig): ThreadsBackend {
  if (!run.bundleFile) throw new Error("--backend threads needs a built bundle (run `outflow build`, then `node dist/<command>.js`)");
  return startThreadsBackend({
    bundleFile: run.bundleFile,
    workers,
    init: { role: "outflow-worker", command: run.command.path, args, config, root: run.root, db: run.command.db, logLevel: globals["log-level"] as string | undefined },
  });
}

function useThreads(threads: ThreadsBackend, exec: Execution): void {
  threads.attach(exec);
  exec.parallel = true;
  exec.runMap = threads.runMap;
  exec.invokeTask = (spec, values) => threads.invokeTask(spec, values);
}

/** The `slurm: {...}` of the command's definition. */
function commandSlurmOf(run: PipelineRun, modules: ModuleTable): Record<string, unknown> | undefined {
  return flattenCommands(findCommands(modules)).find((c) => c.source === run.command.source)?.ref.definition.slurm;
}

/** The slurm backend: maps become Slurm arrays; everything else runs here (tasks overlap as in threads). */
function startSlurm(slurmModule: typeof import("./backends/slurm/index.js"), run: PipelineRun, exec: Execution, globals: Record<string, unknown>, modules: ModuleTable) {
  const slurm = slurmModule.startSlurmBackend({ exec, root: run.root, command: run.command, commandSlurm: commandSlurmOf(run, modules), values: run.values, globals, bundle: run.bundleFile });
  exec.parallel = true;
  exec.runMap = slurm.runMap;
  return slurm;
}

export async function runPipelineCommand(run: PipelineRun): Promise<number> {
  return (await executeCommand(run)).code;
}
