import { addMapNode, refuse } from "../graph/recorder.js";
import { shown } from "../graph/labels.js";
import type { GraphNode } from "../graph/model.js";
import type { MapOptions as MapSpecOptions } from "../../contract/manifest.js";

export interface MapOptions<R = unknown> extends MapSpecOptions {
  /**
   * Replaces the default result (the array of element results in input order). Written as a method so
   * that a typed reduce (`(ys: number[]) => …`) fits; the compiler checks that the elements fit it (OF102).
   */
  reduce?(elements: unknown[]): R;
}

/**
 * outflow's MapTask: `body` is a sub-workflow that runs once per element of the upstream array named by
 * the `IterateOn<"target", T>` parameter of its first task. Other upstream outputs pass through to the
 * body unmapped. The map outputs `{ [outputName]: results in input order }`.
 */
export function map(options: MapOptions, body: () => void): GraphNode {
  const usage = `as in map({ outputName: "results" }, () => { Compute(); })`;
  if (typeof options !== "object" || options === null) refuse(`map() takes its options first, ${usage}; got ${shown(options)}`, map);
  if (typeof body !== "function") refuse(`map() takes a function that builds its body, ${usage}; got ${shown(body)}`, map);
  // A count that cannot work (`simultaneousTasks: args.n` with n = 0) is OF113 of the recorded graph, at this call.
  const { reduce, ...rest } = options;
  return addMapNode({ options: rest, reduce }, body, map);
}
