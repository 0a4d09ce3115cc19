// `npm run bench`: the performance figures of the README. Prints a table, writes bench/results/latest.json.
// Sections: build (vs tsc), start-up (vs bare node), per-task overhead, maps (vs the raw worker floor).
import { writeFileSync, mkdirSync } from "node:fs";
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
  rows.push({ section, measure: name, value: typeof value === "number" ? +value.toFixed(value < 1 ? 4 : 1) : value, unit, target });
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
  add("tasks", "per-task overhead (50-chain)", (fifty - one) / 49, "ms", "<= 0.1");
  add("tasks", "per-task overhead (2000-chain)", (many - one) / 1999, "ms", "<= 0.1");
}

if (!only || only === "maps") {
  const env = (items) => ({ env: { BENCH_ITEMS: String(items) } });
  const mapRun = (cmd, items, backend) => bench(node, [join(chainRoot, `dist/${cmd}.js`), "--backend", backend], 3, env(items));
  const empty = mapRun("fine_map", 1, "threads");
  const seq = mapRun("fine_map", 100000, "sequential");
  const thr = mapRun("fine_map", 100000, "threads");
  const floor = median([1, 2, 3].map(() => JSON.parse(time(node, [join(repo, "bench/floor.mjs"), "100000"]).stdout).ms));
  add("maps", "100k trivial elements, sequential", seq, "ms");
  add("maps", "100k trivial elements, threads", thr, "ms");
  add("maps", "threads map time (minus 1-element run)", thr - empty, "ms");
  add("maps", "raw worker dispatch floor, 100k", floor, "ms");
  add("maps", "ratio threads map / floor", (thr - empty) / floor, "x", "<= 1.5");
  const cpuSeq = time(node, [join(chainRoot, "dist/cpu_map.js"), "--backend", "sequential"], env(8)).ms;
  const cpuThr = time(node, [join(chainRoot, "dist/cpu_map.js"), "--backend", "threads"], env(8)).ms;
  add("maps", "8 x 0.5 s CPU elements, sequential", cpuSeq, "ms");
  add("maps", "8 x 0.5 s CPU elements, threads", cpuThr, "ms");
  add("maps", "speedup threads / sequential", cpuSeq / cpuThr, "x", ">= 1.9");
  const base = peakRss(node, [join(chainRoot, "dist/fine_map.js"), "--backend", "threads"], env(1));
  const big = peakRss(node, [join(chainRoot, "dist/fine_map.js"), "--backend", "threads"], env(1_000_000));
  if (base && big) {
    const dataMiB = (1_000_000 * 8) / 2 ** 20;
    add("maps", "1e6-number map: peak RSS over a 1-element run", (big - base) / 1024, "MiB");
    add("maps", "1e6-number map: data (1e6 float64)", dataMiB, "MiB");
    add("maps", "ratio RSS growth / data", (big - base) / 1024 / dataMiB, "x", "<= 3");
  }
}

const machine = { cpu: cpus()[0]?.model, cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, date: new Date().toISOString() };
console.log(`outflow bench — ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node}\n`);
console.log(table(rows));
mkdirSync(join(repo, "bench/results"), { recursive: true });
const file = join(repo, "bench/results", only ? `latest-${only}.json` : "latest.json");
writeFileSync(file, JSON.stringify({ machine, results }, null, 2) + "\n");
console.log(`\nwrote ${file}`);
