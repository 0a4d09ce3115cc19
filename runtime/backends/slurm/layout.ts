/**
 * The run directory on the shared filesystem, and what each file in it holds.
 *
 *     <runs dir>/<run id>/                     default runs dir: <pipeline root>/.outflow/runs
 *       run.json                               command, args, bundle: what --resubmit-failed needs
 *       map-<path>/                            one per map node (path = node ids down to the map)
 *         map.json                             element count, batching, input hash, submitted arrays
 *         context.bin                          v8: args, config, run info, pass-through values (mode 600)
 *         inputs/<task>.bin                    v8: the elements of array task <task>
 *         array-<n>.sh                         the sbatch scripts (0: first submission, 1..: resubmissions)
 *         logs/<task>.out, logs/<task>.err     stdout / stderr of array task <task>
 *         results/<task>.bin                   v8: each element's value or error, task record events
 *         results/<task>.prev.bin              the earlier attempt's results of a resubmitted packed task
 *         results/<task>.journal               a packed task's results so far, one record per element
 *         status/<task>.exit                   written last by the script: exit code, start, end, host
 *         failed.txt                           the failed elements of the last attempt, one per line
 */
import { join } from "node:path";
import type { ElementOutcome, RecordedEvent } from "../events.js";
import type { Place } from "../../execute/run-graph.js";
import type { OutflowConfig } from "../../config/schema.js";
import type { RunInfo } from "../../context.js";

export const LAYOUT_VERSION = 1;

export interface RunFile {
  version: number;
  /** The id in job names and the run directory's name (the first run's id). */
  id: string;
  command: string[];
  /** The command's args and global options as parsed (no secrets: config stays in its file). */
  values: Record<string, unknown>;
  bundle: string;
  created: string;
}

export interface ArrayRecord {
  script: string;
  /** The `--array` value, throttle included. */
  spec: string;
  jobId?: string;
  submitted?: string;
}

export interface MapFile {
  version: number;
  outputName: string;
  path: number[];
  elementPath: number[];
  count: number;
  perTask: number;
  /** `elementsPerTask: "auto"`: the array slots the packing was computed for. */
  slots?: number;
  tasks: number;
  /** sha256 of the serialized elements and pass-through values. */
  inputHash: string;
  jobName: string;
  arrays: ArrayRecord[];
}

export interface ElementContext {
  version: number;
  root: string;
  cwd: string;
  command: string[];
  args: Record<string, unknown>;
  config: OutflowConfig;
  run: RunInfo;
  path: number[];
  /** Where the map node runs (its failures say so). */
  place: Place;
  outer: Record<string, unknown>;
  count: number;
  perTask: number;
  /** The command records runs: elements open the databases for `context.em`. */
  tracked: boolean;
  /** --log-level of the run (else the config's level). */
  logLevel?: string;
}

export interface TaskInput {
  first: number;
  /** The task's elements: a slice of the iterated array, typed when the array is typed. */
  values: ArrayLike<unknown>;
}

export interface TaskResults {
  version: number;
  task: number;
  host: string;
  start: number;
  end: number;
  results: ElementOutcome[];
  events: RecordedEvent[];
}

export interface ExitStatus {
  exit: number;
  start?: number;
  end?: number;
  host?: string;
  job?: string;
}

export class MapDir {
  constructor(readonly dir: string) {}
  get mapFile() {
    return join(this.dir, "map.json");
  }
  get context() {
    return join(this.dir, "context.bin");
  }
  input(task: number) {
    return join(this.dir, "inputs", `${task}.bin`);
  }
  result(task: number) {
    return join(this.dir, "results", `${task}.bin`);
  }
  /** The results of the task's earlier attempt, set aside by a resubmission: its successes are kept. */
  previous(task: number) {
    return join(this.dir, "results", `${task}.prev.bin`);
  }
  /** What a packed task has computed so far, element by element (kept when the task is killed). */
  journal(task: number) {
    return join(this.dir, "results", `${task}.journal`);
  }
  exit(task: number) {
    return join(this.dir, "status", `${task}.exit`);
  }
  get statusDir() {
    return join(this.dir, "status");
  }
  out(task: number) {
    return join(this.dir, "logs", `${task}.out`);
  }
  err(task: number) {
    return join(this.dir, "logs", `${task}.err`);
  }
  script(n: number) {
    return join(this.dir, `array-${n}.sh`);
  }
  get failedList() {
    return join(this.dir, "failed.txt");
  }
  get subdirs() {
    return ["inputs", "results", "status", "logs"].map((d) => join(this.dir, d));
  }
}

/** `map-3` for node 3 of the command graph; `map-1.2` for node 2 of the body of map node 1. */
export function mapDirName(path: number[], elementPath: number[]): string {
  return `map-${path.join(".")}${elementPath.length ? `-e${elementPath.join(".")}` : ""}`;
}

/** Job names are matched by squeue `--name`: only characters that survive every Slurm tool. */
export function jobName(runId: string, path: number[], elementPath: number[]): string {
  return `outflow-${runId.replace(/[^A-Za-z0-9_.-]/g, "_")}-${mapDirName(path, elementPath)}`;
}

/** `exit=3 start=… end=… host=… job=…`, as the script writes it. */
export function parseExitStatus(text: string): ExitStatus | undefined {
  const fields = new Map<string, string>();
  for (const m of text.matchAll(/(\w+)=(\S*)/g)) fields.set(m[1], m[2]);
  const exit = Number(fields.get("exit"));
  if (!fields.has("exit") || !Number.isInteger(exit)) return undefined;
  // EPOCHREALTIME uses the locale's decimal separator.
  const num = (k: string) => (fields.get(k) ? Number(fields.get(k)!.replace(",", ".")) : undefined);
  return { exit, start: num("start"), end: num("end"), host: fields.get("host") || undefined, job: fields.get("job") || undefined };
}

/** Elements `[first, end)` of array task `task`. */
export function taskRange(task: number, perTask: number, count: number): [number, number] {
  const first = task * perTask;
  return [first, Math.min(count, first + perTask)];
}

/** `[0,1,2,3,7,9,10]` → `0-3,7,9-10`. */
export function compactRanges(sorted: number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(",");
}
