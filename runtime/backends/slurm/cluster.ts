/**
 * Every call this backend makes to Slurm's tools, in one place, counted (the bench checks the number of
 * controller calls per poll cycle). Commands run with an argument vector, never through a shell.
 */
import { execFile, spawnSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

/** Slurm is missing, refused a job, or failed to answer: one line, Slurm's own message included. */
export class SlurmError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "Error";
  }
}

export interface QueueRow {
  name: string;
  /** The array's job id (`%F`). */
  arrayJobId: string;
  /** The array task id (`%K`); undefined for a job that is not an array. */
  task?: number;
  state: string;
  /** Why a pending task waits (`%r`: `Resources`, `Priority`, `PartitionConfig`…). */
  reason?: string;
}

/**
 * Pending reasons after which a task will not start unless someone changes the job or the cluster: it
 * asks for more than the partition has (`EnforcePartLimits=NO` lets sbatch accept it), or for nodes or
 * features that do not exist.
 */
export const NEVER_STARTS = new Set(["PartitionConfig", "BadConstraints", "PartitionNodeLimit", "PartitionTimeLimit", "InvalidAccount", "InvalidQOS", "QOSMaxCpuPerJobLimit", "AssocMaxCpuPerJobLimit"]);

export interface JobRow {
  task: number;
  state: string;
  exitCode: number;
  signal: number;
}

/** Array task states after which the task will not run again by itself. */
export const ACTIVE_STATES = new Set(["PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED", "REQUEUED", "REQUEUE_FED", "REQUEUE_HOLD", "RESIZING", "SIGNALING", "STAGE_OUT", "STOPPED", "RESV_DEL_HOLD", "SPECIAL_EXIT"]);
/** Ended by Slurm, not by the script: no status file will come. */
export const KILLED_STATES = new Set(["CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "BOOT_FAIL", "DEADLINE", "REVOKED"]);

export interface Partitions {
  cpus: Map<string, number>;
  /** The partition marked `*` by sinfo (where a job without --partition goes). */
  default?: string;
}

/** `debug*|0/16/0/16` lines of `sinfo --format=%P|%C`. */
export function parsePartitions(text: string): Partitions {
  const cpus = new Map<string, number>();
  let fallback: string | undefined;
  for (const line of text.split("\n")) {
    const m = /^\s*([^|\s]+)\|(\d+)\/(\d+)\/(\d+)\/(\d+)\s*$/.exec(line);
    if (!m) continue;
    const name = m[1].replace(/\*$/, "");
    if (m[1].endsWith("*")) fallback = name;
    cpus.set(name, (cpus.get(name) ?? 0) + Number(m[5]) - Number(m[4]));
  }
  return { cpus, default: fallback };
}

/** CPUs a job asking for `partition` (a comma list, or the default partition) can use; undefined when unknown. */
export function cpusOf(partitions: Partitions, partition: string | undefined): number | undefined {
  const names = partition ? partition.split(",").map((p) => p.trim()).filter(Boolean) : partitions.default ? [partitions.default] : [];
  let total = 0;
  for (const name of names) {
    const n = partitions.cpus.get(name);
    if (n === undefined) return undefined;
    total += n;
  }
  return names.length ? total : undefined;
}

export interface CallCounts {
  sbatch: number;
  squeue: number;
  scontrol: number;
  scancel: number;
  sinfo: number;
}

/** The program's path when it is on PATH and executable. */
export function findOnPath(program: string, path = process.env.PATH ?? ""): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, program);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

function firstLines(text: string): string {
  return text.trim().split("\n").map((l) => l.trim()).filter(Boolean).slice(0, 3).join(" / ");
}

export class SlurmCluster {
  readonly calls: CallCounts = { sbatch: 0, squeue: 0, scontrol: 0, scancel: 0, sinfo: 0 };
  private maxArray?: Promise<number>;
  private partitions?: Promise<Partitions>;

  /** Throws a SlurmError when sbatch is not on PATH. */
  static require(): void {
    if (!findOnPath("sbatch")) throw new SlurmError("--backend slurm: no Slurm found (sbatch is not on PATH); run on a Slurm login node, or use --emit-only to write the job scripts");
  }

  private run(program: keyof CallCounts, args: string[], opts: { cwd?: string; timeout?: number } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
    this.calls[program]++;
    return new Promise((resolve) => {
      execFile(program, args, { cwd: opts.cwd, timeout: opts.timeout ?? 60_000, maxBuffer: 64 * 1024 * 1024, encoding: "utf8" }, (error, stdout, stderr) => {
        const code = error ? (typeof (error as { code?: unknown }).code === "number" ? ((error as { code: number }).code) : 127) : 0;
        resolve({ code, stdout, stderr: stderr || (error && code === 127 ? error.message : "") });
      });
    });
  }

  /** MaxArraySize from `scontrol show config`, read once (Slurm's default, 1001, when it cannot be read). */
  maxArraySize(): Promise<number> {
    this.maxArray ??= this.run("scontrol", ["show", "config"]).then((r) => {
      const m = /^MaxArraySize\s*=\s*(\d+)/m.exec(r.stdout);
      return m ? Number(m[1]) : 1001;
    });
    return this.maxArray;
  }

  /**
   * CPUs of each partition (total minus offline: `%C` is allocated/idle/other/total), from ONE `sinfo`
   * call per run; empty when sinfo cannot tell.
   */
  partitionCpus(): Promise<Partitions> {
    this.partitions ??= this.run("sinfo", ["--noheader", "--format=%P|%C"]).then((r) => parsePartitions(r.code === 0 ? r.stdout : ""));
    return this.partitions;
  }

  /** `sbatch --parsable [options] <script>` from `cwd`; the job id, or a SlurmError carrying sbatch's message. */
  async submit(script: string, cwd: string, what: string, options: string[] = []): Promise<string> {
    const r = await this.run("sbatch", ["--parsable", ...options, script], { cwd });
    const id = r.stdout.trim().split(";")[0];
    if (r.code !== 0 || !/^\d+$/.test(id)) {
      throw new SlurmError(`sbatch refused ${what}: ${firstLines(r.stderr || r.stdout) || `exit code ${r.code}`}`);
    }
    return id;
  }

  /**
   * ONE squeue call for every array task of the jobs with these names, finished ones included (until
   * Slurm's MinJobAge). Purged jobs simply no longer appear.
   */
  async queue(names: string[]): Promise<QueueRow[]> {
    const r = await this.run("squeue", ["--noheader", "--array", "--states=all", `--name=${names.join(",")}`, "--format=%j|%F|%K|%T|%r"]);
    if (r.code !== 0) throw new SlurmError(`squeue failed: ${firstLines(r.stderr) || `exit code ${r.code}`}`);
    const rows: QueueRow[] = [];
    for (const line of r.stdout.split("\n")) {
      const [name, arrayJobId, task, state, reason] = line.trim().split("|");
      if (!state) continue;
      rows.push({ name, arrayJobId, task: /^\d+$/.test(task) ? Number(task) : undefined, state: state.replace(/\+$/, ""), reason: reason && reason !== "None" ? reason : undefined });
    }
    return rows;
  }

  /** Final state and exit code of each task of an array (`scontrol -o show job`), while Slurm remembers it. */
  async showArray(arrayJobId: string): Promise<JobRow[]> {
    const r = await this.run("scontrol", ["--oneliner", "show", "job", arrayJobId]);
    if (r.code !== 0) return [];
    const rows: JobRow[] = [];
    for (const line of r.stdout.split("\n")) {
      const range = /\bArrayTaskId=(\d+)(?:-(\d+))?/.exec(line);
      const state = /\bJobState=(\S+)/.exec(line)?.[1];
      const exit = /\bExitCode=(\d+):(\d+)/.exec(line);
      if (!range || !state) continue;
      for (let t = Number(range[1]); t <= Number(range[2] ?? range[1]); t++) rows.push({ task: t, state, exitCode: exit ? Number(exit[1]) : 0, signal: exit ? Number(exit[2]) : 0 });
    }
    return rows;
  }

  /**
   * `scancel --state=PENDING` the given jobs: their array tasks that have not started never will; the
   * running ones go on. A message when scancel failed, else undefined.
   */
  async cancelPending(jobIds: string[]): Promise<string | undefined> {
    if (!jobIds.length) return undefined;
    const r = await this.run("scancel", ["--state=PENDING", ...jobIds], { timeout: 20_000 });
    // An array that has finished meanwhile has nothing left to cancel.
    if (r.code === 0 || /Invalid job id|already completing or completed/i.test(r.stderr)) return undefined;
    return firstLines(r.stderr) || `exit code ${r.code}`;
  }

  /** `scancel` the given jobs, synchronously (it runs from a signal handler, before the process exits). */
  cancelNow(jobIds: string[]): string | undefined {
    if (!jobIds.length) return undefined;
    this.calls.scancel++;
    const r = spawnSync("scancel", jobIds, { encoding: "utf8", timeout: 20_000 });
    if (r.status === 0) return undefined;
    if (r.error) return r.error.message;
    return firstLines(r.stderr ?? "") || (r.signal ? `scancel was killed by ${r.signal}` : `exit code ${r.status}`);
  }
}
