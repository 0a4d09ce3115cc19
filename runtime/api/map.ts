import { addMapNode } from "../graph/recorder.js";
import type { GraphNode } from "../graph/model.js";
import type { MapOptions as MapSpecOptions } from "../../contract/manifest.js";

export interface MapOptions<R = unknown> extends MapSpecOptions {
  /** Replaces the default result (the array of element results in input order). */
  reduce?: (elements: unknown[]) => R;
}

/**
 * outflow's MapTask: `body` is a sub-workflow that runs once per element of the upstream array named by
 * the `IterateOn<"target", T>` parameter of its first task. Other upstream outputs pass through to the
 * body unmapped. The map outputs `{ [outputName]: results in input order }`.
 */
export function map(options: MapOptions, body: () => void): GraphNode {
  const { reduce, ...rest } = options;
  return addMapNode({ options: rest, reduce }, body, map);
}
