import type { RawSite } from "./site.js";
import type { TaskRef } from "../api/task.js";
import type { MapOptions, NodeKind } from "../../contract/manifest.js";

/** A node of a command graph: one task call, or one map (whose body is a sub-graph). */
export interface GraphNode {
  readonly id: number;
  readonly graph: Graph;
  readonly kind: NodeKind;
  readonly task?: TaskRef;
  /** Constant inputs bound at the call: `Sleep({ seconds: 60 })`. */
  readonly bound: Record<string, unknown>;
  readonly site: RawSite;
  readonly map?: MapNodeInfo;
  readonly loop?: LoopNodeInfo;
  /** For `if` nodes: decides between the then and else branches from the inputs piped into it. */
  readonly condition?: (inputs: Record<string, unknown>) => boolean | Promise<boolean>;
  /** `a.pipe(b)` adds the edge a → b and returns b, so chains read left to right. */
  pipe<N extends GraphNode>(next: N): N;
}

export interface MapNodeInfo {
  options: MapOptions;
  reduce?: (elements: unknown[]) => unknown;
  body: Graph;
}

export interface LoopNodeInfo {
  iterations: number | null;
  body: Graph;
}

export interface GraphEdge {
  from: number;
  to: number;
  site: RawSite;
}

export interface Graph {
  nodes: GraphNode[];
  edges: GraphEdge[];
  /** The map node that owns this graph, for a sub-workflow. */
  owner?: GraphNode;
  /** setup() threw while this body was being recorded. */
  cutShort?: true;
}

export function emptyGraph(owner?: GraphNode): Graph {
  return { nodes: [], edges: [], owner };
}
