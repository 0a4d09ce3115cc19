/**
 * The first five minutes, end to end in a temporary folder, as a user types them:
 *
 *     outflow init my_pipeline && cd my_pipeline && npm install
 *     npx outflow create plugin astro.photometry
 *     npx outflow build && node dist/photometry.js
 *     npm test
 *
 * `npm install` is real (offline-capable: the npm cache serves vitest, typescript and @types/node; outflow
 * is a `file:` link to this checkout). It took 4-12 s here with a warm npm cache, so the test installs for
 * real rather than linking this repo's node_modules; the timings of every step are printed.
 */
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../helpers/pipeline-fixture.js";

const outflowBin = join(repoRoot, "bin/outflow.mjs");
let base: string;
let pipeline: string;
const timings: Record<string, number> = {};

/** The environment of a user's shell: none of the variables of the vitest run around this test. */
function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(VITEST|TEST$|NODE_ENV$|NODE_OPTIONS$|npm_)/.test(k)) env[k] = v;
  return { ...env, NO_COLOR: "1", TMPDIR: join(base, "tmp") };
}

function run(cmd: string, args: string[], cwd: string, timeout = 180_000): SpawnSyncReturns<string> & { output: string } {
  const started = performance.now();
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", env: userEnv(), timeout });
  const what = [cmd === process.execPath ? "node" : cmd, ...args.map((a) => (a === outflowBin ? "outflow" : a))].join(" ");
  timings[what] = Math.round(performance.now() - started);
  return Object.assign(r, { output: `${r.stdout}${r.stderr}` });
}

const outflow = (args: string[], cwd = pipeline) => run(process.execPath, [outflowBin, ...args], cwd);

beforeAll(() => {
  base = realpathSync(mkdtempSync(join(tmpdir(), "outflow-init-")));
  mkdirSync(join(base, "tmp"));
  pipeline = join(base, "my_pipeline");
});

afterAll(() => {
  console.log(`init end-to-end timings (ms): ${JSON.stringify(timings)}`);
  rmSync(base, { recursive: true, force: true });
});

describe("outflow init", () => {
  it("writes the pipeline skeleton", () => {
    const r = outflow(["init", "my_pipeline"], base);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("Created pipeline my_pipeline");
    for (const f of ["package.json", "tsconfig.json", "outflow.config.ts", "vitest.config.ts", ".gitignore", "README.md", "plugins", "test"]) expect(existsSync(join(pipeline, f)), f).toBe(true);
    const pkg = JSON.parse(readFileSync(join(pipeline, "package.json"), "utf8"));
    expect(pkg).toMatchObject({
      name: "my_pipeline",
      type: "module",
      scripts: { build: "outflow build", test: "vitest run" },
      dependencies: { outflow: `file:${realpathSync(repoRoot)}` },
      devDependencies: { vitest: "4.1.12", typescript: "6.0.3", "@types/node": "20.19.43" },
    });
    const tsconfig = JSON.parse(readFileSync(join(pipeline, "tsconfig.json"), "utf8"));
    expect(tsconfig.compilerOptions).toMatchObject({ strict: true, module: "ESNext", moduleResolution: "bundler", types: ["node"] });
    expect(readFileSync(join(pipeline, "outflow.config.ts"), "utf8")).toMatch(/plugins: \[\],[\s\S]*dialect: "sqlite"/);
    expect(readFileSync(join(pipeline, ".gitignore"), "utf8").split("\n")).toEqual(expect.arrayContaining(["node_modules/", "dist/", "generated/", "*.db*"]));
  });

  it("refuses a non-empty folder with one line and exit code 2, unless --force", () => {
    const again = outflow(["init", "my_pipeline"], base);
    expect(again.status).toBe(2);
    expect(again.stderr).toMatch(/^error: my_pipeline is not empty \(\d+ entries\); use --force to write the pipeline files into it anyway\n$/);
    writeFileSync(join(pipeline, "notes.txt"), "mine");
    const forced = outflow(["init", "my_pipeline", "--force"], base);
    expect(forced.status).toBe(0);
    expect(readFileSync(join(pipeline, "notes.txt"), "utf8")).toBe("mine");
    rmSync(join(pipeline, "notes.txt"));
    expect(outflow(["init"], base).stderr).toBe("error: outflow init needs a folder: outflow init <dir>\n");
  });

  it("installs offline-capable with npm: outflow linked, its bin on node_modules/.bin", () => {
    const r = run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund"], pipeline);
    expect(r.status, r.output).toBe(0);
    expect(lstatSync(join(pipeline, "node_modules/outflow")).isSymbolicLink()).toBe(true);
    expect(realpathSync(join(pipeline, "node_modules/outflow"))).toBe(realpathSync(repoRoot));
    expect(realpathSync(join(pipeline, "node_modules/.bin/outflow"))).toBe(realpathSync(outflowBin));
  }, 300_000);
});

describe("outflow create plugin", () => {
  it("rejects invalid names with one line and exit code 2", () => {
    for (const [name, why] of [
      ["1bad", '"1bad" starts with a digit'],
      ["a-b", '"a-b" has characters other than letters, digits and _'],
      ["a..b", "it has an empty segment"],
      ["", "the name is empty"],
    ]) {
      const r = run("npx", ["--no", "outflow", "create", "plugin", name], pipeline);
      expect(r.status, name).toBe(2);
      expect(r.stderr.replace(/^npm warn .*\n/gm, "")).toBe(`error: invalid plugin name ${JSON.stringify(name)}: ${why}; use dotted identifiers such as astro.photometry\n`);
    }
  });

  it("writes plugins/astro/photometry/ and registers it (npx finds the linked bin)", () => {
    const r = run("npx", ["--no", "outflow", "create", "plugin", "astro.photometry"], pipeline);
    expect(r.status, r.output).toBe(0);
    for (const f of ["tasks.ts", "commands.ts", "models/index.ts", "migrations", "test/photometry.test.ts"]) expect(existsSync(join(pipeline, "plugins/astro/photometry", f)), f).toBe(true);
    expect(readFileSync(join(pipeline, "outflow.config.ts"), "utf8")).toContain('plugins: ["astro.photometry"],');
  });

  it("refuses a plugin that is already registered", () => {
    const r = outflow(["create", "plugin", "astro.photometry"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('error: plugin "astro.photometry" is already registered in outflow.config.ts\n');
  });

  it("adds a second plugin to the list", () => {
    expect(outflow(["create", "plugin", "spectro"]).status).toBe(0);
    expect(readFileSync(join(pipeline, "outflow.config.ts"), "utf8")).toContain('plugins: ["astro.photometry", "spectro"],');
  });
});

describe("the new pipeline", () => {
  it("builds, and the example command says hello", () => {
    const built = run("npx", ["--no", "outflow", "build"], pipeline);
    expect(built.status, built.output).toBe(0);
    expect(built.stdout).toMatch(/outflow build: 4 tasks, 2 commands/);
    const r = run(process.execPath, ["dist/photometry.js"], pipeline);
    expect(r.status, r.output).toBe(0);
    expect(r.stderr).toMatch(/ - INFO - Hello from photometry\n$/);
  });

  it("passes its own tests (npm test)", () => {
    const r = run("npm", ["test"], pipeline);
    expect(r.status, r.output).toBe(0);
    expect(r.output).toMatch(/Tests\s+4 passed \(4\)/);
  });

  it("type-checks (tsc --noEmit)", () => {
    const r = run("npx", ["--no", "tsc", "--noEmit"], pipeline);
    expect(r.status, r.output).toBe(0);
  });
});
