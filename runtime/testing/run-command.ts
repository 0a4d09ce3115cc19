/**
 * `runCommand(argv)`: runs a pipeline command the way `node dist/manage.js <argv>` would, but in the test
 * process, with the test's database and config overrides, and returns its exit code, result (the outputs
 * of the terminal tasks), captured output and run id.
 */
import { pathToFileURL } from "node:url";
import type { CommandSpec } from "../../contract/manifest.js";
import { globalOptions, normaliseArgv, parseCommandArgs, UsageError } from "../cli/args.js";
import { renderHelp } from "../cli/help.js";
import { commandNode, selectNode, type CliNode } from "../cli/tree.js";
import type { DatabaseConfig } from "../config/schema.js";
import { managementNode } from "../management/index.js";
import type { BundleInput } from "../main.js";
import { executeCommand, failedRunId, type PipelineLoaders } from "../pipeline.js";
import { reportFatal } from "../report.js";
import { captureOutput } from "./capture.js";
import { overrideConfig, type ConfigOverrides } from "./config.js";
import { workerBundle } from "./compile.js";
import { loadTestPipeline, type TestPipeline } from "./pipeline.js";
import { createTestDatabase, type TestDatabase } from "./database.js";

export interface RunCommandOptions {
  /** The database the command uses as `default`. Default: a fresh, migrated SQLite file for this call (tracked commands). */
  db?: TestDatabase;
  /** Shorthand for `--backend <name>`. */
  backend?: "sequential" | "threads" | "slurm";
  /** Laid over outflow.config.ts (objects merge, arrays and scalars replace). */
  config?: ConfigOverrides;
  /** The pipeline root (default: the nearest outflow.config.ts up from the cwd). */
  root?: string;
}

export interface CommandRun {
  exitCode: number;
  /** Outputs of the command's terminal tasks, merged (`{}` when they return nothing or the run failed). */
  result: Record<string, unknown>;
  stdout: string;
  stderr: string;
  /** The run record's uuid (null for untracked commands, failed starts and built-ins). */
  runId: string | null;
}

interface Dispatch {
  pipeline: TestPipeline;
  argv: string[];
  config?: ConfigOverrides;
  database?: DatabaseConfig;
}

/** The loaders of the pipeline with the test's config laid over outflow.config.ts. */
function loaders(d: Dispatch): PipelineLoaders {
  return { ...d.pipeline, loadConfig: async () => overrideConfig(await d.pipeline.loadConfig(), d.config, d.database) };
}

function cliTree(input: BundleInput, root: string): CliNode {
  const top = input.manifest.commands.filter((c) => c.path.length === 1).map((c) => commandNode(input.manifest, c));
  return { name: "manage", path: [], description: "Every command of this pipeline", args: {}, children: [...top, managementNode(input, root)], invokable: false };
}

/** Whether the run will use a backend that starts workers from a bundle file. */
async function needsBundle(d: Dispatch, command: CommandSpec, values: Record<string, unknown>): Promise<boolean> {
  if (values.config !== undefined || process.env.OUTFLOW_CONFIG_PATH) return true;
  const config = (await loaders(d).loadConfig()) as { backend?: string } | undefined;
  const backend = (values.backend as string | undefined) ?? command.backend ?? config?.backend ?? "sequential";
  return backend !== "sequential";
}

/** Selects and runs one CLI node, as `main()` of a bundle does. Returns the exit code and the result. */
async function dispatch(d: Dispatch): Promise<Omit<CommandRun, "stdout" | "stderr">> {
  const root = d.pipeline.root;
  const input: BundleInput = { manifest: d.pipeline.manifest, entry: null, bundleUrl: pathToFileURL(`${d.pipeline.compiled.dir}/bundle/manage.js`).href, ...loaders(d) };
  const { node, rest } = selectNode(cliTree(input, root), normaliseArgv(d.argv));
  if (rest.includes("--help") || rest.includes("-h") || !node.invokable) {
    const usage = ["node dist/manage.js", ...node.path].join(" ");
    process.stdout.write(renderHelp({ usage, description: node.description, args: node.args, globals: node.command ? globalOptions : undefined, subcommands: node.children.map((c) => ({ name: c.name, description: c.description })) }));
    if (!node.invokable && rest.length && !rest.includes("--help") && !rest.includes("-h")) throw new UsageError(`unknown command ${JSON.stringify(rest[0])} for ${usage}`);
    return { exitCode: 0, result: {}, runId: null };
  }
  if (node.builtin) return { exitCode: await node.builtin(parseCommandArgs(rest, node.args)), result: {}, runId: null };
  const command = node.command!;
  const values = parseCommandArgs(rest, { ...globalOptions, ...node.args });
  const bundleFile = (await needsBundle(d, command, values)) ? await workerBundle(d.pipeline.compiled) : undefined;
  const outcome = await executeCommand({ ...input, root, command, values, bundleFile });
  return { exitCode: outcome.code, result: outcome.result, runId: outcome.runId };
}

/** Runs `argv` in-process with output captured; errors become an exit code and an `error:` line, as in a bundle. */
export async function runInProcess(d: Dispatch): Promise<CommandRun> {
  const { value, output } = await captureOutput(async () => {
    try {
      return await dispatch(d);
    } catch (error) {
      // A tracked run that failed or was cancelled is recorded: its id, to assert its rows.
      return { exitCode: reportFatal(error), result: {}, runId: failedRunId(error) };
    }
  });
  return { ...value!, ...output };
}

/**
 * Runs one command of the pipeline, like `node dist/manage.js ...argv`, in this process:
 *
 *     const run = await runCommand(["compute_data", "--multiplier", "3"], { db });
 *     expect(run.exitCode).toBe(0);
 *
 * Tasks run in the test process on the sequential backend (so `vi.spyOn` and module mocks apply); with
 * `--backend threads` the workers start from a bundle of the pipeline built once into the cache.
 */
export async function runCommand(argv: string[], options: RunCommandOptions = {}): Promise<CommandRun> {
  const pipeline = await loadTestPipeline(options.root);
  const full = options.backend && !argv.includes("--backend") ? [...argv, "--backend", options.backend] : argv;
  let db = options.db;
  let temporary: TestDatabase | undefined;
  if (!db && !options.config?.databases && commandIsTracked(pipeline, full)) db = temporary = await createTestDatabase({ root: pipeline.root });
  try {
    return await runInProcess({ pipeline, argv: full, config: options.config, database: db?.config });
  } finally {
    await temporary?.drop();
  }
}

/** Whether argv names a tracked pipeline command (built-ins and `db: false` commands need no database). */
function commandIsTracked(pipeline: TestPipeline, argv: string[]): boolean {
  let best: CommandSpec | undefined;
  for (const c of pipeline.manifest.commands) if (c.path.every((p, i) => argv[i] === p) && (!best || c.path.length > best.path.length)) best = c;
  return best?.db ?? false;
}
