// The slurm backend against raw Slurm: a map of N trivial elements (bench/fixtures/chain `fine_map`, one
// element per array task, the default; `fine_map_packed`, `elementsPerTask: "auto"`) run with
// `--backend slurm`, versus a raw `sbatch --array=0-(N-1)` of a trivial script (`true`, and `node -e 0`:
// the cost of starting node per task) polled with one squeue per cycle, 0.2 s doubling to 5 s, reset on
// progress. Also: packing in two waves instead of one (what "auto" does), Slurm controller calls per poll
// cycle (target 1 whatever N) and the driver's peak memory as N grows.
//
//   node bench/slurm.mjs [--n 100] [--runs 2]        prints a table, writes bench/results/slurm.json
//   import { benchSlurm } from "./slurm.mjs"           returns the same JSON (for bench/run.mjs)
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { median, peakRss, table } from "./lib.mjs";

const repo = dirname(dirname(fileURLToPath(import.meta.url)));
const chainRoot = join(repo, "bench/fixtures/chain");
const node = process.execPath;

function sh(cmd, args, opts = {}) {
  return spawnSync(cmd, args, { encoding: "utf8", ...opts });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls like the backend does: one squeue call per cycle, adaptive interval. Returns the cycles used. */
async function pollUntilDone(jobId) {
  let interval = 200;
  let cycles = 0;
  let last = Infinity;
  for (;;) {
    cycles++;
    const r = sh("squeue", ["--noheader", "--array", `--jobs=${jobId}`, "--format=%K"]);
    const active = r.status === 0 ? r.stdout.split("\n").filter(Boolean).length : 0;
    if (active === 0) return cycles;
    interval = active < last ? 200 : Math.min(5000, interval * 2);
    last = active;
    await sleep(interval);
  }
}

async function rawArray(dir, n, body) {
  const script = join(dir, `raw-${body.replace(/\W+/g, "_")}.sh`);
  writeFileSync(script, `#!/bin/bash\n#SBATCH --job-name=outflow-bench-raw\n#SBATCH --array=0-${n - 1}\n#SBATCH --output=/dev/null\n#SBATCH --cpus-per-task=1\n${body}\n`);
  const t0 = performance.now();
  const sub = sh("sbatch", ["--parsable", script], { cwd: dir });
  if (sub.status !== 0) throw new Error(`sbatch: ${sub.stderr}`);
  const cycles = await pollUntilDone(sub.stdout.trim().split(";")[0]);
  return { ms: performance.now() - t0, cycles };
}

function outflowArray(dir, n, bundle = "fine_map", extra = []) {
  const stats = join(dir, `stats-${bundle}-${n}-${Date.now()}.json`);
  const t0 = performance.now();
  const r = sh(node, [join(chainRoot, `dist/${bundle}.js`), "--backend", "slurm", "--slurm-dir", join(dir, "runs"), ...extra], {
    env: { ...process.env, NO_COLOR: "1", BENCH_ITEMS: String(n), OUTFLOW_SLURM_STATS: stats },
  });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${bundle} --backend slurm exited ${r.status}: ${r.stderr}`);
  const s = JSON.parse(readFileSync(stats, "utf8"));
  const map = JSON.parse(readFileSync(join(s.runDir, "map-1", "map.json"), "utf8"));
  return { ms, stats: s, map };
}

/**
 * Controller calls per poll cycle: every squeue / scontrol / sinfo call, less the once-per-run reads
 * (`scontrol show config` for MaxArraySize, `sinfo` for the partition CPUs of "auto"), over the cycles.
 */
const perCycle = (s) => (s.calls.squeue + s.calls.scontrol - 1 + (s.calls.sinfo ?? 0) - Math.min(1, s.calls.sinfo ?? 0)) / s.poll.cycles;

export async function benchSlurm({ n = 100, runs = 2, quiet = false } = {}) {
  const sinfo = sh("sinfo", ["--noheader", "--format=%T"]);
  if (sinfo.error || sinfo.status !== 0) {
    const reason = `no Slurm here (${sinfo.error ? sinfo.error.message : sinfo.stderr.trim()}); run scripts/slurm-up.sh as root`;
    if (!quiet) process.stdout.write(`bench/slurm skipped: ${reason}\n`);
    return { skipped: reason };
  }
  if (!existsSync(join(chainRoot, "dist/fine_map_packed.js"))) {
    const b = sh(node, [join(repo, "bin/outflow.mjs"), "build", "--root", chainRoot], { cwd: repo });
    if (b.status !== 0) throw new Error(`outflow build of the bench fixture failed: ${b.stderr}`);
  }
  const dir = mkdtempSync(join(tmpdir(), "outflow-bench-slurm-"));
  try {
    const raw = [];
    const rawNode = [];
    const ours = [];
    const packed = [];
    const twoWaves = [];
    for (let i = 0; i < runs; i++) {
      // Interleaved, so background load hits all alike.
      raw.push(await rawArray(dir, n, "true"));
      rawNode.push(await rawArray(dir, n, `${JSON.stringify(node)} -e 0`));
      ours.push(outflowArray(dir, n));
      packed.push(outflowArray(dir, n, "fine_map_packed"));
      // The same slots filled twice: half the elements per array task.
      const slots = packed[0].map.slots;
      twoWaves.push(outflowArray(dir, n, "fine_map_packed", ["--per-task", String(Math.ceil(n / (2 * slots)))]));
    }
    const small = outflowArray(dir, 10);
    const smallPacked = outflowArray(dir, 10, "fine_map_packed");
    const rawMs = median(raw.map((r) => r.ms));
    const rawNodeMs = median(rawNode.map((r) => r.ms));
    const oursMs = median(ours.map((r) => r.ms));
    const packedMs = median(packed.map((r) => r.ms));
    const twoWavesMs = median(twoWaves.map((r) => r.ms));
    // Driver memory as N grows: --emit-only streams the inputs to files and stops before submitting.
    const rss = (items) => peakRss(node, [join(chainRoot, "dist/fine_map.js"), "--backend", "slurm", "--emit-only", "--slurm-dir", join(dir, "emit")], { env: { ...process.env, BENCH_ITEMS: String(items) } });
    const rssSmall = rss(1000);
    const rssLarge = rss(100000);
    const results = {
      n,
      runs,
      rawTrueMs: rawMs,
      rawNodeMs,
      outflowMs: oursMs,
      ratioVsRawTrue: oursMs / rawMs,
      ratioVsRawNode: oursMs / rawNodeMs,
      packed: {
        slots: packed[0].map.slots,
        perTask: packed[0].map.perTask,
        tasks: packed[0].map.tasks,
        ms: packedMs,
        ratioVsRawTrue: packedMs / rawMs,
        ratioVsRawNode: packedMs / rawNodeMs,
        twoWaves: { perTask: twoWaves[0].map.perTask, tasks: twoWaves[0].map.tasks, ms: twoWavesMs },
      },
      controllerCallsPerCycle: { [n]: perCycle(ours[0].stats), 10: perCycle(small.stats), [`${n} auto`]: perCycle(packed[0].stats), "10 auto": perCycle(smallPacked.stats) },
      pollCycles: { [n]: ours[0].stats.poll.cycles, 10: small.stats.poll.cycles, [`${n} auto`]: packed[0].stats.poll.cycles, rawTrue: raw[0].cycles },
      statusFileChecks: { [n]: ours[0].stats.poll.fileChecks, [`${n} auto`]: packed[0].stats.poll.fileChecks },
      sbatchCalls: ours[0].stats.calls.sbatch,
      driverPeakRssKiB: { 1000: rssSmall, 100000: rssLarge },
    };
    if (!quiet) {
      const r1 = (v) => +v.toFixed(2);
      const p = results.packed;
      process.stdout.write(
        table([
          { measure: `raw sbatch --array of \`true\` (${n} tasks)`, value: Math.round(rawMs), unit: "ms", target: "" },
          { measure: `raw sbatch --array of \`node -e 0\` (${n} tasks)`, value: Math.round(rawNodeMs), unit: "ms", target: "" },
          { measure: `outflow --backend slurm, ${n} trivial elements, 1 per array task`, value: Math.round(oursMs), unit: "ms", target: "" },
          { measure: `outflow, elementsPerTask "auto" (${p.slots} slots: ${p.tasks} tasks of ${p.perTask})`, value: Math.round(packedMs), unit: "ms", target: "" },
          { measure: `outflow, 2 waves (${p.twoWaves.tasks} tasks of ${p.twoWaves.perTask})`, value: Math.round(twoWavesMs), unit: "ms", target: "" },
          { measure: "ratio outflow default / raw `true`", value: r1(results.ratioVsRawTrue), unit: "x", target: "<= 1.3" },
          { measure: "ratio outflow default / raw `node -e 0`", value: r1(results.ratioVsRawNode), unit: "x", target: "" },
          { measure: 'ratio outflow "auto" / raw `true`', value: r1(p.ratioVsRawTrue), unit: "x", target: "<= 1.3" },
          { measure: 'ratio outflow "auto" / raw `node -e 0`', value: r1(p.ratioVsRawNode), unit: "x", target: "" },
          { measure: `controller calls per poll cycle (N=${n} / N=10)`, value: `${r1(results.controllerCallsPerCycle[n])} / ${r1(results.controllerCallsPerCycle[10])}`, unit: "calls", target: "1" },
          { measure: `controller calls per poll cycle, "auto" (N=${n} / N=10)`, value: `${r1(results.controllerCallsPerCycle[`${n} auto`])} / ${r1(results.controllerCallsPerCycle["10 auto"])}`, unit: "calls", target: "1" },
          { measure: `squeue cycles (N=${n} / N=10 / N=${n} "auto")`, value: `${results.pollCycles[n]} / ${results.pollCycles[10]} / ${results.pollCycles[`${n} auto`]}`, unit: "", target: "" },
          { measure: "driver peak RSS, --emit-only N=1e3", value: rssSmall ?? "n/a", unit: "KiB", target: "" },
          { measure: "driver peak RSS, --emit-only N=1e5", value: rssLarge ?? "n/a", unit: "KiB", target: "~flat" },
        ]) + "\n",
      );
    }
    return results;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name, fallback) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : fallback;
  };
  const results = await benchSlurm({ n: arg("n", 100), runs: arg("runs", 2) });
  mkdirSync(join(repo, "bench/results"), { recursive: true });
  writeFileSync(join(repo, "bench/results/slurm.json"), JSON.stringify(results, null, 2) + "\n");
}
