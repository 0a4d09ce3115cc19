import { isTaskRef, type TaskRef } from "./api/task.js";
import { isCommandRef, snakeCase, type CommandRef } from "./api/command.js";

/** The plugin modules of a pipeline, by path relative to the pipeline root. */
export type ModuleTable = Record<string, Record<string, unknown>>;

export interface FoundCommand {
  /** `"<module>#<export>"`, or the parent's source plus `/<key>` for a subcommand. */
  source: string;
  name: string;
  path: string[];
  ref: CommandRef;
  parent?: FoundCommand;
  children: FoundCommand[];
}

/**
 * Gives every exported task its identity `"<module>#<export>"` by walking the module namespaces: never by
 * function name (bundlers rename functions). The first export of a task wins when it has several names.
 */
export function registerTasks(modules: ModuleTable): Map<string, TaskRef> {
  const byId = new Map<string, TaskRef>();
  for (const path of Object.keys(modules).sort()) {
    for (const [exportName, value] of Object.entries(modules[path])) {
      if (!isTaskRef(value) || value.id !== undefined) continue;
      value.id = `${path}#${exportName}`;
      // A default export is named after its function (as in the manifest), its export name says nothing.
      value.displayName = exportName === "default" ? value.fn.name || value.displayName || exportName : exportName;
      restoreName(value.fn, exportName);
      byId.set(value.id, value);
    }
  }
  return byId;
}

/**
 * `export const Compute = task(function Compute(…))` bundled: esbuild renames the inner function
 * `Compute2` (the outer const has the name), and V8 names stack frames after a function's `name`. The
 * task's function gets its name back, so that a stack says `at Compute (plugins/…/tasks.ts:12:5)`.
 * Measured cheaper than esbuild's `keepNames` for the whole bundle (+20 ms at start-up).
 */
function restoreName(fn: { name: string }, exportName: string): void {
  if (fn.name === exportName || !fn.name.startsWith(exportName) || !/^\d+$/.test(fn.name.slice(exportName.length))) return;
  Object.defineProperty(fn, "name", { value: exportName, configurable: true });
}

/** Every exported command, as a tree: a command used as another's subcommand is not top-level. */
export function findCommands(modules: ModuleTable): FoundCommand[] {
  const exported: { source: string; exportName: string; ref: CommandRef }[] = [];
  for (const path of Object.keys(modules).sort()) {
    for (const [exportName, value] of Object.entries(modules[path])) {
      if (isCommandRef(value) && !exported.some((e) => e.ref === value)) exported.push({ source: `${path}#${exportName}`, exportName, ref: value });
    }
  }
  const nested = new Set<CommandRef>();
  for (const e of exported) for (const sub of Object.values(e.ref.definition.subcommands ?? {})) nested.add(sub);
  const build = (ref: CommandRef, source: string, defaultName: string, parent?: FoundCommand): FoundCommand => {
    const name = ref.definition.name ?? snakeCase(defaultName);
    const found: FoundCommand = { source, name, path: [...(parent?.path ?? []), name], ref, parent, children: [] };
    for (const [key, sub] of Object.entries(ref.definition.subcommands ?? {})) found.children.push(build(sub, `${source}/${key}`, key, found));
    return found;
  };
  return exported.filter((e) => !nested.has(e.ref)).map((e) => build(e.ref, e.source, e.exportName));
}

export function flattenCommands(roots: FoundCommand[]): FoundCommand[] {
  return roots.flatMap((c) => [c, ...flattenCommands(c.children)]);
}
