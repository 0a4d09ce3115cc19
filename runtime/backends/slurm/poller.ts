/**
 * Polite polling: ONE squeue call per cycle for every array of every map being watched, whatever their
 * size; the interval starts at 0.2 s, doubles while nothing changes (up to 5 s) and resets on progress
 * (to a floor that grows with the time spent polling). Without sacct: squeue's `--states=all` view lasts
 * until MinJobAge, the status files the scripts write last forever.
 * Only array tasks that Slurm no longer reports as active have their status file looked at. A task Slurm
 * has forgotten (purged after MinJobAge, unknown job id) is resolved from its status file alone.
 */
import { existsSync, readFileSync } from "node:fs";
import { ACTIVE_STATES, KILLED_STATES, SlurmError, type QueueRow, type SlurmCluster } from "./cluster.js";
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
  /** The task's script wrote its status file. */
  onExit(task: number, status: ExitStatus): Promise<void> | void;
  /** The task ended without a status file (killed by Slurm, or lost). */
  onLost(task: number, lost: LostTask): Promise<void> | void;
}

interface Entry {
  watch: Watch;
  missingSince: Map<number, number>;
  arrays: Set<string>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

export interface PollerOptions {
  minMs?: number;
  maxMs?: number;
  /** How long a finished task may lack its status file before it counts as lost (shared-filesystem caches). */
  graceMs?: number;
  /** Consecutive failed squeue calls tolerated before giving up. */
  maxErrors?: number;
}

export interface PollStats {
  cycles: number;
  /** squeue calls made by poll cycles (one per cycle). */
  queueCalls: number;
  intervalsMs: number[];
}

function envMs(name: string): number | undefined {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : undefined;
}

export class Poller {
  private readonly entries = new Set<Entry>();
  private loop?: Promise<void>;
  private wake?: () => void;
  private stopped?: unknown;
  readonly stats: PollStats = { cycles: 0, queueCalls: 0, intervalsMs: [] };
  readonly minMs: number;
  readonly maxMs: number;
  readonly graceMs: number;
  readonly maxErrors: number;

  constructor(private readonly cluster: SlurmCluster, opts: PollerOptions = {}) {
    this.minMs = opts.minMs ?? envMs("OUTFLOW_SLURM_POLL_MIN_MS") ?? 200;
    this.maxMs = opts.maxMs ?? envMs("OUTFLOW_SLURM_POLL_MAX_MS") ?? 5000;
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
      this.entries.add({ watch, missingSince: new Map(), arrays: new Set(), resolve, reject });
      this.wake?.();
      this.loop ??= this.run().finally(() => (this.loop = undefined));
    });
  }

  /** Stops polling: every watch rejects with `error`. */
  stop(error: unknown): void {
    this.stopped = error;
    for (const e of this.entries) e.reject(error);
    this.entries.clear();
    this.wake?.();
  }

  private async run(): Promise<void> {
    let interval = this.minMs;
    let errors = 0;
    const started = Date.now();
    while (this.entries.size && this.stopped === undefined) {
      let progress = false;
      try {
        this.stats.cycles++;
        this.stats.queueCalls++;
        const rows = await this.cluster.queue([...new Set([...this.entries].map((e) => e.watch.name))]);
        errors = 0;
        for (const entry of [...this.entries]) {
          if (this.stopped !== undefined) return;
          try {
            if (await this.step(entry, rows)) progress = true;
          } catch (error) {
            this.entries.delete(entry);
            entry.reject(error);
            continue;
          }
          if (entry.watch.pending.size === 0) {
            this.entries.delete(entry);
            entry.resolve();
          }
        }
      } catch (error) {
        if (++errors >= this.maxErrors) {
          const e = error instanceof SlurmError ? error : new SlurmError(String(error));
          for (const entry of this.entries) entry.reject(e);
          this.entries.clear();
          return;
        }
      }
      if (!this.entries.size || this.stopped !== undefined) return;
      // Reset on progress, but to a floor that grows with the age of the watch (1/30 of it): short arrays
      // are noticed at once, a long one is polled every few seconds even while it steadily progresses.
      const floor = Math.min(this.maxMs, Math.max(this.minMs, (Date.now() - started) / 30));
      interval = progress ? floor : Math.min(this.maxMs, Math.max(floor, interval * 2));
      this.stats.intervalsMs.push(interval);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, interval);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  /** One cycle for one map; true when some task got resolved. */
  private async step(entry: Entry, rows: QueueRow[]): Promise<boolean> {
    const { watch } = entry;
    const byTask = new Map<number, { active: boolean; state: string; arrayJobId: string }>();
    for (const row of rows) {
      if (row.name !== watch.name || row.task === undefined) continue;
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
      if (existsSync(file)) {
        const status = parseExitStatus(readFileSync(file, "utf8")) ?? { exit: -1 };
        watch.pending.delete(task);
        await watch.onExit(task, status);
        progress = true;
        continue;
      }
      const since = entry.missingSince.get(task) ?? now;
      entry.missingSince.set(task, since);
      if ((info && KILLED_STATES.has(info.state)) || now - since >= this.graceMs) {
        watch.pending.delete(task);
        await watch.onLost(task, { state: info?.state, arrayJobId: info?.arrayJobId });
        progress = true;
      }
    }
    return progress;
  }
}
