/**
 * One map on Slurm, driver side: write the map's files, submit ONE array (`--array=<tasks>%k`) of the
 * array tasks that have no result yet, watch it through the shared poller, read each task's results as it
 * finishes (replaying its task records), and report every failed element with its index, exit code or
 * signal and log path. A resubmission reuses the map directory and submits only the failed tasks.
 */
import { existsSync, readFileSync, renameSync, rmSync } from "node:fs";
import { basename, join } from "node:path";
import { RunCancelled, RunEmitted, SKIPPED_ELEMENT, elementIndices, placeText, type Execution, type MapJob } from "../../execute/run-graph.js";
import { outerForElements, recordFailedElement } from "../elements.js";
import type { Logger } from "../../logging/logger.js";
import { deserializeError, reasonOfSerialized, replayEvents, type SerializedError } from "../events.js";
import { ACTIVE_STATES, SlurmError, cpusOf, type SlurmCluster } from "./cluster.js";
import { ensureDir, readJson, readValue, writeAtomic, writeJson, writeValue } from "./files.js";
import { writeInputs } from "./inputs.js";
import { LAYOUT_VERSION, MapDir, compactRanges, jobName, mapDirName, parseExitStatus, taskRange, type ElementContext, type ExitStatus, type MapFile, type TaskResults } from "./layout.js";
import { arraySlots, autoElementsPerTask, type MapSubmission } from "./options.js";
import type { LostTask, Poller } from "./poller.js";
import { shellQuote } from "./quote.js";
import { renderScript } from "./script.js";
import { earlierResults } from "./kept.js";

export interface MapRunContext {
  cluster: SlurmCluster;
  poller: Poller;
  exec: Execution;
  log: Logger;
  /** The run directory and the id its job names carry. */
  runDir: string;
  runId: string;
  command: string[];
  root: string;
  cwd: string;
  node: string;
  bundle: string;
  /** The command is tracked (elements open the databases for `context.em`). */
  tracked: boolean;
  /** --log-level of the run, which array tasks log at too (else the config's level). */
  logLevel?: string;
  /** Reuse existing map directories, submitting only what has no result (--resubmit-failed). */
  resubmit: boolean;
  /** Write the scripts and stop before submitting (--emit-only). */
  emitOnly: boolean;
  submission: (job: MapJob) => MapSubmission;
  /** Job ids this driver submitted (a cancellation scancels them). */
  submitted: Set<string>;
  /** How often a map node ran in this run so far (a map inside a loop gets one directory per run). */
  occurrences: Map<string, number>;
}

/** `--emit-only`: the scripts are written, nothing is submitted, the run stops here (exit 0), `emitted`. */
export class EmitOnlyStop extends RunEmitted {
  constructor(readonly mapDir: string) {
    super("stopped after writing the Slurm job scripts (--emit-only)");
    this.name = "EmitOnlyStop";
  }
}

/** Some elements failed; each was already reported with its exit code and log. */
export class SlurmMapFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = "Error";
  }
}

interface ElementFailure {
  /** Element indices (several when a batched task died before writing results). */
  first: number;
  end: number;
  task: number;
  exit?: number;
  signal?: number;
  state?: string;
  arrayJobId?: string;
  message?: string;
  /** The task died before its elements' records came back: the driver writes their rows. */
  rowless?: true;
  /** When the task started, if its status file says. */
  at?: Date;
}

/** An element's failure as its array task reported it: `task Cell (loop iteration 2, map element 1): RangeError: …`. */
function elementReason(e: SerializedError): string {
  const path = (e.place?.length ?? 0) > 1 ? ` (${placeText(e.place!)})` : "";
  return `${e.task ? `task ${e.task}${path}: ` : ""}${reasonOfSerialized(e)}`;
}

/** How the array task of a failure ended, and where its log is: `exit code 3: …; log: …/logs/2.err`. */
function howItEnded(f: ElementFailure, dir: MapDir): string {
  return `${describeExit(f)}${f.message ? `: ${f.message}` : ""}; log: ${dir.err(f.task)}`;
}

function describeExit(f: ElementFailure): string {
  if (f.signal) return `killed by signal ${f.signal}${f.state ? ` (${f.state})` : ""}`;
  if (f.exit !== undefined && f.exit > 128 && f.exit < 160 && f.state === undefined) return `killed by signal ${f.exit - 128} (exit code ${f.exit})`;
  if (f.exit !== undefined) return `exit code ${f.exit}${f.state && f.state !== "FAILED" && f.state !== "COMPLETED" ? ` (${f.state})` : ""}`;
  return f.state ? `${f.state}, no status file` : "lost: Slurm no longer knows the task and it left no status file";
}

export async function runArrayMap(ctx: MapRunContext, job: MapJob): Promise<unknown[]> {
  const count = job.items.length;
  const options = job.node.map!.options;
  const label = `map(${options.outputName})`;
  // Options are checked even for an empty map: a bad one is an error whatever the data.
  const submission = ctx.submission(job);
  if (count === 0) return [];
  const elementPath = elementIndices(job.place);
  const key = mapDirName(job.path, elementPath);
  const seen = (ctx.occurrences.get(key) ?? 0) + 1;
  ctx.occurrences.set(key, seen);
  const dirName = seen === 1 ? key : `${key}~${seen}`;
  const dir = new MapDir(join(ctx.runDir, dirName));
  const name = jobName(ctx.runId, job.path, elementPath) + (seen === 1 ? "" : `~${seen}`);

  const outer = outerForElements(job);
  const existing = existsSync(dir.mapFile) ? readJson<MapFile>(dir.mapFile) : undefined;
  let map: MapFile;
  if (existing) {
    if (!ctx.resubmit) throw new SlurmError(`${dir.dir} already exists; use --resubmit-failed to complete that run`);
    if (existing.version !== LAYOUT_VERSION) throw new SlurmError(`${dir.mapFile} was written by another outflow version; start a new run`);
    const hash = writeInputs(job.items, outer, existing.perTask);
    if (existing.count !== count || hash !== existing.inputHash) {
      throw new SlurmError(`cannot resubmit ${label}: its elements differ from those of the first run (${existing.count} then, ${count} now); start a new run`);
    }
    map = existing;
  } else {
    const maxArray = Math.min(await ctx.cluster.maxArraySize(), submission.maxArraySize ?? Infinity);
    let wanted = submission.elementsPerTask;
    let slots: number | undefined;
    if (wanted === "auto") {
      const partitionCpus = cpusOf(await ctx.cluster.partitionCpus(), submission.partition);
      slots = arraySlots({ simultaneous: submission.simultaneous, partitionCpus, cpusPerTask: submission.cpusPerTask, maxArraySize: maxArray });
      wanted = autoElementsPerTask(count, slots);
      ctx.log.debug(`${label}: elementsPerTask "auto": ${slots} slots (${submission.simultaneous ? `%${submission.simultaneous}, ` : ""}${partitionCpus ?? "unknown"} CPUs / ${submission.cpusPerTask} per task, MaxArraySize ${maxArray}) → ${wanted} per array task`);
    }
    const perTask = Math.max(wanted, Math.ceil(count / maxArray));
    for (const d of dir.subdirs) ensureDir(d);
    const inputHash = writeInputs(job.items, outer, perTask, dir);
    map = { version: LAYOUT_VERSION, outputName: options.outputName, path: job.path, elementPath, count, perTask, ...(slots !== undefined ? { slots } : {}), tasks: Math.ceil(count / perTask), inputHash, jobName: name, arrays: [] };
  }
  // Args and config may change on a resubmission (the elements may not): always the current ones. Mode 600:
  // the config may hold credentials.
  const context: ElementContext = { version: LAYOUT_VERSION, root: ctx.root, cwd: ctx.cwd, command: ctx.command, args: ctx.exec.scope.args, config: ctx.exec.scope.config, run: ctx.exec.scope.run, path: job.path, place: job.place, outer, count, perTask: map.perTask, tracked: ctx.tracked, logLevel: ctx.logLevel };
  writeValue(dir.context, context, 0o600);

  // Which array tasks still need to run: no status file saying exit 0 with a results file beside it.
  const readExit = (task: number): ExitStatus | undefined => {
    try {
      return parseExitStatus(readFileSync(dir.exit(task), "utf8"));
    } catch {
      return undefined;
    }
  };
  const done: number[] = [];
  let todo: number[] = [];
  for (let t = 0; t < map.tasks; t++) (readExit(t)?.exit === 0 && existsSync(dir.result(t)) ? done : todo).push(t);
  let inFlight: number[] = [];
  if (existing && todo.length && !ctx.emitOnly) {
    // Tasks of an earlier submission still queued or running (the driver was killed, or they were submitted by hand): wait for them.
    const rows = await ctx.cluster.queue([map.jobName]).catch(() => []);
    const active = new Set(rows.filter((r) => r.task !== undefined && ACTIVE_STATES.has(r.state)).map((r) => r.task!));
    inFlight = todo.filter((t) => active.has(t));
    todo = todo.filter((t) => !active.has(t));
  }

  const results = new Array<unknown>(count);
  const failures: ElementFailure[] = [];
  // exitPipeline() in an element, collected before any failure: the run ends (successfully) once the array
  // tasks already running have finished; those not started are cancelled. As on threads, the first of an
  // exitPipeline() and a failure to come back decides; what comes after is recorded, not reported.
  let exited: unknown;
  // Array tasks that died after that: not reported, but what ran is recorded (see recordRowless).
  const afterExit: ElementFailure[] = [];
  let live = inFlight.length > 0;
  let stuck: string | undefined;
  const onElementExit = (index: number, error: SerializedError) => {
    exited = deserializeError(error);
    if (!live) {
      ctx.log.info(`${label}: element ${index} called exitPipeline() in an earlier attempt: nothing more is submitted`);
      return;
    }
    const ids = [...new Set(map.arrays.flatMap((a) => (a.jobId ? [a.jobId] : [])))];
    ctx.log.info(`${label}: element ${index} called exitPipeline(): the array tasks not started are cancelled, the running ones finish`);
    void ctx.cluster.cancelPending(ids).then((problem) => {
      if (problem) ctx.log.warning(`${label}: scancel --state=PENDING ${ids.join(" ")} failed: ${problem}`);
      ctx.poller.refresh();
    });
  };
  const collect = async (task: number, status: ExitStatus) => {
    const [first, end] = taskRange(task, map.perTask, count);
    let record: TaskResults | undefined;
    try {
      record = readValue<TaskResults>(dir.result(task));
    } catch {
      record = undefined;
    }
    if (!record) {
      // The task died before it wrote its results (exit, signal, TIMEOUT, out of memory). What it or an
      // earlier attempt kept (a packed task's journal) is recorded and counts; the rest failed, and gets
      // its rows once the failure is known (see reportFailures).
      const kept = keptResults(dir, task);
      if (kept) {
        for (const r of kept.results) if (r.ok) results[r.index] = r.skipped ? SKIPPED_ELEMENT : r.value;
        await replayEvents(ctx.exec.observer, kept.events, job.parentHandle);
      }
      for (const [a, b] of rerunRanges(dir, task, first, end)) (exited === undefined ? failures : afterExit).push({ first: a, end: b, task, exit: status.exit, message: status.exit === 0 ? "no results file" : undefined, rowless: true, at: status.start ? new Date(status.start * 1000) : undefined });
      return;
    }
    for (const r of record.results) {
      if (r.ok) results[r.index] = r.skipped ? SKIPPED_ELEMENT : r.value;
      else if (exited !== undefined) continue;
      else if (r.error.name !== "ExitPipeline") failures.push({ first: r.index, end: r.index + 1, task, exit: status.exit, message: elementReason(r.error) });
      // An exitPipeline() after a failure came back changes nothing (the failure decided).
      else if (!failures.length) onElementExit(r.index, r.error);
    }
    await replayEvents(ctx.exec.observer, record.events, job.parentHandle);
  };
  // What earlier attempts finished (a resubmission) is read first: an exitPipeline() among it ends the run
  // here, and nothing is submitted.
  for (const t of done) await collect(t, { exit: 0 });
  if (exited !== undefined) throw exited;

  if (todo.length) {
    for (const t of todo) {
      rmSync(dir.exit(t), { force: true });
      // A packed task keeps what its earlier attempt computed: it reruns only the elements without a
      // result. (When the earlier attempt left no results, an older set-aside file stays in place.)
      if (map.perTask > 1 && existsSync(dir.result(t))) renameSync(dir.result(t), dir.previous(t));
      else rmSync(dir.result(t), { force: true });
    }
    const n = map.arrays.length;
    const spec = `${compactRanges(todo)}${submission.simultaneous ? `%${submission.simultaneous}` : ""}`;
    const script = dir.script(n);
    const longSpec = spec.length > 900;
    const sbatchOptions = longSpec ? [`--array=${spec}`] : [];
    const elements = todo.length === map.tasks ? `${count} element${count > 1 ? "s" : ""}` : `${todo.length} of ${map.tasks} array tasks`;
    writeAtomic(
      script,
      renderScript({ jobName: map.jobName, array: spec, arrayOnCommandLine: longSpec, directives: submission.directives, mapDir: dir.dir, node: ctx.node, bundle: ctx.bundle, cwd: ctx.cwd, title: `${label} of ${ctx.command.join(" ")}, run ${ctx.runId}: ${elements}, ${map.perTask} per array task`, scriptName: basename(script) }),
      0o755,
    );
    const record = { script: basename(script), spec };
    if (ctx.emitOnly) {
      map.arrays.push(record);
      writeJson(dir.mapFile, map);
      process.stdout.write(
        `outflow: wrote the Slurm array of ${label} (${elements}, --array=${spec}) to ${dir.dir}\n` +
          `  submit:  cd ${shellQuote(dir.dir)} && sbatch ${sbatchOptions.map(shellQuote).join(" ")}${longSpec ? " " : ""}${basename(script)}\n` +
          `  collect: ${shellQuote(ctx.node)} ${shellQuote(ctx.bundle)} --resubmit-failed ${shellQuote(ctx.runDir)}\n` +
          `           (once the array has finished: reads the results, resubmits only elements without one, then runs the rest of the command)\n`,
      );
      throw new EmitOnlyStop(dir.dir);
    }
    if (ctx.exec.signal?.aborted) throw new RunCancelled();
    const jobId = await ctx.cluster.submit(basename(script), dir.dir, `the array of ${label} (${script})`, sbatchOptions);
    ctx.submitted.add(jobId);
    live = true;
    map.arrays.push({ ...record, jobId, submitted: new Date().toISOString() });
    writeJson(dir.mapFile, map);
    if (ctx.exec.signal?.aborted) {
      ctx.cluster.cancelNow([jobId]);
      throw new RunCancelled();
    }
    ctx.log.info(`${label}: submitted Slurm array ${jobId} (--array=${spec}, ${elements}${map.perTask > 1 ? `, ${map.perTask} per array task${map.slots ? ` for ${map.slots} slots` : ""}` : ""}); logs in ${join(dir.dir, "logs")}`);
  } else {
    writeJson(dir.mapFile, map);
  }

  await ctx.poller.watch({
    name: map.jobName,
    pending: new Set([...todo, ...inFlight]),
    exitFile: (t) => dir.exit(t),
    statusDir: dir.statusDir,
    mayBeStale: inFlight,
    onExit: (t, status) => collect(t, status),
    onStuck: (t: number, reason: string) => {
      // Said once per map: the array sits in the queue and nothing else would say why.
      if (stuck) return;
      stuck = reason;
      ctx.log.warning(`${label}: array task ${t} is pending with reason ${reason}: Slurm will not start it as submitted (more CPUs, memory or time than the partition allows, or nodes that do not exist?); check \`squeue -j ${map.arrays.at(-1)?.jobId ?? map.jobName}\`, then scancel and change the map's slurm options`);
    },
    onLost: (t: number, lost: LostTask) => {
      // Cancelled before it started, after an element's exitPipeline(): it never ran.
      if (exited !== undefined && lost.state === "CANCELLED") return;
      const [first, end] = taskRange(t, map.perTask, count);
      for (const [a, b] of rerunRanges(dir, t, first, end)) (exited === undefined ? failures : afterExit).push({ first: a, end: b, task: t, state: lost.state, arrayJobId: lost.arrayJobId, rowless: true });
    },
  });
  if (ctx.exec.signal?.aborted) throw new RunCancelled();
  if (exited !== undefined) {
    await recordRowless(ctx, job, dir, afterExit);
    throw exited;
  }
  if (failures.length) await reportFailures(ctx, job, dir, label, failures, count);
  return results;
}

/** Elements whose array task died left no records: the driver writes their rows, saying how it ended, as on the local backends. */
async function recordRowless(ctx: MapRunContext, job: MapJob, dir: MapDir, failures: ElementFailure[]): Promise<void> {
  for (const f of failures) {
    if (!f.rowless) continue;
    const error = new Error(`array task ${f.task} ended: ${howItEnded(f, dir)}`);
    error.stack = `Error: ${error.message}`;
    for (let i = f.first; i < f.end; i++) await recordFailedElement(ctx.exec, job, i, f.at ?? new Date(), error);
  }
}

/** What earlier attempts of a task that left no results kept (its journal, set-aside results); unreadable: nothing. */
function keptResults(dir: MapDir, task: number): ReturnType<typeof earlierResults> {
  try {
    return earlierResults(dir, task);
  } catch {
    return undefined;
  }
}

/**
 * The elements `[first, end)` of a task that left no results, as ranges, less those its earlier attempts
 * computed (set aside, or journalled before it was killed): they did not fail.
 */
function rerunRanges(dir: MapDir, task: number, first: number, end: number): [number, number][] {
  // Unreadable: every element counts as failed.
  const kept = new Set((keptResults(dir, task)?.results ?? []).map((r) => r.index));
  const ranges: [number, number][] = [];
  for (let i = first; i < end; i++) {
    if (kept.has(i)) continue;
    let j = i + 1;
    while (j < end && !kept.has(j)) j++;
    ranges.push([i, j]);
    i = j;
  }
  return ranges;
}

async function reportFailures(ctx: MapRunContext, job: MapJob, dir: MapDir, label: string, failures: ElementFailure[], total: number): Promise<never> {
  // Tasks that left no status file: ask Slurm once per array for their exit code (while it remembers them).
  const arrays = new Set(failures.filter((f) => f.exit === undefined && f.arrayJobId).map((f) => f.arrayJobId!));
  for (const id of arrays) {
    const rows = new Map((await ctx.cluster.showArray(id)).map((r) => [r.task, r]));
    for (const f of failures) {
      const row = f.arrayJobId === id ? rows.get(f.task) : undefined;
      if (row) Object.assign(f, { state: row.state, exit: row.exitCode, signal: row.signal || undefined });
    }
  }
  failures.sort((a, b) => a.first - b.first);
  let elements = 0;
  const lines = failures.map((f) => {
    elements += f.end - f.first;
    const which = f.end - f.first === 1 ? `element ${f.first}` : `elements ${f.first}-${f.end - 1}`;
    return `${label}: ${which} (array task ${f.task}) failed: ${howItEnded(f, dir)}`;
  });
  await recordRowless(ctx, job, dir, failures);
  writeAtomic(dir.failedList, lines.join("\n") + "\n");
  const shown = 20;
  for (const line of lines.slice(0, shown)) ctx.log.error(line);
  if (lines.length > shown) ctx.log.error(`${label}: ... and ${lines.length - shown} more (all listed in ${dir.failedList})`);
  ctx.log.error(`${label}: resubmit only the failed elements with: ${shellQuote(ctx.node)} ${shellQuote(ctx.bundle)} --resubmit-failed ${shellQuote(ctx.runDir)}`);
  throw new SlurmMapFailure(`${elements} of ${total} element${total > 1 ? "s" : ""} failed on Slurm (each with its exit and log in ${dir.failedList})`);
}
