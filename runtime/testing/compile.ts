/**
 * Compiles a pipeline for its tests, once per change: `outflow build --check` in-process (manifest,
 * validators, database catalog), cached on disk by a hash of the pipeline's sources so that every test
 * file (each in its own vitest worker) after the first reuses it. Nothing is written to the pipeline's
 * generated/ or dist/: the cache lives under the OS temp folder.
 *
 * This is the one place outside compiler/ that loads the compiler (ts-morph, esbuild); it is only ever
 * imported by outflow/testing, never by a bundle.
 */
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import type { Manifest } from "../../contract/manifest.js";

/** The outflow package this file belongs to. */
export const outflowRoot = realpathSync(fileURLToPath(new URL("../..", import.meta.url)));

/** Where a compiled pipeline's test files are. */
export interface CompiledPipeline {
  root: string;
  dir: string;
  manifest: Manifest;
  /** Task/command modules, relative to the root (the keys of the module table). */
  modules: string[];
  /** validators.mjs: the generated zod validators, bundled with zod. */
  validatorsFile: string;
  /** db.ts: the database catalog, with absolute imports of the pipeline's models and migrations. */
  dbFile: string;
}

/** The pipeline failed `outflow build --check`: the message holds the diagnostics as the CLI prints them. */
export class PipelineCompileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PipelineCompileError";
  }
}

const LOCK_STALE_MS = 180_000;
const WAIT_MS = 180_000;

function sha(text: string | Buffer): string {
  return createHash("sha256").update(text).digest("hex");
}

/** Every source file of the pipeline that can change the build, and outflow's own compiler/runtime. */
function sourceKey(root: string): string {
  const hash = createHash("sha256");
  const walk = (dir: string, contents: boolean) => {
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir).sort()) {
      if (name === "node_modules" || name.startsWith(".")) continue;
      const p = join(dir, name);
      const s = statSync(p);
      if (s.isDirectory()) walk(p, contents);
      else hash.update(`${relative(root, p)}\0${contents ? sha(readFileSync(p)) : s.mtimeMs}\0`);
    }
  };
  for (const f of ["outflow.config.ts", "tsconfig.json", "package.json"]) if (existsSync(join(root, f))) hash.update(`${f}\0${sha(readFileSync(join(root, f)))}\0`);
  walk(join(root, "plugins"), true);
  for (const d of ["compiler", "contract", "runtime", "migrations"]) walk(join(outflowRoot, d), false);
  return hash.digest("hex").slice(0, 16);
}

function cacheBase(root: string): string {
  return join(tmpdir(), "outflow-testing", sha(root).slice(0, 12));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs `make(tmpDir)` once across processes for `dir`: the first caller builds into a temporary folder
 * and renames it into place; the others wait for the folder to appear.
 */
export async function once(dir: string, make: (tmp: string) => Promise<void>): Promise<void> {
  const lock = `${dir}.lock`;
  const started = Date.now();
  mkdirSync(join(dir, ".."), { recursive: true });
  for (;;) {
    if (existsSync(dir)) return;
    try {
      mkdirSync(lock);
    } catch {
      const age = (() => {
        try {
          return Date.now() - statSync(lock).mtimeMs;
        } catch {
          return 0;
        }
      })();
      if (age > LOCK_STALE_MS) rmSync(lock, { recursive: true, force: true });
      else if (Date.now() - started > WAIT_MS) throw new Error(`outflow/testing: timed out waiting for another process to compile the pipeline (${lock})`);
      await sleep(100);
      continue;
    }
    try {
      if (existsSync(dir)) return;
      const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
      rmSync(tmp, { recursive: true, force: true });
      mkdirSync(tmp, { recursive: true });
      try {
        await make(tmp);
        renameSync(tmp, dir);
      } catch (error) {
        rmSync(tmp, { recursive: true, force: true });
        throw error;
      }
      return;
    } finally {
      rmSync(lock, { recursive: true, force: true });
    }
  }
}

/** generated/db.ts imports `../plugins/…` relative to generated/: make them absolute for a file elsewhere. */
function absoluteImports(code: string, root: string): string {
  return code.replace(/(from |import\()"\.\.\/([^"]*)"/g, (_, head: string, rest: string) => `${head}${JSON.stringify(join(root, rest))}`);
}

async function compileInto(root: string, tmp: string): Promise<void> {
  const { build, printDiagnostics } = await import("../../compiler/build.js");
  const { pluginModules } = await import("../../compiler/pipeline-files.js");
  const result = await build({ root, outflowRoot, check: true });
  if (!result.ok || !result.manifest || !result.generated) {
    let text = "";
    printDiagnostics(root, result.diagnostics, (s) => (text += s));
    throw new PipelineCompileError(`outflow/testing: the pipeline at ${root} does not compile:\n${text}`);
  }
  const modules = result.manifest.plugins.flatMap((p) => pluginModules(root, p.name));
  writeFileSync(join(tmp, "manifest.json"), JSON.stringify(result.manifest));
  writeFileSync(join(tmp, "meta.json"), JSON.stringify({ modules }));
  writeFileSync(join(tmp, "validators.ts"), result.generated.validators);
  writeFileSync(join(tmp, "db.ts"), absoluteImports(result.generated.db, root));
  const esbuild = await import("esbuild");
  await esbuild.build({
    entryPoints: [join(tmp, "validators.ts")],
    outfile: join(tmp, "validators.mjs"),
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    nodePaths: [join(outflowRoot, "node_modules")],
    logLevel: "silent",
  });
}

const PRUNE_AFTER_MS = 15 * 60_000;

/**
 * Removes compilations of older source states (kept a while: another test run may still use one), and
 * those of pipelines that no longer exist (temporary fixtures).
 */
function pruneOld(base: string, root: string): void {
  writeFileSync(join(base, "root.txt"), root);
  const all = join(base, "..");
  for (const other of readdirSync(all)) {
    try {
      const owner = readFileSync(join(all, other, "root.txt"), "utf8");
      if (!existsSync(owner)) rmSync(join(all, other), { recursive: true, force: true });
    } catch {
      // no root.txt (being created)
    }
  }
  for (const name of readdirSync(base)) {
    if (name === "root.txt") continue;
    const p = join(base, name);
    try {
      if (Date.now() - statSync(p).mtimeMs > PRUNE_AFTER_MS) rmSync(p, { recursive: true, force: true });
    } catch {
      // gone meanwhile
    }
  }
}

const compiled = new Map<string, Promise<CompiledPipeline>>();

/** Compiles (or finds in the cache) the pipeline at `root`; one compilation per process and source state. */
export function compilePipeline(rootDir: string): Promise<CompiledPipeline> {
  const root = realpathSync(rootDir);
  const dir = join(cacheBase(root), sourceKey(root));
  let found = compiled.get(dir);
  if (!found) {
    found = (async () => {
      await once(dir, async (tmp) => {
        await compileInto(root, tmp);
        pruneOld(join(dir, ".."), root);
      });
      const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as Manifest;
      const { modules } = JSON.parse(readFileSync(join(dir, "meta.json"), "utf8")) as { modules: string[] };
      return { root, dir, manifest, modules, validatorsFile: join(dir, "validators.mjs"), dbFile: join(dir, "db.ts") };
    })();
    compiled.set(dir, found);
    found.catch(() => compiled.delete(dir));
  }
  return found;
}

/**
 * A bundle of the pipeline for the threads backend, whose workers start from a file: like
 * `dist/manage.js`, built once per source state into the cache.
 */
export async function workerBundle(pipeline: CompiledPipeline): Promise<string> {
  const dir = join(pipeline.dir, "bundle");
  await once(dir, async (tmp) => {
    const { sharedBundleOptions, betterSqliteAddon } = await import("../../compiler/bundle-options.js");
    const imports = pipeline.modules.map((m, i) => `import * as m${i} from ${JSON.stringify(join(pipeline.root, m))};`);
    const table = pipeline.modules.map((m, i) => `${JSON.stringify(m)}: m${i}`).join(", ");
    const config = pipeline.manifest.configModule ? `(await import(${JSON.stringify(join(pipeline.root, pipeline.manifest.configModule))})).default` : "undefined";
    const entry = `import { start } from ${JSON.stringify(join(outflowRoot, "runtime/start.ts"))};
import manifest from ${JSON.stringify(join(pipeline.dir, "manifest.json"))};
${imports.join("\n")}
await start({
  manifest: manifest as never,
  entry: null,
  bundleUrl: import.meta.url,
  loadModules: async () => ({ ${table} }),
  loadValidators: async () => (await import(${JSON.stringify(pipeline.validatorsFile)})).validators as never,
  loadDb: async () => (await import(${JSON.stringify(pipeline.dbFile)})).db,
  loadConfig: async () => ${config},
});
`;
    writeFileSync(join(tmp, "entry.ts"), entry);
    const esbuild = await import("esbuild");
    await esbuild.build({ ...sharedBundleOptions(outflowRoot), entryPoints: [join(tmp, "entry.ts")], outfile: join(tmp, "manage.js"), sourcemap: "linked", sourcesContent: false, write: true });
    writeFileSync(join(tmp, "package.json"), JSON.stringify({ type: "module", private: true }));
    copyFileSync(betterSqliteAddon(outflowRoot), join(tmp, "better_sqlite3.node"));
  });
  return join(dir, "manage.js");
}
