/**
 * Layered config merge: objects merge key by key, arrays and scalars replace. Records, for every
 * key path a layer writes (top-level, intermediate and leaf, dotted), which file it came from.
 */
import type { IncludeOrigin } from "./read.js";

export type Sources = Map<string, string>;

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object") return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Returns `target` with `layer` merged over it (neither input is mutated). `file` names the layer in
 * `sources`; `origins` re-attribute subtrees that came from included files.
 */
export function mergeLayer(
  target: Record<string, unknown>,
  layer: Record<string, unknown>,
  file: string,
  sources: Sources,
  origins: readonly IncludeOrigin[] = [],
): Record<string, unknown> {
  const attribution = new Map(origins.map((o) => [o.path.join("."), o.file]));
  return mergeObject(target, layer, [], file, { sources, attribution });
}

interface MergeState {
  sources: Sources;
  attribution: Map<string, string>;
}

function mergeObject(
  target: Record<string, unknown>,
  layer: Record<string, unknown>,
  path: string[],
  file: string,
  state: MergeState,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...target };
  for (const [key, value] of Object.entries(layer)) {
    const keyPath = [...path, key];
    const dotted = keyPath.join(".");
    const from = state.attribution.get(dotted) ?? file;
    state.sources.set(dotted, from);
    const current = out[key];
    if (isPlainObject(value)) {
      // A database whose dialect changes is a different database: its entry is replaced, not merged
      // (an instance file can switch the SQLite default to PostgreSQL without leftover `path`).
      const replaces = !isPlainObject(current) || (path.length === 1 && path[0] === "databases" && value.dialect !== undefined && value.dialect !== current.dialect);
      if (replaces) forget(state.sources, dotted);
      out[key] = mergeObject(replaces || !isPlainObject(current) ? {} : current, value, keyPath, from, state);
    } else {
      forget(state.sources, dotted);
      out[key] = value;
    }
  }
  return out;
}

/** Drops the sources of keys below `dotted`, which a replacing value has removed. */
function forget(sources: Sources, dotted: string): void {
  const prefix = `${dotted}.`;
  for (const key of sources.keys()) if (key.startsWith(prefix)) sources.delete(key);
}

/** Marks every key path of `config` that no layer wrote as `"default"`. */
export function markDefaults(config: Record<string, unknown>, sources: Sources, path: string[] = []): void {
  for (const [key, value] of Object.entries(config)) {
    const dotted = [...path, key].join(".");
    if (!sources.has(dotted)) sources.set(dotted, "default");
    if (isPlainObject(value)) markDefaults(value, sources, [...path, key]);
  }
}

/** The file that provided `path` (or its closest ancestor that some layer wrote). */
export function sourceOf(sources: Sources, path: ReadonlyArray<PropertyKey>): string | undefined {
  const parts = path.map(String);
  for (let n = parts.length; n > 0; n--) {
    const found = sources.get(parts.slice(0, n).join("."));
    if (found !== undefined && found !== "default") return found;
  }
  return undefined;
}
