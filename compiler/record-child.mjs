// Runs in a child process: imports the recording bundle (the pipeline's modules + the runtime's recorder),
// records every command's graph with placeholder args, maps call sites back to the sources, prints JSON.
// A child keeps user top-level code out of the compiler's process and lets a timeout stop a runaway setup().
import { readFileSync, writeSync } from "node:fs";
import { SourceMap } from "node:module";
import { dirname, join, relative, resolve, sep } from "node:path";
import { pathToFileURL, fileURLToPath } from "node:url";

const [bundle, root] = process.argv.slice(2);
const map = new SourceMap(JSON.parse(readFileSync(bundle + ".map", "utf8")));

/** A bundle position in the original sources: an absolute path, 1-based line and column. */
function original(raw) {
  const file = resolve(raw.file.startsWith("file:") ? fileURLToPath(raw.file) : raw.file);
  const e = file === resolve(bundle) ? map.findEntry(raw.line - 1, raw.column - 1) : undefined;
  if (!e || !e.originalSource) return { file, line: raw.line, column: raw.column };
  const source = resolve(dirname(bundle), e.originalSource.startsWith("file:") ? fileURLToPath(e.originalSource) : e.originalSource);
  return { file: source, line: e.originalLine + 1, column: e.originalColumn + 1 };
}

function toSite(raw) {
  const o = original(raw);
  return { ...o, file: relative(root, o.file).split("\\").join("/") };
}

// outflow's own code (this file included) and the packages: an error's position is never there.
const outflowRoot = fileURLToPath(new URL("..", import.meta.url));
const OWN = ["runtime", "contract", "compiler"].map((d) => join(outflowRoot, d) + sep);
const isPipelineSource = (file) => !OWN.some((d) => file.startsWith(d)) && !file.split(sep).includes("node_modules");

function errorSite(error) {
  // outflow refusing a call of its API (GraphError) knows the user's call.
  if (error && error.site) return toSite(error.site);
  // Else the first frame in the pipeline's own sources: the throw, or the user's call that led into outflow.
  for (const m of String(error?.stack ?? "").matchAll(/\(?((?:file:\/\/)?[^\s()]+\.m?[jt]s):(\d+):(\d+)\)?/g)) {
    const raw = { file: m[1], line: Number(m[2]), column: Number(m[3]) };
    if (isPipelineSource(original(raw).file)) return toSite(raw);
  }
  return { file: "", line: 0, column: 0 };
}

// Enough frames to get past outflow's own to the user's call.
Error.stackTraceLimit = 100;

// process.exit() in a module's top level or in setup() would end the recording silently: make it throw at
// the call instead, so the diagnostic points there.
let phase = "the pipeline modules were imported";
const exit = process.exit.bind(process);
process.exit = (code) => {
  throw new Error(`process.exit(${code ?? ""}) was called while ${phase}`);
};

/**
 * A number arg with no default is recorded as 1, not 0: it may be a count (`simultaneousTasks: args.n`,
 * `loop({ iterations: args.n })`), and 1 is a count every option takes; the runtime records the real value.
 */
function withCountPlaceholders(args) {
  const number = (spec) => spec.default === undefined && (spec.type === "number" || spec.type === "integer");
  return Object.fromEntries(Object.entries(args).map(([name, spec]) => [name, number(spec) ? { ...spec, default: 1 } : spec]));
}

let mod;
try {
  mod = await import(pathToFileURL(bundle).href);
} catch (error) {
  process.stdout.write(JSON.stringify({ commands: [], taskIds: [], importError: { message: String(error?.message ?? error), site: errorSite(error) } }));
  exit(0);
}
const rt = mod.__record;
// Commands whose setup() did not return in an earlier recording (compiler/record.ts): listed, not run again.
const skip = new Set(JSON.parse(process.env.OUTFLOW_RECORD_SKIP || "[]"));
/** Tells the compiler which command's setup() runs now (fd 3, written at once): it names a setup() that never returns. */
function announce(command) {
  try {
    writeSync(3, JSON.stringify(command) + "\n");
  } catch {
    // Not started by the compiler (no fd 3): nobody to tell.
  }
}
const tasks = rt.registerTasks(mod.__modules);
const commands = rt.flattenCommands(rt.findCommands(mod.__modules)).map((c) => {
  const def = c.ref.definition;
  const args = def.args ?? {};
  const read = new Set();
  const out = {
    source: c.source,
    name: c.name,
    path: c.path,
    site: toSite(c.ref.site),
    description: def.description ?? "",
    invokable: def.invokable ?? def.setup !== undefined,
    args,
    db: def.db ?? true,
    backend: def.backend,
    subcommands: c.children.map((s) => s.name),
    graph: null,
    argsRead: [],
  };
  if (def.setup && skip.has(c.source)) {
    out.skipped = true;
  } else if (def.setup) {
    announce({ source: c.source, name: c.name, site: out.site });
    phase = `setup() of command ${c.name} ran`;
    const recording = rt.record(() => def.setup({ args: rt.recordingArgs(withCountPlaceholders(args), read) }));
    announce(null);
    out.graph = rt.toGraphSpec(recording.graph, toSite);
    if (recording.error) out.error = { message: String(recording.error?.message ?? recording.error), site: errorSite(recording.error) };
  }
  out.argsRead = [...read];
  return out;
});
const taskIds = [...tasks.keys()];
// The answer is complete: a process.exitCode that pipeline code set does not make it a failure.
process.stdout.write(JSON.stringify({ commands, taskIds }), () => exit(0));
