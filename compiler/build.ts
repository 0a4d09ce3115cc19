import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Project } from "ts-morph";
import { MANIFEST_FORMAT, type CommandSpec, type GraphSpec, type Manifest, type PluginSpec, type Site } from "../contract/manifest.js";
import { formatDiagnostic, type Diagnostic } from "../contract/diagnostic.js";
import { planGraph } from "../runtime/graph/plan.js";
import { extractTasks } from "./signatures.js";
import { validatorsModule } from "./zod-source.js";
import { argSite } from "./arg-site.js";
import { checkGraphTypes } from "./check-types.js";
import { checkMapOptions } from "./map-options.js";
import { recordGraphs, setupTimeoutMs, type Recorded } from "./record.js";
import { CONFIG_FILE, PluginListError, pluginDir, pluginModules, readPluginList } from "./pipeline-files.js";
import { writeBundles, writeGenerated } from "./emit.js";
import { dbModule } from "./emit-db.js";
import { esbuildDiagnostics } from "./esbuild-errors.js";
import { unresolvedOutflowImports } from "./outflow-import.js";
import { flagName, globalOptions } from "../runtime/cli/args.js";

export interface BuildOptions {
  root: string;
  outflowRoot: string;
  /** Check only: no generated/, no dist/. */
  check?: boolean;
  log?: (line: string) => void;
}

export interface BuildResult {
  ok: boolean;
  diagnostics: Diagnostic[];
  manifest?: Manifest;
  /** The sources of generated/validators.ts and generated/db.ts (also with `check`: outflow/testing uses them). */
  generated?: { validators: string; db: string };
  timings: Record<string, number>;
}

/** What a graph lacks (an input nobody provides, a map with nothing to iterate): a graph cut short by a throw lacks them too. */
const UNFINISHED = new Set(["OF101", "OF106", "OF109"]);

function cacheDir(root: string): string {
  return join(root, "node_modules", ".cache", "outflow");
}

function outflowVersion(outflowRoot: string): string {
  return (JSON.parse(readFileSync(join(outflowRoot, "package.json"), "utf8")) as { version: string }).version;
}

/** `outflow build`: read signatures, record and check every command graph, then emit generated/ and dist/. */
export async function build(opts: BuildOptions): Promise<BuildResult> {
  const timings: Record<string, number> = {};
  let t = performance.now();
  const lap = (name: string) => {
    const now = performance.now();
    timings[name] = Math.round(now - t);
    t = now;
  };
  const diagnostics: Diagnostic[] = [];
  const cache = cacheDir(opts.root);

  let listed: string[] | null;
  try {
    listed = await readPluginList(opts.root, opts.outflowRoot, cache);
  } catch (error) {
    // outflow.config.ts does not compile, throws when imported, or lists its plugins wrongly: say so.
    const message = error instanceof Error ? error.message : String(error);
    const found = esbuildDiagnostics(error, opts.root) ?? [
      error instanceof PluginListError
        ? { code: "OF130", message, site: { file: CONFIG_FILE, line: 1, column: 1 } }
        : { code: "OF100", message: `Importing ${CONFIG_FILE} failed: ${message}`, site: { file: CONFIG_FILE, line: 1, column: 1 } },
    ];
    return { ok: false, diagnostics: found, timings };
  }
  const plugins: PluginSpec[] = [];
  for (const name of listed ?? []) {
    if (!existsSync(pluginDir(opts.root, name))) {
      diagnostics.push({ code: "OF130", message: `Plugin "${name}" is listed in ${CONFIG_FILE} but plugins/${name.split(".").join("/")}/ does not exist`, site: configSite(opts.root, name) });
      continue;
    }
    plugins.push({ name, dir: `plugins/${name.split(".").join("/")}` });
  }
  const modules = plugins.flatMap((p) => pluginModules(opts.root, p.name));
  lap("config");

  const tsconfig = join(opts.root, "tsconfig.json");
  const project = existsSync(tsconfig)
    ? new Project({ tsConfigFilePath: tsconfig, skipAddingFilesFromTsConfig: true })
    : new Project({ compilerOptions: { strict: true, target: 9, module: 99, moduleResolution: 100, types: ["node"] } });
  const files = modules.map((m) => project.addSourceFileAtPath(join(opts.root, m)));
  project.resolveSourceFileDependencies();
  // Without outflow's types every later check would report noise (maps with nothing to iterate): stop here.
  const unresolved = unresolvedOutflowImports(project, files, opts.root, existsSync(tsconfig));
  if (unresolved.length) return { ok: false, diagnostics: dedupe([...diagnostics, ...unresolved]), timings };
  const extracted = extractTasks(project, opts.root, files);
  diagnostics.push(...extracted.diagnostics);
  lap("signatures");

  let recorded: Recorded = { commands: [], taskIds: [] };
  if (modules.length) {
    try {
      recorded = await recordGraphs({ root: opts.root, outflowRoot: opts.outflowRoot, modules, cacheDir: cache });
    } catch (error) {
      // The modules do not bundle (a syntax error, a duplicate export, an unresolved import): say where.
      const found = esbuildDiagnostics(error, opts.root);
      if (!found) throw error;
      return { ok: false, diagnostics: dedupe([...diagnostics, ...found]), timings };
    }
  }
  lap("record");
  if (recorded.failure) diagnostics.push({ code: "OF100", message: `Recording the command graphs failed: ${recorded.failure}`, site: { file: "", line: 0, column: 0 } });
  if (recorded.importError) diagnostics.push({ code: "OF100", message: `Importing the pipeline modules failed: ${recorded.importError.message}`, site: recorded.importError.site });

  const tasks = Object.fromEntries([...extracted.tasks].map(([id, e]) => [id, e.spec]));
  // Exported tasks whose signature was rejected (OF121) are already reported; do not call them unknown.
  const rejected = new Set(recorded.taskIds.filter((id) => !(id in tasks)));

  /** The problems of one recorded graph: its wiring (the plan), its types, its map options. */
  const checkGraph = (graph: GraphSpec, error: unknown): Diagnostic[] => {
    const planned = planGraph(graph, tasks);
    const graphDiagnostics = planned.diagnostics.filter(
      (d) =>
        !(d.code === "OF111" && [...rejected].some((id) => d.message.includes(id))) &&
        // checkMapOptions reports OF113 at the option as written; the plan can only point at the map.
        d.code !== "OF113" &&
        // setup() stopped at a throw (OF100): what it never got to pipe or record is not a problem of its own.
        !(error && UNFINISHED.has(d.code)) &&
        // ... nor are the tasks of the body it threw in that look terminal only because the throw came before they were piped on.
        !(error && d.terminals?.bodyCutShort),
    );
    const found: Diagnostic[] = graphDiagnostics.map(({ terminals: _, ...d }) => d);
    if (!graphDiagnostics.some((d) => d.code === "OF105")) found.push(...checkGraphTypes({ project, root: opts.root, tasks: extracted.tasks }, graph, planned.plan));
    found.push(...checkMapOptions(project, opts.root, graph));
    return found;
  };

  const commands: CommandSpec[] = [];
  const seen = new Map<string, CommandSpec>();
  for (const c of recorded.commands ?? []) {
    const spec: CommandSpec = { source: c.source, site: c.site, name: c.name, path: c.path, description: c.description, invokable: c.invokable, args: c.args, db: c.db, backend: c.backend, graph: c.graph, subcommands: c.subcommands };
    const key = c.path.join(" ");
    const previous = seen.get(key);
    if (previous) {
      diagnostics.push({ code: "OF110", message: `Duplicate command name "${key}": also defined at ${previous.site.file}:${previous.site.line}:${previous.site.column}`, site: c.site });
    }
    seen.set(key, spec);
    for (const arg of Object.keys(c.args)) {
      if (arg in globalOptions || arg === "help" || arg === "logLevel") diagnostics.push({ code: "OF112", message: `Command ${c.name} declares arg "${arg}", which is a built-in option of every command; rename it`, site: argSite(project, opts.root, c.site, arg) });
    }
    commands.push(spec);
    /** setup() threw: at the throw (else the command), with the args that made it when they were not the defaults. */
    const threw = (error: { message: string; site: Site }, label?: string): Diagnostic => ({ code: "OF100", message: `setup() of command ${c.name} threw${label ? ` with ${label}` : ""}: ${error.message}`, site: error.site.line ? error.site : c.site });
    if (c.error) diagnostics.push(threw(c.error));
    if (c.timedOut) diagnostics.push({ code: "OF100", message: `setup() of command ${c.name} did not return within ${setupTimeoutMs() / 1000} s (an endless loop?); its graph is not checked`, site: c.site });
    if (!c.graph) continue;
    // The graph the defaults build, then each other graph that the booleans and enums setup() reads build:
    // a problem only one of those has is named by the args that build it.
    const found = checkGraph(c.graph, c.error);
    diagnostics.push(...found);
    const reported = new Set(found.map(diagnosticKey));
    // Each problem once, named by the first args that make it (the fewest: variants come in that order).
    const once = (d: Diagnostic, named: Diagnostic) => {
      if (reported.has(diagnosticKey(d))) return;
      reported.add(diagnosticKey(d));
      diagnostics.push(named);
    };
    for (const variant of c.variants ?? []) {
      const label = argsLabel(variant.args);
      if (variant.error) once(threw(variant.error), threw(variant.error, label));
      for (const d of checkGraph(variant.graph, variant.error)) once(d, { ...d, message: `${d.message} (in the graph setup() builds with ${label})` });
    }
    for (const args of c.hungVariants ?? []) {
      diagnostics.push({ code: "OF100", message: `setup() of command ${c.name} with ${argsLabel(args)} did not return within ${setupTimeoutMs() / 1000} s (an endless loop?); that graph is not checked`, site: c.site });
    }
  }
  const validators = validatorsModule(extracted.tasks.values());
  diagnostics.push(...validators.diagnostics);
  const dbListing = dbModule(opts.root, opts.outflowRoot, plugins);
  diagnostics.push(...dbListing.diagnostics);
  lap("check");

  const unique = dedupe(diagnostics);
  const manifest: Manifest = {
    format: MANIFEST_FORMAT,
    outflowVersion: outflowVersion(opts.outflowRoot),
    configModule: listed === null ? null : CONFIG_FILE,
    plugins,
    tasks,
    commands,
  };
  const generated = { validators: validators.code, db: dbListing.code };
  if (unique.length || opts.check) return { ok: unique.length === 0, diagnostics: unique, manifest, generated, timings };

  const emit = { root: opts.root, outflowRoot: opts.outflowRoot, manifest, validatorsCode: validators.code, dbCode: dbListing.code, modules };
  const entries = writeGenerated(emit);
  lap("generated");
  try {
    await writeBundles(emit, entries);
  } catch (error) {
    const found = esbuildDiagnostics(error, opts.root);
    if (!found) throw error;
    return { ok: false, diagnostics: found, manifest, timings };
  }
  lap("bundle");
  return { ok: true, diagnostics: [], manifest, timings };
}

/** Where a plugin name is written in outflow.config.ts (its quoted string), else the top of the file. */
function configSite(root: string, name: string): { file: string; line: number; column: number } {
  const text = readFileSync(join(root, CONFIG_FILE), "utf8");
  const at = Math.max(text.indexOf(`"${name}"`), text.indexOf(`'${name}'`));
  if (at < 0) return { file: CONFIG_FILE, line: 1, column: 1 };
  const before = text.slice(0, at).split("\n");
  return { file: CONFIG_FILE, line: before.length, column: before[before.length - 1].length + 1 };
}

/** Args as they are written on the command line: `--mode calibrate --debug --no-cache`. */
function argsLabel(args: Record<string, unknown>): string {
  return Object.entries(args)
    .map(([name, value]) => (value === true ? `--${flagName(name)}` : value === false ? `--no-${flagName(name)}` : `--${flagName(name)} ${String(value)}`))
    .join(" ");
}

function diagnosticKey(d: Diagnostic): string {
  return `${d.code} ${d.site.file}:${d.site.line}:${d.site.column} ${d.message}`;
}

/** Each diagnostic once, in file, line, column order. */
function dedupe(list: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return inSourceOrder(list.filter((d) => {
    const key = `${d.code}|${d.site.file}:${d.site.line}:${d.site.column}|${d.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  }));
}

/** Sorted by file, line, column (stable: diagnostics at one position keep their order; no position first). */
function inSourceOrder(list: Diagnostic[]): Diagnostic[] {
  const byFile = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return [...list].sort((a, b) => byFile(a.site.file, b.site.file) || a.site.line - b.site.line || a.site.column - b.site.column);
}

/** Prints diagnostics like tsc: location, code, message, code frame; then a count. */
export function printDiagnostics(root: string, diagnostics: Diagnostic[], write: (s: string) => void): void {
  const sources = new Map<string, string | undefined>();
  const source = (file: string) => {
    // A diagnostic without a position (file "") has no source to show.
    if (!sources.has(file)) sources.set(file, file && existsSync(join(root, file)) ? readFileSync(join(root, file), "utf8") : undefined);
    return sources.get(file);
  };
  for (const d of inSourceOrder(diagnostics)) write(formatDiagnostic(d, source(d.site.file)) + "\n");
  const files = new Set(diagnostics.map((d) => d.site.file).filter(Boolean)).size;
  const where = files ? ` in ${files} file${files === 1 ? "" : "s"}` : "";
  write(`Found ${diagnostics.length} error${diagnostics.length === 1 ? "" : "s"}${where}.\n`);
}
