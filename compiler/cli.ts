import { resolve } from "node:path";
import { build, printDiagnostics } from "./build.js";
import { findPipelineRoot } from "./pipeline-files.js";

const HELP = `outflow — compile and run typed data-reduction pipelines

Usage: outflow <command> [options]

Commands:
  init <dir> [--force]             Create a pipeline: package.json, outflow.config.ts, plugins/, test/
  create plugin <name>             Add a plugin (plugins/a/b/ for a.b) with an example command and test
  build [--check] [--root <dir>]   Check every command graph, write generated/ and dist/
  management <...>                 Built-in commands (db, display-config, shell), run from dist/manage.js
  help                             Show this help

Run a command:  node dist/<command>.js --help
`;

/** The `outflow` CLI (build time). Returns the exit code. */
export async function run(argv: string[], outflowRoot: string): Promise<number> {
  try {
    return await dispatch(argv, outflowRoot);
  } catch (error) {
    // Anything not already reported as a diagnostic: one line (OUTFLOW_DEBUG=1 adds the stack).
    process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    if (process.env.OUTFLOW_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
    return 1;
  }
}

async function dispatch(argv: string[], outflowRoot: string): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === "help" || cmd === "--help" || cmd === "-h") {
    process.stdout.write(HELP);
    return cmd ? 0 : 2;
  }
  if (cmd === "build") return buildCommand(rest, outflowRoot);
  if (cmd === "management") return (await import("./run-management.js")).runManagement(rest, outflowRoot);
  if (cmd === "init" || cmd === "create") {
    const { scaffoldCommand } = await import("./scaffold-cli.js");
    return scaffoldCommand(cmd, rest, outflowRoot);
  }
  if (cmd === "--version" || cmd === "-v") {
    const { readFileSync } = await import("node:fs");
    process.stdout.write(JSON.parse(readFileSync(resolve(outflowRoot, "package.json"), "utf8")).version + "\n");
    return 0;
  }
  process.stderr.write(`error: unknown command ${JSON.stringify(cmd)}\nRun \`outflow help\` for usage.\n`);
  return 2;
}

async function buildCommand(argv: string[], outflowRoot: string): Promise<number> {
  let check = false;
  let rootArg: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--check") check = true;
    else if (argv[i] === "--root") rootArg = argv[++i];
    else if (argv[i].startsWith("--root=")) rootArg = argv[i].slice(7);
    else {
      process.stderr.write(`error: unknown option ${JSON.stringify(argv[i])} for outflow build\n`);
      return 2;
    }
  }
  const root = rootArg ? resolve(rootArg) : findPipelineRoot(process.cwd());
  const started = performance.now();
  const result = await build({ root, outflowRoot, check });
  if (!result.ok) {
    printDiagnostics(root, result.diagnostics, (s) => process.stderr.write(s));
    return 1;
  }
  const m = result.manifest!;
  const ms = Math.round(performance.now() - started);
  const what = `${Object.keys(m.tasks).length} tasks, ${m.commands.length} commands`;
  process.stdout.write(check ? `outflow build --check: ${what}, no problems (${ms} ms)\n` : `outflow build: ${what} → generated/, dist/ (${ms} ms)\n`);
  return 0;
}
