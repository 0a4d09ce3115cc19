/** The poller against a fake cluster (no Slurm needed): status files resolve tasks between squeue cycles. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { QueueRow, SlurmCluster } from "../../runtime/backends/slurm/cluster.js";
import { Poller } from "../../runtime/backends/slurm/poller.js";

const base = mkdtempSync(join(tmpdir(), "outflow-poller-"));
afterAll(() => rmSync(base, { recursive: true, force: true }));

/** A cluster whose squeue reports every task of `tasks` as `state`, whatever happens on disk. */
function fakeCluster(name: string, tasks: number[], state: () => string) {
  const calls = { squeue: 0 };
  const cluster = {
    async queue(): Promise<QueueRow[]> {
      calls.squeue++;
      return tasks.map((task) => ({ name, arrayJobId: "77", task, state: state() }));
    },
  } as unknown as SlurmCluster;
  return { cluster, calls };
}

function statusDir(name: string): string {
  const dir = join(base, name, "status");
  mkdirSync(dir, { recursive: true });
  return dir;
}

describe("poller", () => {
  it("resolves tasks from their status files while squeue still says RUNNING, and ends without another squeue", async () => {
    const dir = statusDir("a");
    const { cluster, calls } = fakeCluster("job-a", [0, 1, 2], () => "RUNNING");
    const poller = new Poller(cluster, { minMs: 60_000, maxMs: 60_000, filesMs: 20 });
    const seen: [number, number][] = [];
    const watched = poller.watch({
      name: "job-a",
      pending: new Set([0, 1, 2]),
      exitFile: (t) => join(dir, `${t}.exit`),
      statusDir: dir,
      onExit: (t, s) => void seen.push([t, s.exit]),
      onLost: () => {
        throw new Error("nothing is lost here");
      },
    });
    setTimeout(() => writeFileSync(join(dir, "1.exit"), "exit=0\n"), 50);
    setTimeout(() => {
      writeFileSync(join(dir, "0.exit"), "exit=3\n");
      writeFileSync(join(dir, "2.exit"), "exit=0\n");
    }, 120);
    await watched;
    expect(seen.sort()).toEqual([[0, 3], [1, 0], [2, 0]]);
    expect(poller.stats.resolvedByFiles).toBe(3);
    expect(poller.stats.resolvedByQueue).toBe(0);
    expect(poller.stats.watchesEndedByFiles).toBe(1);
    // The first squeue went out at once; the next one is due only after a minute.
    expect(calls.squeue).toBe(1);
    expect(poller.stats.queueCalls).toBe(calls.squeue);
    expect(poller.stats.fileChecks).toBeGreaterThan(calls.squeue);
  });

  it("takes no stale status file of a task still queued, only the one that replaces it", async () => {
    const dir = statusDir("b");
    writeFileSync(join(dir, "0.exit"), "exit=1\n");
    const { cluster } = fakeCluster("job-b", [0], () => "RUNNING");
    const poller = new Poller(cluster, { minMs: 60_000, maxMs: 60_000, filesMs: 20 });
    const seen: number[] = [];
    const watched = poller.watch({ name: "job-b", pending: new Set([0]), mayBeStale: [0], exitFile: (t) => join(dir, `${t}.exit`), statusDir: dir, onExit: (_t, s) => void seen.push(s.exit), onLost: () => {} });
    await new Promise((r) => setTimeout(r, 100));
    expect(seen).toEqual([]);
    writeFileSync(join(dir, "0.exit.tmp"), "exit=0\n");
    const { renameSync } = await import("node:fs");
    renameSync(join(dir, "0.exit.tmp"), join(dir, "0.exit"));
    await watched;
    expect(seen).toEqual([0]);
  });

  it("takes at once a status file written before the watch began by a task that was just submitted", async () => {
    const dir = statusDir("d");
    writeFileSync(join(dir, "0.exit"), "exit=0\n");
    const { cluster, calls } = fakeCluster("job-d", [0, 1], () => "RUNNING");
    const poller = new Poller(cluster, { minMs: 60_000, maxMs: 60_000, filesMs: 20 });
    const seen: number[] = [];
    const watched = poller.watch({ name: "job-d", pending: new Set([0, 1]), exitFile: (t) => join(dir, `${t}.exit`), statusDir: dir, onExit: (t) => void seen.push(t), onLost: () => {} });
    setTimeout(() => writeFileSync(join(dir, "1.exit"), "exit=0\n"), 60);
    await watched;
    expect(seen).toEqual([0, 1]);
    expect(calls.squeue).toBe(1);
  });

  it("still finds a task Slurm killed without a status file (squeue's job), and with file checks off uses squeue alone", async () => {
    const dir = statusDir("c");
    let state = "RUNNING";
    const { cluster, calls } = fakeCluster("job-c", [0, 1], () => state);
    const poller = new Poller(cluster, { minMs: 30, maxMs: 60, filesMs: 0 });
    const lost: [number, string | undefined][] = [];
    const exits: number[] = [];
    const watched = poller.watch({ name: "job-c", pending: new Set([0, 1]), exitFile: (t) => join(dir, `${t}.exit`), statusDir: dir, onExit: (t) => void exits.push(t), onLost: (t, l) => void lost.push([t, l.state]) });
    setTimeout(() => {
      writeFileSync(join(dir, "1.exit"), "exit=0\n");
      state = "TIMEOUT";
    }, 100);
    await watched;
    expect(exits).toEqual([1]);
    expect(lost).toEqual([[0, "TIMEOUT"]]);
    expect(poller.stats.fileChecks).toBe(0);
    expect(poller.stats.resolvedByQueue).toBe(2);
    expect(calls.squeue).toBe(poller.stats.cycles);
  });

  it("takes the tasks of a scancelled array that had not started as lost at once (squeue folds them into one N/A row), not after the grace period", async () => {
    const dir = statusDir("e");
    let squeueCalls = 0;
    const cluster = {
      async queue(): Promise<QueueRow[]> {
        squeueCalls++;
        // Task 0 is still running; 1 and 2 were pending when the array was cancelled.
        return [
          { name: "job-e", arrayJobId: "80", task: undefined, state: "CANCELLED" },
          { name: "job-e", arrayJobId: "80", task: 0, state: "RUNNING" },
        ];
      },
    } as unknown as SlurmCluster;
    const poller = new Poller(cluster, { minMs: 60_000, maxMs: 60_000, filesMs: 20, graceMs: 60_000 });
    const lost: [number, string | undefined][] = [];
    const exits: number[] = [];
    const watched = poller.watch({ name: "job-e", pending: new Set([0, 1, 2]), exitFile: (t) => join(dir, `${t}.exit`), statusDir: dir, onExit: (t) => void exits.push(t), onLost: (t, l) => void lost.push([t, l.state]) });
    setTimeout(() => writeFileSync(join(dir, "0.exit"), "exit=0\n"), 80);
    await watched;
    expect(lost.sort()).toEqual([[1, "CANCELLED"], [2, "CANCELLED"]]);
    expect(exits).toEqual([0]);
    expect(squeueCalls).toBe(1);
  });

  it("refresh() asks squeue at once instead of at the next cycle", async () => {
    let squeueCalls = 0;
    let state = "RUNNING";
    const cluster = {
      async queue(): Promise<QueueRow[]> {
        squeueCalls++;
        return [{ name: "job-f", arrayJobId: "81", task: 0, state }];
      },
    } as unknown as SlurmCluster;
    const dir = statusDir("f");
    const poller = new Poller(cluster, { minMs: 60_000, maxMs: 60_000, filesMs: 20, graceMs: 60_000 });
    const lost: number[] = [];
    const watched = poller.watch({ name: "job-f", pending: new Set([0]), exitFile: (t) => join(dir, `${t}.exit`), statusDir: dir, onExit: () => {}, onLost: (t) => void lost.push(t) });
    await new Promise((r) => setTimeout(r, 60));
    state = "CANCELLED";
    poller.refresh();
    await watched;
    expect(lost).toEqual([0]);
    expect(squeueCalls).toBe(2);
  });
});
