import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Manifest } from "../contract/manifest.js";
import { UsageError, globalOptions, normaliseArgv, parseCommandArgs } from "./cli/args.js";
import { renderHelp } from "./cli/help.js";
import { commandNode, selectNode, type CliNode } from "./cli/tree.js";
import { managementNode } from "./management/index.js";
import { reportFatal } from "./report.js";
import type { PipelineLoaders } from "./pipeline.js";

/** What a generated bundle entry hands the runtime. */
export interface BundleInput extends PipelineLoaders {
  manifest: Manifest;
  /** The command this bundle runs (`["compute_data"]`), or null for `manage.js` (every command). */
  entry: string[] | null;
  /** `import.meta.url` of the bundle: the pipeline root is its folder's parent (or OUTFLOW_ROOT). */
  bundleUrl: string;
}

export function pipelineRoot(bundleUrl: string): string {
  return process.env.OUTFLOW_ROOT ? resolve(process.env.OUTFLOW_ROOT) : dirname(dirname(fileURLToPath(bundleUrl)));
}

function cliTree(input: BundleInput, root: string): CliNode {
  if (input.entry) {
    const spec = input.manifest.commands.find((c) => c.path.join(" ") === input.entry!.join(" "));
    if (!spec) throw new Error(`bundle entry ${input.entry.join(" ")} is not in the manifest (rebuild with \`outflow build\`)`);
    return commandNode(input.manifest, spec);
  }
  const top = input.manifest.commands.filter((c) => c.path.length === 1).map((c) => commandNode(input.manifest, c));
  return { name: "manage", path: [], description: "Every command of this pipeline", args: {}, children: [...top, managementNode(input, root)], invokable: false };
}

/** The bundle's `main`: parse the CLI, then run the selected command. Sets process.exitCode. */
export async function main(input: BundleInput, argv = process.argv.slice(2)): Promise<number> {
  const root = pipelineRoot(input.bundleUrl);
  let code: number;
  try {
    code = await dispatch(input, root, normaliseArgv(argv));
  } catch (error) {
    code = reportFatal(error);
  }
  process.exitCode = code;
  return code;
}

async function dispatch(input: BundleInput, root: string, argv: string[]): Promise<number> {
  const tree = cliTree(input, root);
  const { node, rest } = selectNode(tree, argv);
  const usage = [input.entry ? `node dist/${input.entry[0]}.js` : "node dist/manage.js", ...node.path.slice(input.entry ? 1 : 0)].join(" ");
  const globals = node.command ? globalOptions : undefined;
  if (rest.includes("--help") || rest.includes("-h") || !node.invokable) {
    process.stdout.write(renderHelp({ usage, description: node.description, args: node.args, globals, subcommands: node.children.map((c) => ({ name: c.name, description: c.description })) }));
    if (!node.invokable && rest.length && !rest.includes("--help") && !rest.includes("-h")) throw new UsageError(`unknown command ${JSON.stringify(rest[0])} for ${usage}`);
    return 0;
  }
  if (node.builtin) return node.builtin(parseCommandArgs(rest, node.args));
  const specs = { ...globals, ...node.args };
  const resubmit = rest.some((a) => a === "--resubmit-failed" || a.startsWith("--resubmit-failed="));
  const values = (resubmit && (await import("./backends/slurm/run-dir.js")).resubmitValues(rest, specs, node.command!.path, root)) || parseCommandArgs(rest, specs);
  const { runPipelineCommand } = await import("./pipeline.js");
  return runPipelineCommand({ ...input, root, command: node.command!, values, bundleFile: fileURLToPath(input.bundleUrl), ownsProcess: true });
}
