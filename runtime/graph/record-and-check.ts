/**
 * Records a command's graph with the real args and re-checks it before any task runs: the driver does
 * it once per run, and every place that runs map elements away from it (threads workers, Slurm array
 * tasks) does it again to find the map by its path. Kept apart from `pipeline.ts` so those places do not
 * load the CLI and config code (the YAML parser among it).
 */
import { readFileSync } from "node:fs";
import { relative, resolve } from "node:path";
import type { CommandSpec, Manifest, Site } from "../../contract/manifest.js";
import { formatDiagnostic } from "../../contract/diagnostic.js";
import { registerTasks, findCommands, flattenCommands, type ModuleTable } from "../registry.js";
import { originalPosition } from "../source-map.js";
import { userSite } from "../user-stack.js";
import { reasonOf } from "../reason.js";
import { ReportedError } from "../report.js";
import { record, GraphError } from "./recorder.js";
import { toGraphSpec } from "./to-spec.js";
import { planGraph, type GraphPlan } from "./plan.js";
import type { Graph } from "./model.js";
import type { RawSite } from "./site.js";

/** Maps a bundle position back to the user's source, the file relative to the pipeline root (as the build gives it). */
export function sourceSite(root: string, site: RawSite): Site {
  const where = originalPosition(site.file, site.line, site.column) ?? site;
  return { ...where, file: relative(root, resolve(root, where.file)) };
}

/** A recorded call's place in the command's source as messages give it: `plugins/p/commands.ts:12:16`. */
export function siteText(root: string, site: RawSite): string {
  const where = sourceSite(root, site);
  return `${where.file}:${where.line}:${where.column}`;
}

function readSource(root: string, file: string): string | undefined {
  try {
    return readFileSync(resolve(root, file), "utf8");
  } catch {
    return undefined;
  }
}

export function recordAndCheck(run: { manifest: Manifest; root: string; command: CommandSpec }, modules: ModuleTable, args: Record<string, unknown>): { graph: Graph; plan: GraphPlan } {
  registerTasks(modules);
  const found = flattenCommands(findCommands(modules)).find((c) => c.source === run.command.source);
  if (!found) throw new Error(`command ${run.command.path.join(" ")} (${run.command.source}) is not in the bundle; rebuild with \`outflow build\``);
  const setup = found.ref.definition.setup;
  const recording = record(() => setup?.({ args: args as never }));
  if (recording.error) {
    const e = recording.error;
    // A graph mistake names the call; any other exception the place in the user's code that threw it.
    const thrown = e instanceof GraphError ? undefined : userSite(e);
    const where = e instanceof GraphError ? siteText(run.root, e.site) : thrown && `${relative(run.root, thrown.file)}:${thrown.line}:${thrown.column}`;
    const what = e instanceof GraphError ? e.message : reasonOf(e);
    throw new GraphError(`${where ? `${where} - ` : ""}setup() of ${run.command.name} failed: ${what}`, e instanceof GraphError ? e.site : { file: "", line: 0, column: 0 });
  }
  const { plan, diagnostics } = planGraph(toGraphSpec(recording.graph), run.manifest.tasks);
  if (diagnostics.length) {
    for (const d of diagnostics) {
      // Relative to the pipeline root, as the compiler gives it (and as a setup() that threw is named above).
      const site = sourceSite(run.root, d.site);
      process.stderr.write(formatDiagnostic({ ...d, site }, readSource(run.root, site.file)) + "\n");
    }
    process.stderr.write(`error: the graph of ${run.command.name} built with these args is invalid (${diagnostics.length} problem${diagnostics.length > 1 ? "s" : ""})\n`);
    throw new ReportedError(1);
  }
  return { graph: recording.graph, plan };
}
