/**
 * sbatch directives of one map: config `slurm` defaults < the command's `slurm` < `map({ slurm })`, with the
 * map's top-level `cpusPerTask` and `simultaneousTasks` applying too. Keys are camelCase or as sbatch spells
 * them (`cpus_per_task`, `cpus-per-task`); `extra` holds raw sbatch arguments (`["--exclusive"]`).
 * outflow's own keys: `simultaneousTasks` (the `%k`), `elementsPerTask` (batch elements into array tasks: a
 * number, or `"auto"` for about one array task per slot Slurm can run at once), `maxArraySize` (stay below a
 * site limit; the cluster's MaxArraySize always applies).
 */
import type { MapOptions } from "../../../contract/manifest.js";
import type { SlurmConfig } from "../../config/schema.js";
import { directiveValue, DirectiveError } from "./quote.js";

export interface MapSubmission {
  /** `--name=value` (or `--name` for `true`) lines, in order. */
  directives: string[];
  /** The `%k` of `--array`. */
  simultaneous?: number;
  /** Elements per array task, at least (more when the map is larger than MaxArraySize); see `packing`. */
  elementsPerTask: number | "auto";
  /** CPUs one array task asks for (`--cpus-per-task`, 1 by default): what `"auto"` divides a partition by. */
  cpusPerTask: number;
  /** The `--partition` asked for (the cluster's default partition when undefined). */
  partition?: string;
  /** A lower array size limit than the cluster's MaxArraySize (site limits such as MaxSubmitJobs). */
  maxArraySize?: number;
}

/** Options that shape the array rather than becoming directives. */
const OWN = new Set(["simultaneous-tasks", "elements-per-task", "max-array-size", "extra"]);
/** Set by outflow itself: a user value would break the map. */
const RESERVED = new Set(["array", "output", "error", "job-name", "chdir", "parsable", "wrap", "wait", "input", "open-mode"]);
/** Their short forms (`-a1`, `-o file`, `-J name`…). */
const RESERVED_SHORT: Record<string, string> = { a: "array", o: "output", e: "error", J: "job-name", D: "chdir", W: "wait", i: "input" };

/**
 * The reserved option a long option name means to sbatch, if any: the name itself, or an abbreviation
 * of it (sbatch reads `--arra` as `--array`).
 */
function reservedLong(name: string): string | undefined {
  if (RESERVED.has(name)) return name;
  return [...RESERVED].find((r) => r.startsWith(name));
}

/** sbatch's short flags that take no value: they may be grouped before another (`-Qa1` is `-Q -a 1`). */
const SHORT_FLAGS = new Set(["H", "h", "k", "O", "Q", "s", "u", "V", "v"]);

/** The reserved option a raw argument (`--arra=1`, `-a1`, `-Jname`, `-Qa1`) sets, if any. */
function reservedArg(arg: string): string | undefined {
  const long = /^--([A-Za-z][\w-]*)/.exec(arg);
  if (long) return reservedLong(kebab(long[1]));
  const group = /^-([A-Za-z]+)/.exec(arg)?.[1] ?? "";
  for (const letter of group) {
    if (RESERVED_SHORT[letter]) return RESERVED_SHORT[letter];
    if (!SHORT_FLAGS.has(letter)) return undefined;
  }
  return undefined;
}

function kebab(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, "$1-$2").replace(/_/g, "-").toLowerCase();
}

function normalise(options: Record<string, unknown> | undefined): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const [key, value] of Object.entries(options ?? {})) if (value !== undefined && value !== null) out.set(kebab(key), value);
  return out;
}

function positiveInt(name: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) throw new DirectiveError(`slurm option ${name} must be a positive integer, got ${JSON.stringify(value)}`);
  return value;
}

export function mapSubmission(config: SlurmConfig | undefined, command: Record<string, unknown> | undefined, map: MapOptions): MapSubmission {
  const merged = new Map<string, unknown>();
  const extra: string[] = [];
  const layers = [normalise(config as Record<string, unknown>), normalise(command), normalise(map.cpusPerTask !== undefined ? { cpusPerTask: map.cpusPerTask } : {}), normalise(map.slurm)];
  for (const layer of layers) {
    for (const [key, value] of layer) {
      if (key === "extra") {
        if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) throw new DirectiveError(`slurm option extra must be an array of strings`);
        extra.push(...(value as string[]));
      } else merged.set(key, value);
    }
  }
  if (map.simultaneousTasks !== undefined) merged.set("simultaneous-tasks", map.simultaneousTasks);
  const directives: string[] = [];
  for (const [key, value] of merged) {
    if (OWN.has(key)) continue;
    const reserved = reservedLong(key);
    if (reserved) throw new DirectiveError(`slurm option ${key}${reserved === key ? "" : ` (sbatch may read it as --${reserved})`} is set by outflow and cannot be given`);
    if (!/^[a-z][a-z0-9-]*$/.test(key)) throw new DirectiveError(`slurm option ${JSON.stringify(key)} is not an sbatch option name`);
    if (value === false) continue;
    if (value === true) directives.push(`--${key}`);
    else if (typeof value === "string" || typeof value === "number") directives.push(`--${key}=${directiveValue(key, String(value))}`);
    else throw new DirectiveError(`slurm option ${key} must be a string, number or boolean, got ${JSON.stringify(value)}`);
  }
  for (const arg of extra) {
    const m = /^(--?[A-Za-z][\w-]*)(?:=(.*))?$/s.exec(arg);
    if (!m) throw new DirectiveError(`slurm extra argument ${JSON.stringify(arg)} is not an sbatch option (--name or --name=value)`);
    const name = m[1].replace(/^-+/, "");
    const reserved = reservedArg(arg);
    if (reserved) throw new DirectiveError(`slurm extra argument ${m[1] === `--${reserved}` ? m[1] : `${JSON.stringify(arg)} (sbatch may read it as --${reserved})`} is set by outflow and cannot be given`);
    directives.push(m[2] === undefined ? m[1] : `${m[1]}=${directiveValue(name, m[2])}`);
  }
  const simultaneous = merged.has("simultaneous-tasks") ? positiveInt("simultaneousTasks", merged.get("simultaneous-tasks")) : undefined;
  const elementsPerTask = merged.has("elements-per-task") ? perTaskOption(merged.get("elements-per-task")) : 1;
  const maxArraySize = merged.has("max-array-size") ? positiveInt("maxArraySize", merged.get("max-array-size")) : undefined;
  // What one array task asks for, as sbatch will read it (the last --cpus-per-task / --partition wins).
  let cpusPerTask = 1;
  let partition: string | undefined;
  for (const d of directives) {
    const m = /^(?:--cpus-per-task|-c)=(.*)$/.exec(d) ?? /^-c(\d+)$/.exec(d);
    if (m && /^\d+$/.test(m[1]) && Number(m[1]) > 0) cpusPerTask = Number(m[1]);
    const p = /^(?:--partition|-p)=(.*)$/.exec(d);
    if (p) partition = p[1].replace(/^"(.*)"$/, "$1");
  }
  return { directives, simultaneous, elementsPerTask, cpusPerTask, partition, maxArraySize };
}

function perTaskOption(value: unknown): number | "auto" {
  if (value === "auto" || (typeof value === "number" && Number.isInteger(value) && value >= 1)) return value;
  throw new DirectiveError(`slurm option elementsPerTask: expected a positive integer or "auto", got ${JSON.stringify(value)}`);
}

export interface SlotLimits {
  /** The map's `%k` (simultaneousTasks), if any. */
  simultaneous?: number;
  /** CPUs of the partition the array goes to (undefined when sinfo could not tell). */
  partitionCpus?: number;
  cpusPerTask: number;
  /** The array size limit in force (the cluster's MaxArraySize, or the map's lower maxArraySize). */
  maxArraySize: number;
}

/** How many array tasks of this map Slurm can run at once: min(%k, partition CPUs / cpusPerTask, MaxArraySize). */
export function arraySlots(limits: SlotLimits): number {
  const byCpus = limits.partitionCpus === undefined ? Infinity : Math.max(1, Math.floor(limits.partitionCpus / Math.max(1, limits.cpusPerTask)));
  return Math.max(1, Math.min(limits.simultaneous ?? Infinity, byCpus, limits.maxArraySize));
}

/**
 * `elementsPerTask: "auto"`: pack `count` elements so that the array has about one task per slot, i.e. it
 * runs in one wave (`waves` = 1): ceil(count / slots) elements per task. Fewer tasks means fewer processes
 * started (one `node` per array task) for the same parallelism; 2 waves were measured slower (see README).
 */
export function autoElementsPerTask(count: number, slots: number, waves = 1): number {
  return Math.max(1, Math.ceil(count / Math.max(1, Math.floor(slots * waves))));
}
