import { callSite, type RawSite } from "./site.js";
import { emptyGraph, type Graph, type GraphNode, type LoopNodeInfo, type MapNodeInfo } from "./model.js";
import type { NodeKind } from "../../contract/manifest.js";
import type { TaskRef } from "../api/task.js";
import { builtinLabel, workflowLabel } from "./labels.js";

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

/** A call of outflow's API that cannot work (`loop({ iterations: -1 }, ...)`): refused at the user's call of `api`. */
export function refuse(message: string, api: Function): never {
  throw new GraphError(message, callSite(api));
}

function current(what: string, site: RawSite): Graph {
  const graph = recording[recording.length - 1];
  if (!graph) throw new GraphError(`${what} may only be called inside a command's setup()`, site);
  return graph;
}

type NodeExtras = Partial<Pick<GraphNode, "task" | "map" | "loop" | "condition">> & { bound?: Record<string, unknown> };

class Node implements GraphNode {
  readonly bound: Record<string, unknown>;
  readonly task?: TaskRef;
  readonly map?: MapNodeInfo;
  readonly loop?: LoopNodeInfo;
  readonly condition?: GraphNode["condition"];

  constructor(
    readonly id: number,
    readonly graph: Graph,
    readonly kind: NodeKind,
    readonly site: RawSite,
    extras: NodeExtras = {},
  ) {
    this.bound = extras.bound ?? {};
    this.task = extras.task;
    this.map = extras.map;
    this.loop = extras.loop;
    this.condition = extras.condition;
  }

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
    const body = to.graph.owner ?? from.graph.owner!;
    throw new GraphError(
      `pipe() connects nodes of different workflows (from ${workflowLabel(from.graph.owner)} into ${workflowLabel(to.graph.owner)}): ` +
        `a body's tasks are piped only to each other; pipe into the ${builtinLabel(body)} node, and onward from it`,
      site,
    );
  }
  if (from === to) throw new GraphError("a node cannot be piped into itself", site);
  // A then/else node passes on what its if node received (ifThenElse() pipes it), and nothing else.
  if ((to.kind === "then" || to.kind === "else") && !keysOf(from.graph).has(edgeKey(from, to))) {
    throw new GraphError(`pipe() into ${builtinLabel(to)}: only its own if node feeds it; pipe the values into the if node instead (const [ifNode, thenNode, elseNode] = ifThenElse(...); x.pipe(ifNode))`, site);
  }
  link(from, to, site);
}

function keysOf(graph: Graph): Set<string> {
  let keys = edgeKeys.get(graph);
  if (!keys) edgeKeys.set(graph, (keys = new Set()));
  return keys;
}

const edgeKey = (from: GraphNode, to: GraphNode) => `${from.id}>${to.id}`;

/** Adds the edge from → to, once. */
function link(from: GraphNode, to: GraphNode, site: RawSite): void {
  const keys = keysOf(from.graph);
  if (keys.has(edgeKey(from, to))) return;
  keys.add(edgeKey(from, to));
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

function addNode(kind: NodeKind, what: string, site: RawSite, extras?: NodeExtras): Node {
  const graph = current(what, site);
  const node = new Node(graph.nodes.length, graph, kind, site, extras);
  graph.nodes.push(node);
  return node;
}

export function addTaskNode(task: TaskRef, bound: Record<string, unknown>, skip: Function): GraphNode {
  return addNode("task", `task ${task.displayName}()`, callSite(skip), { task, bound });
}

/** Records `body` into a sub-graph owned by `node` (a map or loop body). */
function recordBody(node: Node, body: Graph, build: () => void): void {
  body.owner = node;
  recording.push(body);
  try {
    build();
  } catch (error) {
    body.cutShort = true;
    throw error;
  } finally {
    recording.pop();
  }
}

export function addMapNode(info: Omit<MapNodeInfo, "body">, body: () => void, skip: Function): GraphNode {
  const node = addNode("map", "map()", callSite(skip), { map: { ...info, body: emptyGraph() } });
  recordBody(node, node.map!.body, body);
  return node;
}

export function addLoopNode(iterations: number | null, body: () => void, skip: Function): GraphNode {
  const node = addNode("loop", "loop()", callSite(skip), { loop: { iterations, body: emptyGraph() } });
  recordBody(node, node.loop!.body, body);
  return node;
}

/** `ifThenElse(condition)`: the if node and its two branch nodes, already piped if → then, if → else. */
export function addIfThenElse(condition: NonNullable<GraphNode["condition"]>, skip: Function): [GraphNode, GraphNode, GraphNode] {
  const site = callSite(skip);
  const ifNode = addNode("if", "ifThenElse()", site, { condition });
  const thenNode = addNode("then", "ifThenElse()", site);
  const elseNode = addNode("else", "ifThenElse()", site);
  link(ifNode, thenNode, site);
  link(ifNode, elseNode, site);
  return [ifNode, thenNode, elseNode];
}

/** A merge() or interactive() node: passes on what flows into it. */
export function addPassNode(kind: "merge" | "interactive", skip: Function): GraphNode {
  return addNode(kind, `${kind}()`, callSite(skip));
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
