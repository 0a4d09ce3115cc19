import type { GraphSpec, NodeSpec, Site, TaskSpec } from "../../contract/manifest.js";
import type { Diagnostic } from "../../contract/diagnostic.js";

export type { Diagnostic };

/**
 * Input resolution and the name-level graph checks. One piece of code serves the compiler (which adds
 * type checks on top, using the resolution) and the runtime (which re-checks the graph it recorded with
 * the real args, then executes the resolution as its plan).
 */

/** Where one input of a node gets its value. */
export type Provider =
  /** An output of a parent node in the same workflow. */
  | { kind: "output"; node: number; output: string }
  /** A constant bound at the call: `Sleep({ seconds: 60 })`. */
  | { kind: "bound" }
  /** Not provided; optional: the parameter's default (or undefined) applies. */
  | { kind: "default" }
  /** Inside a map body: an upstream output of the map, passed through unmapped. */
  | { kind: "outer"; output: string }
  /** Inside a map body: one element of the map's upstream array `target`. */
  | { kind: "element"; target: string };

export interface InputPlan {
  name: string;
  from: Provider;
}

export interface NodePlan {
  node: number;
  /** Parent node ids (edges into this node). */
  parents: number[];
  inputs: InputPlan[];
  /** For map nodes: the plan of the body, and the upstream array it iterates. */
  body?: GraphPlan;
  iterate?: string;
}

export interface GraphPlan {
  /** Nodes in a topological order (parents first). */
  order: number[];
  nodes: NodePlan[];
  /** Nodes with no children: their outputs make a map element's result. */
  terminals: number[];
}


export type TaskTable = Record<string, TaskSpec>;

/** What a node offers its children: output name → type text. */
export function outputsOf(node: NodeSpec, tasks: TaskTable): Map<string, string> {
  const out = new Map<string, string>();
  if (node.kind === "map") out.set(node.map!.options.outputName, "map result");
  else for (const o of tasks[node.task!]?.outputs ?? []) out.set(o.name, o.type);
  return out;
}

function nodeLabel(node: NodeSpec, tasks: TaskTable): string {
  return node.kind === "map" ? `map(${node.map!.options.outputName})` : (tasks[node.task!]?.name ?? node.task ?? "?");
}

/** Parents and children of every node, by id. */
export function adjacency(graph: Pick<GraphSpec, "nodes" | "edges">): { parents: number[][]; children: number[][] } {
  const parents = graph.nodes.map((): number[] => []);
  const children = graph.nodes.map((): number[] => []);
  for (const e of graph.edges) {
    parents[e.to].push(e.from);
    children[e.from].push(e.to);
  }
  return { parents, children };
}

export function topologicalOrder(graph: GraphSpec): { order: number[]; cycle?: number[] } {
  const { parents, children } = adjacency(graph);
  const indegree = parents.map((p) => p.length);
  const queue = graph.nodes.filter((n) => indegree[n.id] === 0).map((n) => n.id);
  const order: number[] = [];
  for (let head = 0; head < queue.length; head++) {
    const id = queue[head];
    order.push(id);
    for (const child of children[id]) if (--indegree[child] === 0) queue.push(child);
  }
  if (order.length === graph.nodes.length) return { order };
  return { order, cycle: graph.nodes.filter((n) => !order.includes(n.id)).map((n) => n.id) };
}

interface Scope {
  /** Names the enclosing map passes through to entry nodes of its body, with their type text. */
  outer: Map<string, string>;
  /** The map node owning this body (for messages). */
  owner?: NodeSpec;
}

/** Resolves every input of every node and reports what cannot be resolved. */
export function planGraph(graph: GraphSpec, tasks: TaskTable, scope?: Scope): { plan: GraphPlan; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const { order, cycle } = topologicalOrder(graph);
  if (cycle) {
    const names = cycle.map((id) => nodeLabel(graph.nodes[id], tasks)).join(" → ");
    const edge = graph.edges.find((e) => cycle.includes(e.from) && cycle.includes(e.to))!;
    diagnostics.push({ code: "OF105", message: `Cycle in the task graph: ${names} (a task cannot depend on its own output)`, site: edge.site });
  }
  const nodes: NodePlan[] = [];
  const links = adjacency(graph);
  for (const node of graph.nodes) {
    const parentIds = links.parents[node.id];
    const parents = parentIds.map((id) => graph.nodes[id]);
    const offered = new Map<string, { node: NodeSpec; type: string }[]>();
    for (const p of parents) for (const [name, type] of outputsOf(p, tasks)) offered.set(name, [...(offered.get(name) ?? []), { node: p, type }]);
    const isEntry = parents.length === 0 && scope !== undefined;

    if (node.kind === "map") {
      // A map's scope: what its parents offer (or, as an entry of an enclosing body, what passes through).
      const outer = new Map<string, string>();
      if (isEntry) for (const [k, v] of scope!.outer) outer.set(k, v);
      for (const [name, list] of offered) outer.set(name, list[0].type);
      const body = planGraph(node.map!.body, tasks, { outer, owner: node });
      diagnostics.push(...body.diagnostics);
      const iterate = iterateTarget(node, tasks, diagnostics);
      if (iterate !== undefined && !outer.has(iterate)) {
        const what = [...outer.keys()];
        diagnostics.push({
          code: "OF106",
          message: `IterateOn target "${iterate}" of map(${node.map!.options.outputName}) is not provided upstream of the map; ${what.length ? `upstream provides: ${what.join(", ")}` : "the map has no upstream task"}`,
          site: iterateSite(node, tasks) ?? node.site,
        });
      }
      nodes.push({ node: node.id, parents: parentIds, inputs: [], body: body.plan, iterate });
      continue;
    }

    const spec = tasks[node.task!];
    if (!spec) {
      diagnostics.push({ code: "OF111", message: `Task ${node.task} is not known to the manifest (is it exported from a plugin module?)`, site: node.site });
      nodes.push({ node: node.id, parents: parentIds, inputs: [] });
      continue;
    }
    for (const name of node.bound ?? []) {
      if (!spec.inputs.some((i) => i.name === name)) {
        diagnostics.push({ code: "OF103", message: `Task ${spec.name} has no input "${name}" to bind; its inputs are: ${spec.inputs.map((i) => i.name).join(", ") || "(none)"}`, site: node.site });
      }
    }
    const inputs: InputPlan[] = [];
    for (const input of spec.inputs) {
      if (node.bound?.includes(input.name)) {
        inputs.push({ name: input.name, from: { kind: "bound" } });
        continue;
      }
      const providers = offered.get(input.name) ?? [];
      if (providers.length > 1) {
        const list = providers.map((p) => `${nodeLabel(p.node, tasks)} (${p.type})`).join(" and ");
        diagnostics.push({ code: "OF104", message: `Input "${input.name}" of task ${spec.name} is ambiguous: provided by ${list}; rename one output or bind the value`, site: node.site });
      }
      if (providers.length > 0) {
        inputs.push({ name: input.name, from: { kind: "output", node: providers[0].node.id, output: input.name } });
        continue;
      }
      if (isEntry && input.iterateOn) {
        inputs.push({ name: input.name, from: { kind: "element", target: input.iterateOn.target } });
        continue;
      }
      if (isEntry && scope!.outer.has(input.name)) {
        inputs.push({ name: input.name, from: { kind: "outer", output: input.name } });
        continue;
      }
      if (input.optional) {
        inputs.push({ name: input.name, from: { kind: "default" } });
        continue;
      }
      const available = new Set<string>([...offered.keys(), ...(isEntry ? scope!.outer.keys() : [])]);
      const upstream = parents.map((p) => nodeLabel(p, tasks));
      const where = isEntry ? `the map(${scope!.owner?.map?.options.outputName}) upstream` : upstream.length ? `upstream ${upstream.join(", ")}` : "";
      const hint = input.iterateOn && !isEntry ? ` (IterateOn only takes effect in the first task of a map() body)` : "";
      diagnostics.push({
        code: "OF101",
        message:
          `Task ${spec.name} needs input "${input.name}" (${input.type}) but nothing provides it; ` +
          (where ? `${where} provides: ${available.size ? [...available].join(", ") : "no outputs"}` : `${spec.name} has no upstream task and nothing is bound`) +
          hint,
        site: node.site,
      });
      inputs.push({ name: input.name, from: { kind: "default" } });
    }
    nodes.push({ node: node.id, parents: parentIds, inputs });
  }
  const terminals = graph.nodes.filter((n) => links.children[n.id].length === 0).map((n) => n.id);
  return { plan: { order, nodes, terminals }, diagnostics };
}

function entryIterateInputs(node: NodeSpec, tasks: TaskTable) {
  const body = node.map!.body;
  const entries = body.nodes.filter((n) => n.kind === "task" && !body.edges.some((e) => e.to === n.id));
  return entries.flatMap((n) => (tasks[n.task!]?.inputs ?? []).filter((i) => i.iterateOn && !n.bound?.includes(i.name)).map((i) => ({ node: n, input: i })));
}

function iterateSite(node: NodeSpec, tasks: TaskTable): Site | undefined {
  return entryIterateInputs(node, tasks)[0]?.node.site;
}

/** The upstream array a map iterates: the `IterateOn` target of its body's first task(s). */
function iterateTarget(node: NodeSpec, tasks: TaskTable, diagnostics: Diagnostic[]): string | undefined {
  const found = entryIterateInputs(node, tasks);
  if (found.length === 0) {
    diagnostics.push({
      code: "OF109",
      message: `map(${node.map!.options.outputName}) has nothing to iterate: the first task of its body needs a parameter typed IterateOn<"target", T>`,
      site: node.site,
    });
    return undefined;
  }
  const targets = [...new Set(found.map((f) => f.input.iterateOn!.target))];
  if (targets.length > 1) {
    diagnostics.push({ code: "OF109", message: `map(${node.map!.options.outputName}) iterates conflicting targets: ${targets.join(", ")} (a map iterates one upstream array)`, site: node.site });
  }
  return targets[0];
}
