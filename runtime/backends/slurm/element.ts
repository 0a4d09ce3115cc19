/**
 * One Slurm array task: `node dist/<command>.js --outflow-element <map dir> [--outflow-task <n>]` (the task
 * number defaults to $SLURM_ARRAY_TASK_ID). Reads the run's context and its elements from the map
 * directory, runs them in this process, writes `results/<n>.bin` atomically and exits 0 when every element
 * succeeded (or one called exitPipeline(), after which a packed task runs no other), 1 otherwise. The
 * generated script then writes `status/<n>.exit`. A packed task journals each
 * element's result as it comes (`results/<n>.journal`); a resubmitted one finds its earlier attempts'
 * results (set aside as `results/<n>.prev.bin`, or in the journal of a killed attempt): it runs only the
 * elements without a successful result there and writes the merged results (see kept.ts).
 */
import { rmSync } from "node:fs";
import { hostname } from "node:os";
import { resolve } from "node:path";
import { serialize } from "node:v8";
import type { Manifest } from "../../../contract/manifest.js";
import { configureLogging } from "../../logging/logger.js";
import type { PipelineLoaders } from "../../pipeline.js";
import type { DatabaseSession } from "../../db/session.js";
import type { DbCatalog } from "../../db/catalog.js";
import { ElementHost } from "../elements.js";
import { cloneError, failUnsendable, reasonOfSerialized, type ElementOutcome, type RecordedEvent, type SerializedError } from "../events.js";
import { Journal, readValue, writeValue } from "./files.js";
import { foldJournal, mergeEvents, type JournalEntry } from "./kept.js";
import { LAYOUT_VERSION, MapDir, compactRanges, type ElementContext, type TaskInput, type TaskResults } from "./layout.js";

export const ELEMENT_FLAG = "--outflow-element";
const RESULT_NOT_WRITTEN = "a result cannot be written for the driver";
export const TASK_FLAG = "--outflow-task";

function flag(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  if (i >= 0) return argv[i + 1];
  return argv.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1);
}

export async function runArrayTask(input: PipelineLoaders & { manifest: Manifest }, argv: string[]): Promise<number> {
  const dirArg = flag(argv, ELEMENT_FLAG);
  const taskArg = flag(argv, TASK_FLAG) ?? process.env.SLURM_ARRAY_TASK_ID;
  if (!dirArg || taskArg === undefined || !/^\d+$/.test(taskArg)) {
    process.stderr.write(`error: ${ELEMENT_FLAG} <map dir> needs the array task number (${TASK_FLAG} <n> or $SLURM_ARRAY_TASK_ID)\n`);
    return 2;
  }
  const dir = new MapDir(resolve(dirArg));
  const task = Number(taskArg);
  const ctx = readValue<ElementContext>(dir.context);
  if (ctx.version !== LAYOUT_VERSION) throw new Error(`${dir.context} was written by another outflow version (layout ${ctx.version}, expected ${LAYOUT_VERSION})`);
  configureLogging({ level: ctx.logLevel ?? ctx.config.logging.level, plugins: ctx.config.logging.plugins, root: ctx.root } as never);
  const taskInput = readValue<TaskInput>(dir.input(task));
  // A tracked command's tasks may use context.em: open the databases here, as the driver does.
  let session: DatabaseSession | undefined;
  if (ctx.tracked && input.loadDb) {
    const [{ DatabaseSession }, { EMPTY_CATALOG }] = await Promise.all([import("../../db/session.js"), import("../../db/catalog.js")]);
    session = await DatabaseSession.open({ config: ctx.config, root: ctx.root, catalog: ((await input.loadDb()) as DbCatalog | undefined) ?? EMPTY_CATALOG, role: "user" });
  }
  try {
    return await runTask(input, dir, task, ctx, taskInput, session);
  } finally {
    await session?.close();
  }
}

async function runTask(input: PipelineLoaders & { manifest: Manifest }, dir: MapDir, task: number, ctx: ElementContext, taskInput: TaskInput, session: DatabaseSession | undefined): Promise<number> {
  const host = new ElementHost({
    forkEm: session?.forkEm,
    db: session?.db,
    manifest: input.manifest,
    modules: await input.loadModules(),
    validators: await input.loadValidators(),
    command: ctx.command,
    args: ctx.args,
    config: ctx.config,
    run: ctx.run,
  });
  const start = Date.now();
  // A resubmitted packed task: the elements its earlier attempts computed (set aside by the driver, or in
  // the journal of an attempt that was killed) are kept, not rerun.
  const earlier = foldJournal(dir, task);
  const kept = earlier?.results ?? [];
  const keep = new Set(kept.map((r) => r.index));
  if (keep.size) {
    const rest: number[] = [];
    for (let k = 0; k < taskInput.values.length; k++) if (!keep.has(taskInput.first + k)) rest.push(taskInput.first + k);
    const line = `outflow: array task ${task}: element${keep.size > 1 ? "s" : ""} ${compactRanges([...keep].sort((a, b) => a - b))} kept from the earlier attempt; running ${rest.length ? compactRanges(rest) : "none"}\n`;
    process.stdout.write(line);
    process.stderr.write(line);
  }
  // A packed task (several elements) marks in both logs where each element begins, so its lines stay
  // attributable, and journals each success as it comes: killed half-way, it keeps what it computed.
  const packed = taskInput.values.length > 1;
  const journal = packed ? new Journal(dir.journal(task)) : undefined;
  // exitPipeline() in an element ends the run (the driver stops the map): a packed task runs no further element.
  let exited = false;
  function* items() {
    for (let k = 0; k < taskInput.values.length && !exited; k++) {
      const index = taskInput.first + k;
      if (keep.has(index)) continue;
      if (packed) {
        const line = `outflow: element ${index}\n`;
        process.stdout.write(line);
        process.stderr.write(line);
      }
      yield { index, value: taskInput.values[k] };
    }
  }
  // A result that cannot be written for the driver (a function in a value typed unknown): that element
  // fails with the clone error, in its records too, and the others' results are kept.
  const sayFailed = (index: number, e: SerializedError) =>
    process.stderr.write(`outflow: element ${index} failed${e.task ? ` in task ${e.task}` : ""}: ${reasonOfSerialized(e)}\n${e.stack ? e.stack.split("\n").slice(1).join("\n") + "\n" : ""}`);
  const unwritable = (outcome: ElementOutcome, elementEvents: RecordedEvent[], error: unknown) => {
    const failure = failUnsendable(elementEvents, outcome.index, ctx.place, cloneError(error, RESULT_NOT_WRITTEN));
    Object.assign(outcome, { ok: false, error: failure, value: undefined, skipped: undefined });
    sayFailed(outcome.index, failure);
  };
  const { results, events } = await host.run({ path: ctx.path, place: ctx.place, outer: ctx.outer, items: items() }, (outcome, elementEvents) => {
    if (outcome.ok) {
      try {
        journal?.append({ outcome, events: elementEvents } satisfies JournalEntry);
      } catch (error) {
        unwritable(outcome, elementEvents, error);
      }
    } else if (outcome.error.name === "ExitPipeline") {
      exited = true;
      process.stderr.write(`outflow: element ${outcome.index} called exitPipeline(): ${outcome.error.message}\n`);
    } else sayFailed(outcome.index, outcome.error);
  });
  const all = keep.size ? [...kept, ...results].sort((a, b) => a.index - b.index) : results;
  const allEvents = keep.size ? mergeEvents(earlier!.events, events) : events;
  const record: TaskResults = { version: LAYOUT_VERSION, task, host: hostname(), start, end: Date.now(), results: all, events: allEvents };
  try {
    writeValue(dir.result(task), record);
  } catch (error) {
    // Find the results at fault (one element per task unless packed, where the journal found them already).
    for (const r of results) {
      if (!r.ok) continue;
      try {
        serialize(r.value);
      } catch (cause) {
        unwritable(r, allEvents, cause);
      }
    }
    writeValue(dir.result(task), record);
  }
  journal?.close();
  if (journal) rmSync(journal.file, { force: true });
  return results.every((r) => r.ok || r.error.name === "ExitPipeline") ? 0 : 1;
}
