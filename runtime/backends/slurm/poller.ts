/**
 * Polite polling: ONE squeue call per cycle for every array of every map being watched, whatever their
 * size; the interval starts at 0.2 s, doubles while squeue shows nothing new (up to 5 s) and resets when it
 * does (to a floor that grows with the time spent polling). Without sacct: squeue's `--states=all` view
 * lasts until MinJobAge, the status files the scripts write last forever.
 * Between squeue cycles, every 150 ms, the status folder of each watched map is listed (a filesystem read,
 * no controller call): a task whose status file appeared is resolved at once, and a watch whose tasks are
 * all resolved ends without waiting for the next squeue. squeue remains what finds the tasks that end
 * without a status file: Slurm killed them (CANCELLED, TIMEOUT...) or forgot them (purged after MinJobAge,
 * unknown job id) and the file never came within the grace period.
 */
import { readFileSync, readdirSync, statSync } from "node:fs";
import { ACTIVE_STATES, KILLED_STATES, NEVER_STARTS, SlurmError, type QueueRow, type SlurmCluster } from "./cluster.js";
import { parseExitStatus, type ExitStatus } from "./layout.js";

export interface LostTask {
  /** Slurm's last word on the task (CANCELLED, TIMEOUT, FAILED...), if it still knew it. */
  state?: string;
  arrayJobId?: string;
}

export interface Watch {
  /** The job name all arrays of this map carry. */
  name: string;
  /** Array tasks not resolved yet. */
  pending: Set<number>;
  exitFile(task: number): string;
  /**
   * The folder the status files `<task>.exit` are written to: listed once per file check (one readdir per
   * map rather than one stat per pending task). Without it, the pending tasks' files are stat'ed.
   */
  statusDir?: string;
  /**
   * Tasks whose status file, if present now, may be an earlier attempt's (tasks of an earlier submission
   * still queued): the file checks wait for a file that replaces it. The others' files were removed
   * before they were submitted, so any file of theirs is new.
   */
  mayBeStale?: Iterable<number>;
  /** The task's script wrote its status file. */
  onExit(task: number, status: ExitStatus): Promise<void> | void;
  /** The task ended without a status file (killed by Slurm, or lost). */
  onLost(task: number, lost: LostTask): Promise<void> | void;
  /** The task is pending for a reason after which it will not start by itself (see NEVER_STARTS). */
  onStuck?(task: number, reason: string): void;
}

/** A status file as it was when the watch began (a task of an earlier attempt still queued may have one). */
type FileId = string | undefined;

interface Entry {
  watch: Watch;
  missingSince: Map<number, number>;
  /** Status files present when the watch began: the file checks only take a file that replaced them. */
  stale: Map<number, FileId>;
  arrays: Set<string>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

export interface PollerOptions {
  minMs?: number;
  maxMs?: number;
  /** Interval of the status-file checks between squeue cycles; 0 turns them off (squeue alone). */
  filesMs?: number;
  /** How long a finished task may lack its status file before it counts as lost (shared-filesystem caches). */
  graceMs?: number;
  /** Consecutive failed squeue calls tolerated before giving up. */
  maxErrors?: number;
}

export interface PollStats {
  /** squeue cycles. */
  cycles: number;
  /** squeue calls made by poll cycles (one per cycle). */
  queueCalls: number;
  /** Intervals chosen between squeue cycles. */
  intervalsMs: number[];
  /** Status-file checks between squeue cycles (filesystem reads only). */
  fileChecks: number;
  /** Array tasks resolved by a status-file check / by an squeue cycle (status file read or task lost). */
  resolvedByFiles: number;
  resolvedByQueue: number;
  /** Watches that ended on a status-file check, without another squeue call. */
  watchesEndedByFiles: number;
}

function envMs(name: string, allowZero = false): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return undefined;
  const v = Number(raw);
  return Number.isFinite(v) && (v > 0 || (allowZero && v === 0)) ? v : undefined;
}

function fileId(file: string): FileId {
  const st = statSync(file, { throwIfNoEntry: false });
  return st ? `${st.ino}:${st.mtimeMs}:${st.size}` : undefined;
}

export class Poller {
  private readonly entries = new Set<Entry>();
  private loop?: Promise<void>;
  private wake?: () => void;
  private stopped?: unknown;
  private queueNow = false;
  readonly stats: PollStats = { cycles: 0, queueCalls: 0, intervalsMs: [], fileChecks: 0, resolvedByFiles: 0, resolvedByQueue: 0, watchesEndedByFiles: 0 };
  readonly minMs: number;
  readonly maxMs: number;
  readonly filesMs: number;
  readonly graceMs: number;
  readonly maxErrors: number;

  constructor(private readonly cluster: SlurmCluster, opts: PollerOptions = {}) {
    this.minMs = opts.minMs ?? envMs("OUTFLOW_SLURM_POLL_MIN_MS") ?? 200;
    this.maxMs = opts.maxMs ?? envMs("OUTFLOW_SLURM_POLL_MAX_MS") ?? 5000;
    this.filesMs = opts.filesMs ?? envMs("OUTFLOW_SLURM_POLL_FILES_MS", true) ?? 150;
    this.graceMs = opts.graceMs ?? envMs("OUTFLOW_SLURM_FS_GRACE_MS") ?? 20_000;
    this.maxErrors = opts.maxErrors ?? 10;
  }

  /** Array job ids seen for the watched maps (what a cancellation must scancel). */
  arrayJobIds(): string[] {
    return [...new Set([...this.entries].flatMap((e) => [...e.arrays]))];
  }

  /** Resolves once every pending task of `watch` is resolved. */
  watch(watch: Watch): Promise<void> {
    if (this.stopped !== undefined) return Promise.reject(this.stopped);
    if (watch.pending.size === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const stale = new Map<number, FileId>();
      if (this.filesMs > 0) {
        for (const task of watch.mayBeStale ?? []) {
          const id = fileId(watch.exitFile(task));
          if (id) stale.set(task, id);
        }
      }
      this.entries.add({ watch, missingSince: new Map(), stale, arrays: new Set(), resolve, reject });
      this.wake?.();
      this.loop ??= this.run().finally(() => (this.loop = undefined));
    });
  }

  /** Asks Slurm at once instead of at the next cycle (after a scancel: the cancelled tasks resolve now). */
  refresh(): void {
    this.queueNow = true;
    this.wake?.();
  }

  /** Stops polling: every watch rejects with `error`. */
  stop(error: unknown): void {
    this.stopped = error;
    for (const e of this.entries) e.reject(error);
    this.entries.clear();
    this.wake?.();
  }

  /** Runs `step` on every entry; resolves the finished ones, rejects those whose callback threw. */
  private async each(step: (entry: Entry) => Promise<boolean>, byFiles = false): Promise<boolean> {
    let progress = false;
    for (const entry of [...this.entries]) {
      if (this.stopped !== undefined) break;
      try {
        if (await step(entry)) progress = true;
      } catch (error) {
        this.entries.delete(entry);
        entry.reject(error);
        continue;
      }
      if (entry.watch.pending.size === 0) {
        this.entries.delete(entry);
        if (byFiles) this.stats.watchesEndedByFiles++;
        entry.resolve();
      }
    }
    return progress;
  }

  private async run(): Promise<void> {
    let interval = this.minMs;
    let errors = 0;
    const started = Date.now();
    let nextQueue = Date.now();
    while (this.entries.size && this.stopped === undefined) {
      if (Date.now() >= nextQueue || this.filesMs <= 0 || this.queueNow) {
        this.queueNow = false;
        let progress: boolean | undefined = false;
        try {
          this.stats.cycles++;
          this.stats.queueCalls++;
          const rows = await this.cluster.queue([...new Set([...this.entries].map((e) => e.watch.name))]);
          errors = 0;
          progress = await this.each((entry) => this.step(entry, rows));
        } catch (error) {
          if (++errors >= this.maxErrors) {
            const e = error instanceof SlurmError ? error : new SlurmError(String(error));
            for (const entry of this.entries) entry.reject(e);
            this.entries.clear();
            return;
          }
          // squeue failed: try again after the current interval (the file checks go on meanwhile).
          progress = undefined;
        }
        if (!this.entries.size || this.stopped !== undefined) return;
        // Reset when squeue showed something new, but to a floor that grows with the age of the watch (1/30
        // of it): short arrays are noticed at once, a long one is polled every few seconds even while it
        // steadily progresses. Tasks the file checks resolve do not reset it: squeue is then only the
        // watchman for tasks that die without a status file.
        const floor = Math.min(this.maxMs, Math.max(this.minMs, (Date.now() - started) / 30));
        if (progress !== undefined) interval = progress ? floor : Math.min(this.maxMs, Math.max(floor, interval * 2));
        this.stats.intervalsMs.push(interval);
        nextQueue = Date.now() + interval;
      } else {
        this.stats.fileChecks++;
        await this.each((entry) => this.checkFiles(entry), true);
        if (!this.entries.size || this.stopped !== undefined) return;
      }
      const wait = this.filesMs > 0 ? Math.min(this.filesMs, Math.max(0, nextQueue - Date.now())) : interval;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  private async resolveFromFile(entry: Entry, task: number, file: string): Promise<void> {
    const status = parseExitStatus(readFileSync(file, "utf8")) ?? { exit: -1 };
    entry.watch.pending.delete(task);
    entry.stale.delete(task);
    entry.missingSince.delete(task);
    await entry.watch.onExit(task, status);
  }

  /** A status-file check for one map (no controller call); true when some task got resolved. */
  private async checkFiles(entry: Entry): Promise<boolean> {
    const { watch } = entry;
    let candidates: Iterable<number> = watch.pending;
    if (watch.statusDir) {
      let names: string[];
      try {
        names = readdirSync(watch.statusDir);
      } catch {
        return false;
      }
      const found: number[] = [];
      for (const name of names) {
        const m = /^(\d+)\.exit$/.exec(name);
        if (m && watch.pending.has(Number(m[1]))) found.push(Number(m[1]));
      }
      candidates = found;
    }
    let progress = false;
    for (const task of [...candidates]) {
      const file = watch.exitFile(task);
      const id = fileId(file);
      if (!id || (entry.stale.has(task) && entry.stale.get(task) === id)) continue;
      try {
        await this.resolveFromFile(entry, task, file);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") continue;
        throw error;
      }
      this.stats.resolvedByFiles++;
      progress = true;
    }
    return progress;
  }

  /** One squeue cycle for one map; true when some task got resolved. */
  private async step(entry: Entry, rows: QueueRow[]): Promise<boolean> {
    const { watch } = entry;
    const byTask = new Map<number, { active: boolean; state: string; arrayJobId: string }>();
    // The array tasks that were still pending when the array was scancelled are one row without a task
    // number (`N/A`, CANCELLED): a task without a row of its own is one of them.
    let cancelledRest: { state: string; arrayJobId: string } | undefined;
    for (const row of rows) {
      if (row.name !== watch.name) continue;
      if (row.state === "PENDING" && row.reason && NEVER_STARTS.has(row.reason) && row.task !== undefined && watch.pending.has(row.task)) watch.onStuck?.(row.task, row.reason);
      if (row.task === undefined) {
        if (KILLED_STATES.has(row.state)) cancelledRest = { state: row.state, arrayJobId: row.arrayJobId };
        continue;
      }
      entry.arrays.add(row.arrayJobId);
      const active = ACTIVE_STATES.has(row.state);
      const seen = byTask.get(row.task);
      // Several arrays may hold the same task (a failed attempt and its resubmission): active wins.
      if (!seen || (active && !seen.active) || (!seen.active && !active && Number(row.arrayJobId) > Number(seen.arrayJobId))) byTask.set(row.task, { active, state: row.state, arrayJobId: row.arrayJobId });
    }
    let progress = false;
    const now = Date.now();
    for (const task of [...watch.pending]) {
      const info = byTask.get(task);
      if (info?.active) {
        entry.missingSince.delete(task);
        continue;
      }
      const file = watch.exitFile(task);
      if (fileId(file)) {
        // Slurm no longer runs the task: its status file, stale or not, is its last word.
        await this.resolveFromFile(entry, task, file);
        this.stats.resolvedByQueue++;
        progress = true;
        continue;
      }
      const since = entry.missingSince.get(task) ?? now;
      entry.missingSince.set(task, since);
      const killed = info ? (KILLED_STATES.has(info.state) ? info : undefined) : cancelledRest;
      if (killed || now - since >= this.graceMs) {
        watch.pending.delete(task);
        await watch.onLost(task, { state: (killed ?? info)?.state, arrayJobId: (killed ?? info)?.arrayJobId });
        this.stats.resolvedByQueue++;
        progress = true;
      }
    }
    return progress;
  }
}
