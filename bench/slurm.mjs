// The slurm backend against raw Slurm: a map of N trivial elements (bench/fixtures/chain `fine_map`)
// run with `--backend slurm`, versus a raw `sbatch --array=0-(N-1)` of a trivial script polled the same
// way (one squeue per cycle, 0.2 s doubling to 5 s, reset on progress). Also: Slurm controller calls per
// poll cycle (target 1 whatever N) and the driver's peak memory as N grows.
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

function outflowArray(dir, n, extra = []) {
  const stats = join(dir, `stats-${n}-${Date.now()}.json`);
  const t0 = performance.now();
  const r = sh(node, [join(chainRoot, "dist/fine_map.js"), "--backend", "slurm", "--slurm-dir", join(dir, "runs"), ...extra], {
    env: { ...process.env, NO_COLOR: "1", BENCH_ITEMS: String(n), OUTFLOW_SLURM_STATS: stats },
  });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`fine_map --backend slurm exited ${r.status}: ${r.stderr}`);
  return { ms, stats: JSON.parse(readFileSync(stats, "utf8")) };
}

export async function benchSlurm({ n = 100, runs = 2, quiet = false } = {}) {
  const sinfo = sh("sinfo", ["--noheader", "--format=%T"]);
  if (sinfo.error || sinfo.status !== 0) {
    const reason = `no Slurm here (${sinfo.error ? sinfo.error.message : sinfo.stderr.trim()}); run scripts/slurm-up.sh as root`;
    if (!quiet) process.stdout.write(`bench/slurm skipped: ${reason}\n`);
    return { skipped: reason };
  }
  if (!existsSync(join(chainRoot, "dist/fine_map.js"))) {
    const b = sh(node, [join(repo, "bin/outflow.mjs"), "build", "--root", chainRoot], { cwd: repo });
    if (b.status !== 0) throw new Error(`outflow build of the bench fixture failed: ${b.stderr}`);
  }
  const dir = mkdtempSync(join(tmpdir(), "outflow-bench-slurm-"));
  try {
    const raw = [];
    const rawNode = [];
    const ours = [];
    for (let i = 0; i < runs; i++) {
      // Interleaved, so background load hits all three alike.
      raw.push(await rawArray(dir, n, "true"));
      rawNode.push(await rawArray(dir, n, `${JSON.stringify(node)} -e 0`));
      ours.push(outflowArray(dir, n));
    }
    const small = outflowArray(dir, 10);
    const rawMs = median(raw.map((r) => r.ms));
    const rawNodeMs = median(rawNode.map((r) => r.ms));
    const oursMs = median(ours.map((r) => r.ms));
    const perCycle = (s) => (s.calls.squeue + s.calls.scontrol - 1 /* scontrol show config, once */) / s.poll.cycles;
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
      controllerCallsPerCycle: { [n]: perCycle(ours[0].stats), 10: perCycle(small.stats) },
      pollCycles: { [n]: ours[0].stats.poll.cycles, 10: small.stats.poll.cycles, rawTrue: raw[0].cycles },
      sbatchCalls: ours[0].stats.calls.sbatch,
      driverPeakRssKiB: { 1000: rssSmall, 100000: rssLarge },
    };
    if (!quiet) {
      const r1 = (v) => +v.toFixed(2);
      process.stdout.write(
        table([
          { measure: `raw sbatch --array of \`true\` (${n} tasks)`, value: Math.round(rawMs), unit: "ms", target: "" },
          { measure: `raw sbatch --array of \`node -e 0\` (${n} tasks)`, value: Math.round(rawNodeMs), unit: "ms", target: "" },
          { measure: `outflow --backend slurm, ${n} trivial elements`, value: Math.round(oursMs), unit: "ms", target: "" },
          { measure: "ratio outflow / raw `true`", value: r1(results.ratioVsRawTrue), unit: "x", target: "<= 1.3" },
          { measure: "ratio outflow / raw `node -e 0`", value: r1(results.ratioVsRawNode), unit: "x", target: "<= 1.3" },
          { measure: `controller calls per poll cycle (N=${n})`, value: r1(results.controllerCallsPerCycle[n]), unit: "calls", target: "1" },
          { measure: "controller calls per poll cycle (N=10)", value: r1(results.controllerCallsPerCycle[10]), unit: "calls", target: "1" },
          { measure: `poll cycles (N=${n} / N=10)`, value: `${results.pollCycles[n]} / ${results.pollCycles[10]}`, unit: "", target: "" },
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
