// Runs in a child process: imports the recording bundle (the pipeline's modules + the runtime's recorder),
// records every command's graph with placeholder args, maps call sites back to the sources, prints JSON.
// A child keeps user top-level code out of the compiler's process and lets a timeout stop a runaway setup().
import { readFileSync } from "node:fs";
import { SourceMap } from "node:module";
import { dirname, relative, resolve } from "node:path";
import { pathToFileURL, fileURLToPath } from "node:url";

const [bundle, root] = process.argv.slice(2);
const map = new SourceMap(JSON.parse(readFileSync(bundle + ".map", "utf8")));

function toSite(raw) {
  const file = raw.file.startsWith("file:") ? fileURLToPath(raw.file) : raw.file;
  if (resolve(file) !== resolve(bundle)) return { file: relative(root, file), line: raw.line, column: raw.column };
  const e = map.findEntry(raw.line - 1, raw.column - 1);
  if (!e || !e.originalSource) return { file: relative(root, file), line: raw.line, column: raw.column };
  const source = resolve(dirname(bundle), e.originalSource.startsWith("file:") ? fileURLToPath(e.originalSource) : e.originalSource);
  return { file: relative(root, source).split("\\").join("/"), line: e.originalLine + 1, column: e.originalColumn + 1 };
}

function errorSite(error) {
  if (error && error.site) return toSite(error.site);
  // The first frame in the recording bundle (not in this file: process.exit's stand-in throws here).
  const self = fileURLToPath(import.meta.url);
  for (const m of String(error?.stack ?? "").matchAll(/\(?((?:file:\/\/)?[^\s()]+\.mjs):(\d+):(\d+)\)?/g)) {
    const file = m[1].startsWith("file:") ? fileURLToPath(m[1]) : m[1];
    if (resolve(file) !== self) return toSite({ file: m[1], line: Number(m[2]), column: Number(m[3]) });
  }
  return { file: "", line: 0, column: 0 };
}

// process.exit() in a module's top level or in setup() would end the recording silently: make it throw at
// the call instead, so the diagnostic points there.
let phase = "the pipeline modules were imported";
const exit = process.exit.bind(process);
process.exit = (code) => {
  throw new Error(`process.exit(${code ?? ""}) was called while ${phase}`);
};

let mod;
try {
  mod = await import(pathToFileURL(bundle).href);
} catch (error) {
  process.stdout.write(JSON.stringify({ commands: [], taskIds: [], importError: { message: String(error?.message ?? error), site: errorSite(error) } }));
  exit(0);
}
const rt = mod.__record;
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
  if (def.setup) {
    phase = `setup() of command ${c.name} ran`;
    const recording = rt.record(() => def.setup({ args: rt.recordingArgs(args, read) }));
    out.graph = rt.toGraphSpec(recording.graph, toSite);
    if (recording.error) out.error = { message: String(recording.error?.message ?? recording.error), site: errorSite(recording.error) };
  }
  out.argsRead = [...read];
  return out;
});
const taskIds = [...tasks.keys()];
// The answer is complete: a process.exitCode that pipeline code set does not make it a failure.
process.stdout.write(JSON.stringify({ commands, taskIds }), () => exit(0));
