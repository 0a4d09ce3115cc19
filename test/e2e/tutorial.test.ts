import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, existsSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../helpers/pipeline-fixture.js";
import { runBundle } from "../helpers/run-bundle.js";

/**
 * The tutorial pipeline as a user outside this repo has it: its own folder, `outflow` installed as a
 * linked dependency (what `npm install ../outflow` makes), built with the package's `outflow` bin.
 */
let pipeline: string;
const temps: string[] = [];

function temp(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  temps.push(dir);
  return dir;
}

beforeAll(() => {
  pipeline = temp("outflow-e2e-");
  cpSync(join(repoRoot, "plugins/data_reduction"), join(pipeline, "plugins/data_reduction"), { recursive: true });
  cpSync(join(repoRoot, "outflow.config.ts"), join(pipeline, "outflow.config.ts"));
  writeFileSync(join(pipeline, "package.json"), JSON.stringify({ name: "tutorial", private: true, type: "module", dependencies: { outflow: `file:${repoRoot}` } }));
  writeFileSync(
    join(pipeline, "tsconfig.json"),
    JSON.stringify({ compilerOptions: { target: "ES2022", module: "ESNext", moduleResolution: "bundler", strict: true, noEmit: true, skipLibCheck: true, types: [] } }),
  );
  mkdirSync(join(pipeline, "node_modules/.bin"), { recursive: true });
  symlinkSync(repoRoot, join(pipeline, "node_modules/outflow"), "dir");
  symlinkSync("../outflow/bin/outflow.mjs", join(pipeline, "node_modules/.bin/outflow"));
  const built = spawnSync(join(pipeline, "node_modules/.bin/outflow"), ["build"], { cwd: pipeline, encoding: "utf8", timeout: 120_000 });
  expect(built.stderr).toBe("");
  expect(built.stdout).toMatch(/outflow build: \d+ tasks, \d+ commands/);
  expect(built.status).toBe(0);
}, 180_000);

afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

describe("the tutorial, built as an external pipeline", () => {
  it("writes the manifest, the validators and one bundle per command plus manage.js", () => {
    for (const f of ["generated/manifest.json", "generated/validators.ts", "dist/compute_data.js", "dist/compute_more_data.js", "dist/manage.js", "dist/better_sqlite3.node"]) {
      expect(existsSync(join(pipeline, f)), f).toBe(true);
    }
  });

  it("runs compute_data and logs in outflow's line format", () => {
    const r = runBundle(pipeline, "compute_data", ["--multiplier", "3"]);
    expect(r.code).toBe(0);
    expect(r.output).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} - data_reduction\.tasks - tasks\.ts:\d+ - INFO - Result of the computation: 126$/m);
  });

  it("runs every command through manage.js", () => {
    const r = runBundle(pipeline, "manage", ["compute_data", "--multiplier", "3"]);
    expect(r.code).toBe(0);
    expect(r.output).toContain("Result of the computation: 126");
  });

  it("runs from dist/ copied alone into an empty folder", () => {
    const elsewhere = temp("outflow-shipped-");
    cpSync(join(pipeline, "dist"), join(elsewhere, "dist"), { recursive: true });
    const r = runBundle(elsewhere, "compute_more_data", ["--multiplier", "3", "--backend", "threads"], { cwd: elsewhere });
    expect(r.output).toContain("Result of the mapped computation: [126,129,132,135]");
    expect(r.code).toBe(0);
  });

  it("rejects bad command lines with one line and exit code 2", () => {
    const missing = runBundle(pipeline, "compute_data", []);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("error: missing required argument --multiplier");
    const bad = runBundle(pipeline, "compute_data", ["--multiplier", "three"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(`error: --multiplier must be a number, got "three"`);
    const unknown = runBundle(pipeline, "compute_data", ["--multiplier", "3", "--multipler", "4"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("error: unknown option --multipler");
    const backend = runBundle(pipeline, "compute_data", ["--multiplier", "3", "--backend", "cloud"]);
    expect(backend.code).toBe(2);
    expect(backend.stderr).toContain("--backend must be one of sequential, threads, slurm");
    // --workers is checked like threads.workers in a config file, before any worker starts.
    for (const [count, message] of [["0", "--workers must be at least 1, got 0"], ["-3", "--workers must be at least 1, got -3"], ["100000", "--workers 100000 is more than "]]) {
      const workers = runBundle(pipeline, "compute_more_data", ["--multiplier", "3", "--backend", "threads", "--workers", count]);
      expect(workers.code, workers.output).toBe(2);
      expect(workers.stderr.split("\n")[0]).toContain(`error: ${message}`);
      expect(workers.stderr).not.toMatch(/^\s+at /m);
    }
  });

  it("says that --workers is ignored off the threads backend, and runs", () => {
    const r = runBundle(pipeline, "compute_more_data", ["--multiplier", "3", "--workers", "4"]);
    expect(r.code, r.output).toBe(0);
    expect(r.stderr).toContain("--workers 4 is ignored: it applies to --backend threads (the backend is sequential)");
    expect(r.output).toContain("Result of the mapped computation: [126,129,132,135]");
  });

  it("opens `management shell` in the pipeline context, driven by piped stdin", () => {
    const r = spawnSync(process.execPath, [join(pipeline, "dist/manage.js"), "management", "shell"], {
      cwd: pipeline,
      input: 'config.plugins.join("+")\nObject.keys(tasks).filter((k) => !k.includes("#")).length\nawait em.getConnection().execute("select count(*) as n from computation_result")\n',
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("'data_reduction'");
    expect(r.stdout).toMatch(/outflow> 6\b/);
    expect(r.stdout).toMatch(/\[ \{ n: \d+ \} \]/);
  });

  it("prints help for every command", () => {
    const r = runBundle(pipeline, "compute_data", ["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("--multiplier=<number>");
    expect(r.stdout).toContain("(required)");
    const manage = runBundle(pipeline, "manage", ["--help"]);
    expect(manage.stdout).toMatch(/compute_more_data\s+Multiply an array/);
  });
});
