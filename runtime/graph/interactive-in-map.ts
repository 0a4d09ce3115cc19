import type { Graph, GraphNode } from "./model.js";

/**
 * The first interactive() node inside a map body (at any depth, loops included), with its map: such a
 * map's elements run in worker threads or Slurm array tasks on the other backends, which have no terminal.
 */
export function interactiveInsideMap(graph: Graph, map?: GraphNode): { node: GraphNode; map: GraphNode } | undefined {
  for (const node of graph.nodes) {
    if (node.kind === "interactive" && map) return { node, map };
    const found = node.map ? interactiveInsideMap(node.map.body, node) : node.loop ? interactiveInsideMap(node.loop.body, map) : undefined;
    if (found) return found;
  }
  return undefined;
}
