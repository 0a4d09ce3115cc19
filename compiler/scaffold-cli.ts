import { relative, resolve } from "node:path";
import { InitError, initPipeline } from "./init.js";
import { createPlugin } from "./create-plugin.js";
import { findPipelineRoot } from "./pipeline-files.js";

function fail(message: string): number {
  process.stderr.write(`error: ${message}\n`);
  return 2;
}

/** `outflow init <dir> [--force]` and `outflow create plugin <name> [--root <dir>]`. Returns the exit code. */
export async function scaffoldCommand(cmd: "init" | "create", argv: string[], outflowRoot: string): Promise<number> {
  const positional: string[] = [];
  let force = false;
  let rootArg: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--force" && cmd === "init") force = true;
    else if (a === "--root" && cmd === "create") rootArg = argv[++i];
    else if (a.startsWith("--root=") && cmd === "create") rootArg = a.slice(7);
    else if (a === "--help" || a === "-h") {
      process.stdout.write(cmd === "init" ? "Usage: outflow init <dir> [--force]\n" : "Usage: outflow create plugin <name> [--root <dir>]\n");
      return 0;
    } else if (a.startsWith("-") && a !== "-") return fail(`unknown option ${JSON.stringify(a)} for outflow ${cmd}`);
    else positional.push(a);
  }
  try {
    return cmd === "init" ? init(positional, force, outflowRoot) : create(positional, rootArg);
  } catch (error) {
    if (error instanceof InitError) return fail(error.message);
    throw error;
  }
}

function init(positional: string[], force: boolean, outflowRoot: string): number {
  if (positional.length !== 1) return fail(positional.length ? `outflow init takes one folder, got ${positional.length}` : "outflow init needs a folder: outflow init <dir>");
  const result = initPipeline({ dir: positional[0], outflowRoot, force });
  const shown = relative(process.cwd(), result.root) || ".";
  process.stdout.write(
    `Created pipeline ${shown} (outflow: ${result.outflowSpec}).\n\nNext:\n` +
      (shown === "." ? "" : `  cd ${shown}\n`) +
      `  npm install\n  npx outflow create plugin <name>     # e.g. astro.photometry\n  npx outflow build\n  npm test\n`,
  );
  return 0;
}

function create(positional: string[], rootArg: string | undefined): number {
  const [what, name, ...extra] = positional;
  if (what !== "plugin") return fail(what === undefined ? "outflow create needs what to create: outflow create plugin <name>" : `outflow create: unknown kind ${JSON.stringify(what)} (expected "plugin")`);
  if (name === undefined) return fail("outflow create plugin needs a name, e.g. outflow create plugin astro.photometry");
  if (extra.length) return fail(`outflow create plugin takes one name, got also ${JSON.stringify(extra[0])}`);
  const root = rootArg ? resolve(rootArg) : findPipelineRoot(process.cwd());
  const result = createPlugin({ root, name });
  process.stdout.write(
    `Created plugin ${name} in ${result.dir}/ and registered it in outflow.config.ts.\n\n` +
      `  npx outflow build && node dist/${result.command}.js\n  npm test\n`,
  );
  return 0;
}
