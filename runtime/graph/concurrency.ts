import type { Graph, GraphNode } from "./model.js";

const cache = new WeakMap<Graph, Set<number>>();

/**
 * Nodes of a graph that can run at the same time as some other node (neither its ancestor nor its
 * descendant). Only those are worth sending to a worker thread: a task on a chain gains nothing from a
 * worker and would pay for copying its inputs and outputs across threads.
 */
export function mayRunConcurrently(node: GraphNode): boolean {
  let set = cache.get(node.graph);
  if (!set) cache.set(node.graph, (set = concurrentNodes(node.graph)));
  return set.has(node.id);
}

function concurrentNodes(graph: Graph): Set<number> {
  const n = graph.nodes.length;
  const out = new Set<number>();
  if (n > 2000) {
    // Large graphs: assume everything may overlap rather than spend O(n²) here.
    for (let i = 0; i < n; i++) out.add(i);
    return out;
  }
  const children: number[][] = graph.nodes.map(() => []);
  for (const e of graph.edges) children[e.from].push(e.to);
  // reach[i]: nodes reachable from i (descendants), as bit sets.
  const words = Math.ceil(n / 32);
  const reach = graph.nodes.map(() => new Uint32Array(words));
  const visit = (i: number, seen: Uint8Array) => {
    if (seen[i]) return;
    seen[i] = 1;
    for (const c of children[i]) {
      visit(c, seen);
      reach[i][c >> 5] |= 1 << (c & 31);
      for (let w = 0; w < words; w++) reach[i][w] |= reach[c][w];
    }
  };
  const seen = new Uint8Array(n);
  for (let i = 0; i < n; i++) visit(i, seen);
  const related = (a: number, b: number) => (reach[a][b >> 5] >>> (b & 31)) & 1 || (reach[b][a >> 5] >>> (a & 31)) & 1;
  for (let a = 0; a < n; a++) {
    for (let b = a + 1; b < n; b++) {
      if (!related(a, b)) {
        out.add(a);
        out.add(b);
      }
    }
  }
  return out;
}
