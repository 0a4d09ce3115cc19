/**
 * `runTask(Task, inputs)`: one task, alone, inside a pipeline context (outflow's TaskTestCase). Inputs and
 * outputs are checked against the task's declared types with the same validators as a real run.
 */
import type { EntityManager } from "@mikro-orm/core";
import type { TaskSpec } from "../../contract/manifest.js";
import type { TaskFunction, TaskRef } from "../api/task.js";
import { loadConfig } from "../config/load.js";
import { configSchema, type OutflowConfig } from "../config/schema.js";
import { currentScope, runInScope, type Scope } from "../context.js";
import { validateInput, validateOutputs } from "../execute/validate.js";
import { isSkipped } from "../api/control.js";
import { overrideConfig, type ConfigOverrides } from "./config.js";
import type { TestDatabase } from "./database.js";
import { openSession } from "./database.js";
import { loadTestPipeline, type TestPipeline } from "./pipeline.js";

/** What a task returns, as its outputs: `{}` for a `void` task. */
export type TaskOutputs<F extends TaskFunction> = [Awaited<ReturnType<F>>] extends [void | undefined] ? Record<string, never> : Awaited<ReturnType<F>>;

/** Parts of the pipeline context a test replaces. */
export interface ContextOverrides {
  args?: Record<string, unknown>;
  /** Laid over the pipeline config (objects merge, arrays and scalars replace). */
  config?: ConfigOverrides;
  /** `context.em`: a real EntityManager (e.g. `await db.em()`) or a fake. */
  em?: EntityManager | object;
  /** `context.db(name)`. */
  db?: (name: string) => EntityManager | object;
  run?: Partial<Scope["run"]>;
  task?: Scope["task"];
}

export interface RunTaskOptions {
  /** `context.args`. */
  args?: Record<string, unknown>;
  /** Laid over outflow.config.ts: `context.config`. */
  config?: ConfigOverrides;
  /** `context.em` (shorthand of `context: { em }`). */
  em?: EntityManager | object;
  /** Run against this test database: `context.em` / `context.db()` are sessions on it. */
  db?: TestDatabase;
  /** Any other part of the context. */
  context?: Omit<ContextOverrides, "args" | "config">;
  /** The pipeline root (default: the nearest outflow.config.ts up from the cwd). */
  root?: string;
}

function taskSpec(pipeline: TestPipeline, ref: TaskRef): TaskSpec {
  const spec = ref.id ? pipeline.manifest.tasks[ref.id] : undefined;
  if (!spec) {
    throw new Error(`runTask(${ref.displayName}): not a task of this pipeline (${pipeline.root}); export it from a module of a plugin listed in outflow.config.ts`);
  }
  return spec;
}

/** Runs one task with `inputs` (by parameter name) and returns its outputs, validated. */
export async function runTask<F extends TaskFunction>(ref: TaskRef<F>, inputs: Record<string, unknown> = {}, options: RunTaskOptions = {}): Promise<TaskOutputs<F>> {
  const pipeline = await loadTestPipeline(options.root);
  await pipeline.loadModules();
  const spec = taskSpec(pipeline, ref as unknown as TaskRef);
  const validators = await pipeline.loadValidators();
  const unknown = Object.keys(inputs).filter((k) => !spec.inputs.some((i) => i.name === k));
  if (unknown.length) throw new Error(`runTask(${spec.name}): unknown input${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")}; its inputs are ${spec.inputs.map((i) => i.name).join(", ") || "(none)"}`);
  const args = spec.inputs.map((input) => {
    const value = inputs[input.name];
    if (value === undefined && !input.optional) throw new Error(`runTask(${spec.name}): missing input "${input.name}" (${input.type})`);
    validateInput(spec, validators, input.name, value);
    return value;
  });
  const base = overrideConfig(await pipeline.loadConfig(), options.config, options.db?.config);
  const { config } = loadConfig({ base, baseName: pipeline.manifest.configModule ?? "outflow.config.ts", env: process.env, cwd: process.cwd() });
  const session = options.db ? await openSession(pipeline, options.db.config, options.config) : undefined;
  try {
    const scope: Scope = {
      args: options.args ?? {},
      config,
      run: { id: null, command: [], backend: "sequential", root: pipeline.root, ...options.context?.run },
      task: options.context?.task ?? { id: spec.id, name: spec.name, plugin: spec.plugin },
      em: (options.em ?? options.context?.em ?? session?.forkEm()) as EntityManager | undefined,
      db: (options.context?.db ?? session?.db) as Scope["db"],
    };
    const fn = ref.fn as unknown as (...a: unknown[]) => unknown;
    const returned = await runInScope(scope, () => fn(...args));
    // A task that returns Skipped gives Skipped (a run records it skipped); exitPipeline() throws ExitPipeline.
    if (isSkipped(returned)) return returned as TaskOutputs<F>;
    return validateOutputs(spec, validators, returned) as TaskOutputs<F>;
  } finally {
    await session?.close();
  }
}

/**
 * Runs `fn` with parts of the pipeline context replaced: inside a running task or test scope, the rest is
 * kept; otherwise args are `{}` and the config is outflow's defaults (plus `config`). For calling a
 * task's plain function (`Compute.fn(42)`) or any code that reads `context`.
 */
export function withContext<T>(overrides: ContextOverrides, fn: () => T): T {
  const current = currentScope();
  const config = overrides.config ? (configSchema.parse(overrideConfig(current?.config ?? {}, overrides.config, undefined)) as OutflowConfig) : (current?.config ?? (configSchema.parse({}) as OutflowConfig));
  const scope: Scope = {
    args: overrides.args ?? current?.args ?? {},
    config,
    run: { id: null, command: [], backend: "sequential", root: process.cwd(), ...current?.run, ...overrides.run },
    task: overrides.task ?? current?.task,
    em: (overrides.em ?? current?.em) as EntityManager | undefined,
    db: (overrides.db ?? current?.db) as Scope["db"],
  };
  return runInScope(scope, fn);
}
