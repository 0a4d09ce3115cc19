/**
 * One Slurm array task: `node dist/<command>.js --outflow-element <map dir> [--outflow-task <n>]` (the task
 * number defaults to $SLURM_ARRAY_TASK_ID). Reads the run's context and its elements from the map
 * directory, runs them in this process, writes `results/<n>.bin` atomically and exits 0 when every element
 * succeeded, 1 otherwise. The generated script then writes `status/<n>.exit`. A resubmitted packed task
 * finds its earlier attempt's results set aside (`results/<n>.prev.bin`): it runs only the elements that
 * have no successful result there and writes the merged results.
 */
import { hostname } from "node:os";
import { resolve } from "node:path";
import type { Manifest } from "../../../contract/manifest.js";
import { configureLogging } from "../../logging/logger.js";
import type { PipelineLoaders } from "../../pipeline.js";
import type { DatabaseSession } from "../../db/session.js";
import type { DbCatalog } from "../../db/catalog.js";
import { ElementHost } from "../elements.js";
import { readValue, writeValue } from "./files.js";
import type { RecordedEvent } from "../events.js";
import { LAYOUT_VERSION, MapDir, compactRanges, type ElementContext, type TaskInput, type TaskResults } from "./layout.js";

export const ELEMENT_FLAG = "--outflow-element";
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
  configureLogging({ level: ctx.config.logging.level, plugins: ctx.config.logging.plugins, root: ctx.root } as never);
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
  // A resubmitted packed task: the elements its earlier attempt computed are kept, not rerun.
  const previous = readPrevious(dir, task);
  const kept = previous ? previous.results.filter((r) => r.ok) : [];
  const keep = new Set(kept.map((r) => r.index));
  if (keep.size) {
    const rest: number[] = [];
    for (let k = 0; k < taskInput.values.length; k++) if (!keep.has(taskInput.first + k)) rest.push(taskInput.first + k);
    const line = `outflow: array task ${task}: element${keep.size > 1 ? "s" : ""} ${compactRanges([...keep].sort((a, b) => a - b))} kept from the earlier attempt; running ${rest.length ? compactRanges(rest) : "none"}\n`;
    process.stdout.write(line);
    process.stderr.write(line);
  }
  // A packed task (several elements) marks in both logs where each element begins, so its lines stay attributable.
  const packed = taskInput.values.length > 1;
  function* items() {
    for (let k = 0; k < taskInput.values.length; k++) {
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
  const { results, events } = await host.run({ path: ctx.path, elementPath: ctx.elementPath, outer: ctx.outer, items: items() }, (outcome) => {
    if (!outcome.ok) {
      const e = outcome.error;
      process.stderr.write(`outflow: element ${outcome.index} failed${e.task ? ` in task ${e.task}` : ""}: ${e.name === "Error" ? "" : `${e.name}: `}${e.message}\n${e.stack ? e.stack.split("\n").slice(1).join("\n") + "\n" : ""}`);
    }
  });
  const all = keep.size ? [...kept, ...results].sort((a, b) => a.index - b.index) : results;
  const allEvents = keep.size ? mergeEvents(keptEvents(previous!.events, keep), events) : events;
  const record: TaskResults = { version: LAYOUT_VERSION, task, host: hostname(), start, end: Date.now(), results: all, events: allEvents };
  writeValue(dir.result(task), record);
  return results.every((r) => r.ok) ? 0 : 1;
}

function readPrevious(dir: MapDir, task: number): TaskResults | undefined {
  try {
    const prev = readValue<TaskResults>(dir.previous(task));
    return prev.version === LAYOUT_VERSION ? prev : undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** The record events of the kept elements: each element record (parent null) and everything under it. */
export function keptEvents(events: RecordedEvent[], keep: Set<number>): RecordedEvent[] {
  const ids = new Set<number>();
  const out: RecordedEvent[] = [];
  for (const e of events) {
    const kept = e.parent === null ? e.element !== undefined && keep.has(e.element) : ids.has(e.parent);
    if (!kept) continue;
    ids.add(e.id);
    out.push(e);
  }
  return out;
}

/** `earlier` then `later`, the ids of `later` moved past those of `earlier` (both lists number from 1). */
export function mergeEvents(earlier: RecordedEvent[], later: RecordedEvent[]): RecordedEvent[] {
  const offset = earlier.reduce((m, e) => Math.max(m, e.id), 0);
  return [...earlier, ...later.map((e) => ({ ...e, id: e.id + offset, parent: e.parent === null ? null : e.parent + offset }))];
}
