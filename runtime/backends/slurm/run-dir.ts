/**
 * Where a Slurm run keeps its files, and `--resubmit-failed <run dir | run id>`: the stored command values
 * of that run, overridden by what is given on the command line.
 */
import { randomBytes } from "node:crypto";
import { existsSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import type { ArgSpec } from "../../../contract/manifest.js";
import { UsageError, parseCommandArgs } from "../../cli/args.js";
import { readJson } from "./files.js";
import type { RunFile } from "./layout.js";

export const RESUBMIT_FLAG = "resubmit-failed";

/** The folder run directories go in: --slurm-dir, else $OUTFLOW_SLURM_DIR, else `<root>/.outflow/runs`. */
export function runsBase(root: string, slurmDir?: string): string {
  const dir = slurmDir ?? process.env.OUTFLOW_SLURM_DIR;
  return dir ? resolve(dir) : join(root, ".outflow", "runs");
}

/** An id for a run without a database record: sortable by time, unique enough for job names. */
export function generatedRunId(): string {
  const t = new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
  return `${t}-${randomBytes(3).toString("hex")}`;
}

function optionValue(argv: string[], name: string): string | undefined {
  let found: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === `--${name}`) found = argv[i + 1];
    else if (argv[i].startsWith(`--${name}=`)) found = argv[i].slice(name.length + 3);
  }
  return found;
}

/** A run directory given as a path, or a run id under the runs folder. */
export function findRunDir(target: string, root: string, slurmDir?: string): string {
  const candidates = [resolve(target), join(runsBase(root, slurmDir), target)];
  for (const dir of candidates) {
    if (existsSync(join(dir, "run.json")) && statSync(dir).isDirectory()) return dir;
  }
  throw new UsageError(`--${RESUBMIT_FLAG} ${JSON.stringify(target)}: no Slurm run directory there (looked for run.json in ${candidates.join(" and ")})`);
}

/**
 * The run `--resubmit-failed` completes: its directory and its id (the database run's uuid for a tracked
 * command); undefined without the flag.
 */
export function resubmittedRun(globals: Record<string, unknown>, root: string): { runDir: string; id: string } | undefined {
  const target = globals[RESUBMIT_FLAG] as string | undefined;
  if (!target) return undefined;
  const runDir = findRunDir(target, root, globals["slurm-dir"] as string | undefined);
  return { runDir, id: readJson<RunFile>(join(runDir, "run.json")).id };
}

/**
 * For `--resubmit-failed`: the command's values as the first run stored them, with the options given now
 * on top (so required args need not be repeated). Undefined when the flag is absent.
 */
export function resubmitValues(argv: string[], specs: Record<string, ArgSpec>, command: string[], root: string): Record<string, unknown> | undefined {
  const target = optionValue(argv, RESUBMIT_FLAG);
  if (target === undefined) return undefined;
  if (target === "" || target.startsWith("--")) throw new UsageError(`--${RESUBMIT_FLAG} needs a run directory or run id`);
  const runDir = findRunDir(target, root, optionValue(argv, "slurm-dir"));
  const stored = readJson<RunFile>(join(runDir, "run.json"));
  if (stored.command.join(" ") !== command.join(" ")) throw new UsageError(`--${RESUBMIT_FLAG}: run ${stored.id} was made by command ${stored.command.join(" ")}, not ${command.join(" ")}`);
  const relaxed: Record<string, ArgSpec> = {};
  for (const [name, spec] of Object.entries(specs)) relaxed[name] = { ...spec, required: false, default: undefined };
  const given = Object.fromEntries(Object.entries(parseCommandArgs(argv, relaxed)).filter(([, v]) => v !== undefined));
  const values: Record<string, unknown> = { ...stored.values, ...given, [RESUBMIT_FLAG]: runDir };
  if (given.backend === undefined) values.backend = "slurm";
  for (const [name, spec] of Object.entries(specs)) {
    if (spec.required && values[name] === undefined) throw new UsageError(`missing required argument --${name}`);
  }
  return values;
}
