import { callSite, type RawSite } from "./site.js";
import { emptyGraph, type Graph, type GraphNode, type MapNodeInfo } from "./model.js";
import type { TaskRef } from "../api/task.js";

/**
 * Graph recording. Calling a task inside `setup()` adds a node to the graph being recorded; no task body
 * runs. The same code records at build time (for the compiler's checks) and at run time (graphs may
 * depend on args), so what is checked is what runs.
 */

/** Edges already in a graph, so piping the same pair twice adds one edge. */
const edgeKeys = new WeakMap<Graph, Set<string>>();

/** Stack of graphs being recorded: [command graph, map body, nested map body, ...]. */
const recording: Graph[] = [];

export class GraphError extends Error {
  constructor(message: string, readonly site: RawSite) {
    super(message);
    this.name = "GraphError";
  }
}

function current(what: string, site: RawSite): Graph {
  const graph = recording[recording.length - 1];
  if (!graph) throw new GraphError(`${what} may only be called inside a command's setup()`, site);
  return graph;
}

class Node implements GraphNode {
  constructor(
    readonly id: number,
    readonly graph: Graph,
    readonly kind: "task" | "map",
    readonly site: RawSite,
    readonly bound: Record<string, unknown>,
    readonly task?: TaskRef,
    readonly map?: MapNodeInfo,
  ) {}

  pipe<N extends GraphNode>(next: N): N {
    addEdge(this, next, callSite(Node.prototype.pipe));
    return next;
  }
}

function addEdge(from: GraphNode, to: GraphNode, site: RawSite): void {
  if (!(from instanceof Node) || !(to instanceof Node)) {
    throw new GraphError("pipe() takes task or map nodes (call the task: `Compute()`, not `Compute`)", site);
  }
  if (from.graph !== to.graph) {
    throw new GraphError("pipe() connects nodes of different workflows (a map body cannot be piped to from outside; pipe into the map node instead)", site);
  }
  if (from === to) throw new GraphError("a node cannot be piped into itself", site);
  let keys = edgeKeys.get(from.graph);
  if (!keys) edgeKeys.set(from.graph, (keys = new Set()));
  const key = `${from.id}>${to.id}`;
  if (keys.has(key)) return;
  keys.add(key);
  from.graph.edges.push({ from: from.id, to: to.id, site });
}

/** Free-function form: `pipe(a, b, c)` = `a.pipe(b).pipe(c)`; returns the last node. */
export function pipe<N extends GraphNode>(first: GraphNode, ...rest: [...GraphNode[], N]): N {
  const site = callSite(pipe);
  let prev = first;
  for (const next of rest) {
    addEdge(prev, next, site);
    prev = next;
  }
  return prev as N;
}

export function addTaskNode(task: TaskRef, bound: Record<string, unknown>, skip: Function): GraphNode {
  const site = callSite(skip);
  const graph = current(`task ${task.displayName}()`, site);
  const node = new Node(graph.nodes.length, graph, "task", site, bound, task);
  graph.nodes.push(node);
  return node;
}

export function addMapNode(info: Omit<MapNodeInfo, "body">, body: () => void, skip: Function): GraphNode {
  const site = callSite(skip);
  const graph = current("map()", site);
  const node: Node = new Node(graph.nodes.length, graph, "map", site, {}, undefined, { ...info, body: emptyGraph() });
  (node.map!.body as { owner?: GraphNode }).owner = node;
  graph.nodes.push(node);
  recording.push(node.map!.body);
  try {
    body();
  } finally {
    recording.pop();
  }
  return node;
}

export interface Recording {
  graph: Graph;
  /** What setup() threw, if anything; the nodes recorded before the throw are kept. */
  error?: unknown;
}

/** Runs `setup` in recording mode and returns the graph it built. */
export function record(setup: () => void): Recording {
  const graph = emptyGraph();
  recording.push(graph);
  try {
    setup();
    return { graph };
  } catch (error) {
    return { graph, error };
  } finally {
    recording.length = 0;
  }
}
