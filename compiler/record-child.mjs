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

/** How many other arg values a command's graph is recorded with, at most (every combination up to this many). */
const MAX_VARIANTS = 64;

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
    const specs = withCountPlaceholders(args);
    const recorded = recordSetup(c, out.site, def, specs, {}, read);
    out.graph = recorded.graph;
    if (recorded.error) out.error = recorded.error;
    else Object.assign(out, recordVariants(c, out.site, def, specs, read, recorded.key));
  }
  out.argsRead = [...read];
  return out;
});

/** The id of a variant of a command's setup(): its source, and the args that differ from the recorded defaults. */
function variantId(source, variant) {
  const entries = Object.entries(variant).sort(([a], [b]) => (a < b ? -1 : 1));
  return entries.length ? `${source}#${JSON.stringify(entries)}` : source;
}

/** Runs setup() once with the recording args (`variant` overrides some) and gives its graph spec, its key and any throw. */
function recordSetup(c, site, def, specs, variant, read) {
  const id = variantId(c.source, variant);
  announce({ source: c.source, id, name: c.name, site, variant });
  phase = `setup() of command ${c.name} ran`;
  const withVariant = { ...specs };
  for (const [name, value] of Object.entries(variant)) withVariant[name] = { ...specs[name], default: value };
  const recording = rt.record(() => def.setup({ args: rt.recordingArgs(withVariant, read) }));
  announce(null);
  const graph = rt.toGraphSpec(recording.graph, toSite);
  const error = recording.error ? { message: String(recording.error?.message ?? recording.error), site: errorSite(recording.error), outflow: Boolean(recording.error?.site) } : undefined;
  return { graph, key: JSON.stringify(graph), error };
}

/**
 * The graphs setup() builds with the other values of the args it reads that have few (booleans, enums), in
 * every combination up to MAX_VARIANTS (one changed arg first, then two, …; an arg first read in a variant
 * is varied too). Only graphs that differ from the default's and each other's are kept. A variant whose
 * setup() throws is left out (a pipeline may refuse a combination of args on purpose), unless it is outflow
 * refusing a call (a wiring mistake): that is kept, with its error. One whose setup() never returned (an
 * earlier recording named it) is listed in `hungVariants`, and the combinations that hold its args are not tried.
 */
function recordVariants(c, site, def, specs, readByDefault, defaultKey) {
  const variants = [];
  const hungVariants = [];
  const keys = new Set([defaultKey]);
  const tried = new Set([variantId(c.source, {})]);
  const queue = [];
  const vary = (base, read) => {
    for (const name of read) {
      const spec = specs[name];
      if (!spec) continue;
      const current = name in base ? base[name] : rt.argPlaceholder(spec);
      for (const value of rt.otherArgValues(spec, current)) {
        // A variant holds only the args that differ from the defaults (so one graph is not recorded twice).
        const next = { ...base, [name]: value };
        if (value === rt.argPlaceholder(spec)) delete next[name];
        const id = variantId(c.source, next);
        if (tried.has(id) || tried.size > MAX_VARIANTS) continue;
        tried.add(id);
        queue.push(next);
      }
    }
  };
  vary({}, readByDefault);
  while (queue.length) {
    const variant = queue.shift();
    if (skip.has(variantId(c.source, variant))) {
      hungVariants.push(variant);
      continue;
    }
    // A combination that holds the args of one that never returned would hang the same way: not tried
    // (else each of them would cost a timeout of its own).
    if (hungVariants.some((h) => Object.entries(h).every(([name, value]) => variant[name] === value))) continue;
    const read = new Set();
    const recorded = recordSetup(c, site, def, specs, variant, read);
    vary(variant, read);
    if (recorded.error && !recorded.error.outflow) continue;
    if (keys.has(recorded.key)) continue;
    keys.add(recorded.key);
    variants.push({ args: variant, graph: recorded.graph, ...(recorded.error ? { error: recorded.error } : {}) });
  }
  return { variants, hungVariants };
}
const taskIds = [...tasks.keys()];
// The answer is complete: a process.exitCode that pipeline code set does not make it a failure.
process.stdout.write(JSON.stringify({ commands, taskIds }), () => exit(0));
