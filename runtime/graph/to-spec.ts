import type { GraphSpec, Site } from "../../contract/manifest.js";
import type { Graph } from "./model.js";
import type { RawSite } from "./site.js";

/** The serialisable form of a recorded graph (what the manifest stores and the checks read). */
export function toGraphSpec(graph: Graph, mapSite: (site: RawSite) => Site = (s) => s): GraphSpec {
  return {
    nodes: graph.nodes.map((n) => ({
      id: n.id,
      kind: n.kind,
      ...(n.task ? { task: n.task.id ?? `?#${n.task.displayName}` } : {}),
      ...(Object.keys(n.bound).length ? { bound: Object.keys(n.bound) } : {}),
      site: mapSite(n.site),
      ...(n.map ? { map: { options: n.map.options, customReduce: n.map.reduce !== undefined, body: toGraphSpec(n.map.body, mapSite) } } : {}),
      ...(n.loop ? { loop: { iterations: n.loop.iterations, body: toGraphSpec(n.loop.body, mapSite) } } : {}),
    })),
    edges: graph.edges.map((e) => ({ from: e.from, to: e.to, site: mapSite(e.site) })),
    ...(graph.cutShort ? { cutShort: true as const } : {}),
  };
}
