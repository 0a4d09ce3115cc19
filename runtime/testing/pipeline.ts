/**
 * The pipeline under test, loaded in the test process: its compiled manifest and validators, and its own
 * modules imported through the test runner (vitest), so the tasks a test imports are the very objects the
 * runtime registers and runs.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Manifest } from "../../contract/manifest.js";
import type { PipelineLoaders } from "../pipeline.js";
import { registerTasks, type ModuleTable } from "../registry.js";
import type { Validators } from "../execute/validate.js";
import { compilePipeline, type CompiledPipeline } from "./compile.js";

export interface TestPipeline extends PipelineLoaders {
  root: string;
  manifest: Manifest;
  compiled: CompiledPipeline;
}

/** The nearest folder up from `start` with an outflow.config.ts. */
export function findRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (existsSync(join(dir, "outflow.config.ts"))) return dir;
    const up = join(dir, "..");
    if (up === dir) throw new Error(`outflow/testing: no outflow.config.ts in ${start} or above; run the tests from the pipeline root or pass { root }`);
    dir = up;
  }
}

/** The root used when a helper is not given one: OUTFLOW_ROOT, else the nearest outflow.config.ts up from the cwd. */
export function defaultRoot(): string {
  return process.env.OUTFLOW_ROOT ?? findRoot(process.cwd());
}

async function importModule(file: string): Promise<Record<string, unknown>> {
  try {
    // An absolute path, not a file: URL: vitest then gives it the same module id as the test's own import.
    return (await import(/* @vite-ignore */ file)) as Record<string, unknown>;
  } catch (error) {
    if (/Unknown file extension "\.ts"/.test(String(error))) {
      throw new Error(`outflow/testing imports the pipeline's TypeScript modules: run the tests with vitest (cannot import ${file})`);
    }
    throw error;
  }
}

const loaded = new Map<string, Promise<TestPipeline>>();

/** Compiles (once, cached) and loads the pipeline at `root`. */
export function loadTestPipeline(root: string = defaultRoot()): Promise<TestPipeline> {
  let found = loaded.get(root);
  if (!found) {
    found = (async () => {
      const compiled = await compilePipeline(root);
      let modules: Promise<ModuleTable> | undefined;
      const pipeline: TestPipeline = {
        root: compiled.root,
        manifest: compiled.manifest,
        compiled,
        loadModules: () =>
          (modules ??= (async () => {
            const table: ModuleTable = {};
            for (const m of compiled.modules) table[m] = await importModule(join(compiled.root, m));
            registerTasks(table);
            return table;
          })()),
        loadValidators: async () => ((await import(/* @vite-ignore */ pathToFileURL(compiled.validatorsFile).href)) as { validators: Validators }).validators,
        loadDb: async () => ((await importModule(compiled.dbFile)) as { db: unknown }).db,
        loadConfig: async () => (compiled.manifest.configModule ? (await importModule(join(compiled.root, compiled.manifest.configModule))).default : undefined),
      };
      return pipeline;
    })();
    loaded.set(root, found);
    found.catch(() => loaded.delete(root));
  }
  return found;
}
