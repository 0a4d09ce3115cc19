/**
 * What `outflow build` needs from the runtime to record command graphs: it bundles this module together
 * with the pipeline's modules (so both share one graph recorder) and calls it in a child process.
 */
import type { ArgSpec } from "../contract/manifest.js";
export { registerTasks, findCommands, flattenCommands } from "./registry.js";
export { record, GraphError } from "./graph/recorder.js";
export { toGraphSpec } from "./graph/to-spec.js";

/**
 * Args to record a graph with when the real ones are not known yet: the default, else a typed placeholder
 * (so `args.name.toUpperCase()` or `args.n > 10` in setup() do not crash). A Proxy records which args
 * setup() read.
 */
export function recordingArgs(specs: Record<string, ArgSpec>, read: Set<string>): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(specs)) values[name] = argPlaceholder(spec);
  return new Proxy(values, {
    get(target, key) {
      if (typeof key === "string") read.add(key);
      return Reflect.get(target, key);
    },
  });
}

/** The value an arg is recorded with: its default, else a typed placeholder. */
export function argPlaceholder(spec: ArgSpec): unknown {
  return spec.default ?? (spec.type === "boolean" ? false : spec.type === "number" || spec.type === "integer" ? 0 : spec.type === "enum" ? spec.options?.[0] ?? "" : "");
}

/**
 * The other values of an arg that has few, to record the graphs they build too: a boolean's other value,
 * an enum's other options. Other args (numbers, strings) have too many to try: none.
 */
export function otherArgValues(spec: ArgSpec, current: unknown): unknown[] {
  if (spec.type === "boolean") return [!current];
  if (spec.type === "enum") return (spec.options ?? []).filter((o) => o !== current);
  return [];
}
