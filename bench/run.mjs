// `npm run bench`: the performance figures of the README. Prints a table, writes bench/results/latest.json.
// Sections: build (vs tsc), start-up (vs bare node), per-task overhead, maps (vs the raw worker floor).
import { writeFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { spawnSync } from "node:child_process";
import { cpus, totalmem } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { bench, median, time, table, peakRss } from "./lib.mjs";

const repo = dirname(dirname(fileURLToPath(import.meta.url)));
const node = process.execPath;
const outflow = join(repo, "bin/outflow.mjs");
const chainRoot = join(repo, "bench/fixtures/chain");
const only = process.argv[2];
const rows = [];
const results = {};
const add = (section, name, value, unit, target = "") => {
  rows.push({ section, measure: name, value: typeof value === "number" ? +value.toFixed(value < 1 ? 4 : unit === "x" ? 2 : 1) : value, unit, target });
  results[`${section}.${name}`] = { value, unit, target };
};

time(node, [outflow, "build"], { cwd: repo });
time(node, [outflow, "build", "--root", chainRoot], { cwd: repo });

if (!only || only === "build") {
  const build = median([1, 2, 3].map(() => time(node, [outflow, "build"], { cwd: repo }).ms));
  const tsc = median([1, 2, 3].map(() => time(node, [join(repo, "node_modules/typescript/bin/tsc"), "--noEmit", "-p", "bench/tsconfig.plugins.json"], { cwd: repo }).ms));
  add("build", "outflow build (cold process)", build, "ms");
  add("build", "tsc --noEmit, same files", tsc, "ms");
  add("build", "ratio build / tsc", build / tsc, "x", "<= 2");
  // The graphs the booleans and enums that setup() reads build are recorded and checked too: 50 commands
  // with two booleans and a 3-option enum each, whose graphs depend on all three (8 distinct graphs per
  // command), against the same commands whose setup() reads no arg (one graph each).
  const dependent = variantsFixture(true);
  const plain = variantsFixture(false);
  const checkMs = (root) => median([1, 2, 3].map(() => time(node, [outflow, "build", "--check", "--root", root], { cwd: repo }).ms));
  const plainMs = checkMs(plain);
  const dependentMs = checkMs(dependent);
  add("build", "build --check, 50 commands, one graph each", plainMs, "ms");
  add("build", "same, graphs depend on 2 booleans + an enum (8 each)", dependentMs, "ms");
  add("build", "per further graph checked", (dependentMs - plainMs) / (50 * 7), "ms");
  for (const root of [dependent, plain]) rmSync(root, { recursive: true, force: true });
}

if (!only || only === "startup") {
  const bare = bench(node, ["-e", "0"], 15);
  const help = bench(node, ["dist/compute_data.js", "--help"], 15, { cwd: repo });
  const run = bench(node, ["dist/compute_data.js", "--multiplier", "3"], 10, { cwd: repo });
  add("startup", "node -e 0", bare, "ms");
  add("startup", "compute_data --help", help, "ms");
  add("startup", "ratio --help / bare node", help / bare, "x", "<= 1.5");
  add("startup", "compute_data --multiplier 3 (full run)", run, "ms");
}

if (!only || only === "tasks") {
  const chain = (n) => bench(node, [join(chainRoot, "dist/chain.js"), "--n", String(n)], 9);
  const one = chain(1);
  const fifty = chain(50);
  const many = chain(2000);
  add("tasks", "chain of 1 task", one, "ms");
  add("tasks", "chain of 50 tasks", fifty, "ms");
  add("tasks", "chain of 2000 tasks", many, "ms");
  add("tasks", "per-task overhead (2000-chain)", (many - one) / 1999, "ms", "<= 0.1");
}

if (!only || only === "records") {
  // Per-task overhead with run records: SQLite (the default file) and a throwaway PostgreSQL server.
  const chain = (n, extra = []) => bench(node, [join(chainRoot, "dist/chain_tracked.js"), "--n", String(n), ...extra], 5);
  const untracked = bench(node, [join(chainRoot, "dist/chain.js"), "--n", "3"], 9);
  const tracked3 = chain(3);
  add("records", "3-task run, untracked (db: false)", untracked, "ms");
  add("records", "3-task run, tracked on SQLite", tracked3, "ms");
  const s1 = chain(1);
  const s2000 = chain(2000);
  add("records", "per tracked task, SQLite (2000-chain)", (s2000 - s1) / 1999, "ms", "<= 0.1");
  const up = spawnSync(join(repo, "scripts/pg-up.sh"), [], { encoding: "utf8" });
  if (up.status === 0) {
    const vars = Object.fromEntries(up.stdout.trim().split("\n").map((l) => l.split("=")));
    const port = vars.PGPORT;
    const yml = join(chainRoot, "bench-pg.yml");
    writeFileSync(yml, `databases:\n  default:\n    dialect: postgresql\n    address: 127.0.0.1:${port}\n    database: postgres\n    user: { username: postgres, password: postgres }\n    admin: { username: postgres, password: postgres }\n`);
    try {
      time(node, [join(chainRoot, "dist/manage.js"), "management", "db", "upgrade", "heads", "--config", yml]);
      const p1 = chain(1, ["--config", yml]);
      const p2000 = chain(2000, ["--config", yml]);
      add("records", "per tracked task, PostgreSQL (2000-chain)", (p2000 - p1) / 1999, "ms", "<= 0.1 (SQLite target)");
    } finally {
      spawnSync(join(repo, "scripts/pg-down.sh"), [vars.PGDIR]);
      rmSync(yml, { force: true });
    }
  } else {
    add("records", "per tracked task, PostgreSQL", "skipped: " + up.stderr.trim().split("\n")[0], "");
  }
}

if (!only || only === "maps") {
  const env = (items) => ({ env: { BENCH_ITEMS: String(items) } });
  // A difference of two whole-process medians: 7 runs each, the VM's noise is tens of ms.
  const mapRun = (cmd, items, backend) => bench(node, [join(chainRoot, `dist/${cmd}.js`), "--backend", backend], 7, env(items));
  const empty = mapRun("fine_map", 1, "threads");
  const seq = mapRun("fine_map", 100000, "sequential");
  const thr = mapRun("fine_map", 100000, "threads");
  const floor = median([1, 2, 3, 4, 5].map(() => JSON.parse(time(node, [join(repo, "bench/floor.mjs"), "100000"]).stdout).ms));
  add("maps", "100k trivial elements, sequential", seq, "ms");
  add("maps", "100k trivial elements, threads", thr, "ms");
  add("maps", "threads map time (minus 1-element run)", thr - empty, "ms");
  add("maps", "raw worker dispatch floor, 100k", floor, "ms");
  add("maps", "ratio threads map / floor", (thr - empty) / floor, "x", "<= 1.5");
  // Like for like: the cost of the 99,999 more elements alone, on both sides. outflow's from its map's
  // DEBUG line (100k run minus 1-element run), the floor's from its own timer (the same difference).
  const mapMs = (items) => median([1, 2, 3, 4, 5, 6, 7].map(() => 1000 * Number(/map\(results\): \d+ elements? in ([\d.]+) s/.exec(time(node, [join(chainRoot, "dist/fine_map.js"), "--backend", "threads", "--log-level", "DEBUG"], env(items)).stderr)?.[1])));
  const floorMs = (n) => median([1, 2, 3, 4, 5, 6, 7].map(() => JSON.parse(time(node, [join(repo, "bench/floor.mjs"), String(n)]).stdout).ms));
  const ownExtra = mapMs(100000) - mapMs(1);
  const floorExtra = floorMs(100000) - floorMs(1);
  add("maps", "100k vs 1 element, threads map's own time (DEBUG line)", ownExtra, "ms");
  add("maps", "100k vs 1 element, raw floor's own timer", floorExtra, "ms");
  add("maps", "ratio of the two (per-element cost, like for like)", ownExtra / floorExtra, "x");
  // At 1e6 elements the workers' cold start (their code runs unoptimized for the first batches) is spread
  // thin: the whole map against the whole floor, each timing itself (both include waiting for workers).
  const ownBig = mapMs(1_000_000);
  const floorMillion = floorMs(1_000_000);
  add("maps", "1e6 trivial elements, threads map's own time (DEBUG line)", ownBig, "ms");
  add("maps", "1e6 trivial elements, raw floor's own timer", floorMillion, "ms");
  add("maps", "ratio of the two at 1e6", ownBig / floorMillion, "x");
  // Tracked maps: every element is a task record (element + its task), written in batches.
  const tracked = (items, backend) => bench(node, [join(chainRoot, "dist/fine_map_tracked.js"), "--backend", backend], 3, env(items));
  for (const backend of ["sequential", "threads"]) {
    const one = tracked(1, backend);
    const many = tracked(10000, backend);
    add("maps", `per tracked element, ${backend} (10k map vs 1)`, (many - one) / 9999, "ms");
  }
  // Interleaved medians of 3: a 2-core VM's noise hits both alike. Two figures each: the whole process
  // (node's start, the bundle's, the pool's) and the map's own wall time, from the DEBUG line every map logs.
  // The same elements without outflow (bench/cpu-floor.mjs: bare workers from a tiny file): the whole
  // process, and its own timer from before the workers start to the last result.
  const mapSeconds = (stderr) => Number(/map\(results\): \d+ elements in ([\d.]+) s/.exec(stderr)?.[1]) * 1000;
  const cpu = { seq: [], thr: [], mapSeq: [], mapThr: [], floorSeq: [], floorThr: [], floorInSeq: [], floorInThr: [] };
  for (let i = 0; i < 3; i++) {
    for (const [backend, whole, own] of [["sequential", cpu.seq, cpu.mapSeq], ["threads", cpu.thr, cpu.mapThr]]) {
      const r = time(node, [join(chainRoot, "dist/cpu_map.js"), "--backend", backend, "--log-level", "DEBUG"], env(8));
      whole.push(r.ms);
      own.push(mapSeconds(r.stderr));
    }
    for (const [mode, whole, own] of [["sequential", cpu.floorSeq, cpu.floorInSeq], ["threads", cpu.floorThr, cpu.floorInThr]]) {
      const r = time(node, [join(repo, "bench/cpu-floor.mjs"), "8", mode]);
      whole.push(r.ms);
      own.push(JSON.parse(r.stdout).ms);
    }
  }
  const m = Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, median(v)]));
  add("maps", "8 x 0.5 s CPU elements, the map's own time, sequential", m.mapSeq, "ms");
  add("maps", "8 x 0.5 s CPU elements, the map's own time, threads", m.mapThr, "ms");
  add("maps", "speedup of the map, threads / sequential", m.mapSeq / m.mapThr, "x", ">= 1.9");
  add("maps", "raw floor: bare workers' own timer, speedup", m.floorInSeq / m.floorInThr, "x");
  add("maps", "8 x 0.5 s CPU elements, whole process, sequential", m.seq, "ms");
  add("maps", "8 x 0.5 s CPU elements, whole process, threads", m.thr, "ms");
  add("maps", "speedup of the whole process, threads / sequential", m.seq / m.thr, "x");
  add("maps", "raw floor: bare workers, whole process, speedup", m.floorSeq / m.floorThr, "x");
  const rssMedian = (args) => median([1, 2, 3].map(() => peakRss(node, args.cmd, args.opts)));
  const base = rssMedian({ cmd: [join(chainRoot, "dist/fine_map.js"), "--backend", "threads"], opts: env(1) });
  const big = rssMedian({ cmd: [join(chainRoot, "dist/fine_map.js"), "--backend", "threads"], opts: env(1_000_000) });
  // The same shape without outflow: bench/floor.mjs builds the 1e6 input and output arrays and dispatches them to workers.
  const floorBase = rssMedian({ cmd: [join(repo, "bench/floor.mjs"), "1"], opts: {} });
  const floorBig = rssMedian({ cmd: [join(repo, "bench/floor.mjs"), "1000000"], opts: {} });
  if (base && big) {
    const dataMiB = (1_000_000 * 8) / 2 ** 20;
    add("maps", "1e6-number map: peak RSS over a 1-element run", (big - base) / 1024, "MiB");
    add("maps", "1e6-number map: data (1e6 float64)", dataMiB, "MiB");
    add("maps", "ratio RSS growth / data", (big - base) / 1024 / dataMiB, "x", "<= 3");
    const seqBase = rssMedian({ cmd: [join(chainRoot, "dist/fine_map.js"), "--backend", "sequential"], opts: env(1) });
    const seqBig = rssMedian({ cmd: [join(chainRoot, "dist/fine_map.js"), "--backend", "sequential"], opts: env(1_000_000) });
    if (seqBase && seqBig) add("maps", "same map, sequential: RSS growth / data", (seqBig - seqBase) / 1024 / dataMiB, "x");
    // Ten times the data: what grows with the data (the input and the results, 2x) against what a warm pool
    // costs once (each thread's optimized code and young generation), which the 1e6 ratio includes.
    const huge = rssMedian({ cmd: [join(chainRoot, "dist/fine_map.js"), "--backend", "threads"], opts: env(10_000_000) });
    const seqHuge = rssMedian({ cmd: [join(chainRoot, "dist/fine_map.js"), "--backend", "sequential"], opts: env(10_000_000) });
    if (huge) {
      add("maps", "1e7-number map on threads: RSS growth / data (76 MiB)", (huge - base) / 1024 / (10 * dataMiB), "x");
      add("maps", "1e6 -> 1e7 on threads: extra RSS / extra data", (huge - big) / 1024 / (9 * dataMiB), "x");
    }
    if (seqHuge && seqBase) add("maps", "1e7-number map, sequential: RSS growth / data", (seqHuge - seqBase) / 1024 / (10 * dataMiB), "x");
    if (floorBase && floorBig) {
      add("maps", "raw worker floor, same 1e6 map: RSS growth / data", (floorBig - floorBase) / 1024 / dataMiB, "x");
      add("maps", "ratio RSS growth outflow / raw floor", (big - base) / (floorBig - floorBase), "x");
    }
    // The leanest hand-written program (bench/floor.mjs packed: transferred, reused batches).
    const leanBase = rssMedian({ cmd: [join(repo, "bench/floor.mjs"), "1", "packed"], opts: {} });
    const leanBig = rssMedian({ cmd: [join(repo, "bench/floor.mjs"), "1000000", "packed"], opts: {} });
    if (leanBase && leanBig) {
      add("maps", "leanest raw program, same 1e6 map: RSS growth / data", (leanBig - leanBase) / 1024 / dataMiB, "x");
      add("maps", "ratio RSS growth outflow / leanest raw program", (big - base) / (leanBig - leanBase), "x");
    }
  }
  // The README's memory tip (a small young generation) against its cost to tasks that allocate.
  for (const kind of ["arrays", "strings"]) {
    const ms = (flags) => median([1, 2, 3].map(() => JSON.parse(time(node, [...flags, join(repo, "bench/young-gen.mjs"), kind]).stdout).ms));
    const plain = ms([]);
    const small = ms(["--max-semi-space-size=2"]);
    add("maps", `allocating task (${kind}) in a worker, default / --max-semi-space-size=2`, `${plain.toFixed(0)} / ${small.toFixed(0)}`, "ms");
    add("maps", `cost of the small young generation (${kind})`, small / plain, "x");
  }
}

if (!only || only === "slurm") {
  // The slurm backend (needs a running Slurm: scripts/slurm-up.sh as root).
  const { benchSlurm } = await import("./slurm.mjs");
  try {
    const r = await benchSlurm({ n: 100, runs: 2, quiet: true });
    if (r.skipped) throw new Error(r.skipped);
    add("slurm", "raw sbatch --array of `true`, 100 tasks", r.rawTrueMs, "ms");
    add("slurm", "raw sbatch --array of `node -e 0`, 100 tasks", r.rawNodeMs, "ms");
    add("slurm", "outflow --backend slurm, 100 trivial elements, 1 per array task (default)", r.outflowMs, "ms");
    add("slurm", `outflow, elementsPerTask "auto" (${r.packed.tasks} tasks of ${r.packed.perTask})`, r.packed.ms, "ms");
    add("slurm", `outflow, 2 waves instead (${r.packed.twoWaves.tasks} tasks of ${r.packed.twoWaves.perTask})`, r.packed.twoWaves.ms, "ms");
    add("slurm", "ratio outflow default / raw `true`", r.ratioVsRawTrue, "x", "<= 1.3");
    add("slurm", "ratio outflow default / raw `node -e 0`", r.ratioVsRawNode, "x");
    add("slurm", 'ratio outflow "auto" / raw `true`', r.packed.ratioVsRawTrue, "x", "<= 1.3");
    add("slurm", 'ratio outflow "auto" / raw `node -e 0`', r.packed.ratioVsRawNode, "x");
    add("slurm", "controller calls per poll cycle, N=100", r.controllerCallsPerCycle[100], "calls", "1");
    add("slurm", "controller calls per poll cycle, N=10", r.controllerCallsPerCycle[10], "calls", "1");
    add("slurm", 'controller calls per poll cycle, "auto", N=100 / N=10', Math.max(r.controllerCallsPerCycle["100 auto"], r.controllerCallsPerCycle["10 auto"]), "calls", "1");
  } catch (e) {
    add("slurm", "100-element array", "skipped: " + String(e.message ?? e).split("\n")[0], "");
  }
}

const machine = { cpu: cpus()[0]?.model, cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, date: new Date().toISOString() };
console.log(`outflow bench — ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node}\n`);
console.log(table(rows));
mkdirSync(join(repo, "bench/results"), { recursive: true });
const file = join(repo, "bench/results", only ? `latest-${only}.json` : "latest.json");
writeFileSync(file, JSON.stringify({ machine, results }, null, 2) + "\n");
console.log(`\nwrote ${file}`);

/** A pipeline of 50 commands with args `a`, `b` (booleans) and `mode` (an enum); `dependent`: their graphs depend on them. */
function variantsFixture(dependent) {
  const root = mkdtempSync(join(tmpdir(), "outflow-bench-variants-"));
  const write = (rel, text) => {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), text);
  };
  write("outflow.config.ts", `import { defineConfig } from "outflow";\n\nexport default defineConfig({ plugins: ["v"] });\n`);
  write("tsconfig.json", JSON.stringify({ compilerOptions: { target: "ES2022", module: "ESNext", moduleResolution: "bundler", strict: true, noEmit: true, skipLibCheck: true, types: ["node"], typeRoots: [join(repo, "node_modules/@types")], paths: { outflow: [join(repo, "runtime/index.ts")] } }, include: ["plugins", "outflow.config.ts"] }));
  write("plugins/v/tasks.ts", `import { task } from "outflow";
export const Seed = task(function Seed(): { value: number } { return { value: 1 }; });
export const Step = task(function Step(value: number): { value: number } { return { value: value + 1 }; });
export const Use = task(function Use(value: number): void {});
`);
  const body = dependent ? `let s = Seed(); if (args.a) s = s.pipe(Step()); if (args.b) s = s.pipe(Step()); if (args.mode === "z") s = s.pipe(Step()); s.pipe(Use());` : `Seed().pipe(Step()).pipe(Use());`;
  const commands = Array.from({ length: 50 }, (_, i) => `export const c${i} = command({ args: { a: { type: "boolean" }, b: { type: "boolean" }, mode: { type: "enum", options: ["x", "y", "z"] } }, setup({ args }) { ${body} } });`);
  write("plugins/v/commands.ts", `import { command } from "outflow";\nimport { Seed, Step, Use } from "./tasks.js";\n${commands.join("\n")}\n`);
  return root;
}
