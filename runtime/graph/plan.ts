import type { GraphSpec, NodeSpec, Site, TaskSpec } from "../../contract/manifest.js";
import type { Diagnostic } from "../../contract/diagnostic.js";
import { builtinLabel } from "./labels.js";
import { recordedCountDiagnostics } from "./map-counts.js";

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

/** What a node offers its children: output name → type text (and, for merge(), which branches lack it). */
export type Offers = Map<string, { type: string; missingFrom?: string[] }>;

function taskOffers(node: NodeSpec, tasks: TaskTable): Offers {
  const out: Offers = new Map();
  if (node.kind === "map") out.set(node.map!.options.outputName, { type: "map result" });
  else for (const o of tasks[node.task!]?.outputs ?? []) out.set(o.name, { type: o.type });
  return out;
}

/** Kinds that pass on what flows into them instead of declaring inputs and outputs. */
const PASS_KINDS = new Set(["if", "then", "else", "merge", "interactive"]);

export function nodeLabel(node: NodeSpec, tasks: TaskTable): string {
  return node.kind === "task" ? (tasks[node.task!]?.name ?? node.task ?? "?") : builtinLabel(node);
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

/** One actual cycle among the nodes a topological sort could not order (they include nodes downstream of it). */
function findCycle(graph: GraphSpec, unordered: number[]): number[] {
  const { children } = adjacency(graph);
  const inSet = new Set(unordered);
  const state = new Map<number, "open" | "done">();
  const stack: number[] = [];
  const visit = (id: number): number[] | undefined => {
    state.set(id, "open");
    stack.push(id);
    for (const c of children[id]) {
      if (!inSet.has(c)) continue;
      if (state.get(c) === "open") return stack.slice(stack.indexOf(c));
      if (!state.has(c)) {
        const found = visit(c);
        if (found) return found;
      }
    }
    stack.pop();
    state.set(id, "done");
    return undefined;
  };
  for (const id of unordered) if (!state.has(id)) {
    const found = visit(id);
    if (found) return found;
  }
  return unordered;
}

interface Scope {
  /** Names the enclosing map/loop passes through to entry nodes of its body, with their type text. */
  outer: Offers;
  /** The map or loop node owning this body (for messages). */
  owner?: NodeSpec;
}

/** Resolves every input of every node and reports what cannot be resolved. */
export function planGraph(graph: GraphSpec, tasks: TaskTable, scope?: Scope): { plan: GraphPlan; diagnostics: Diagnostic[]; offers: Offers[] } {
  const diagnostics: Diagnostic[] = [];
  const { order, cycle } = topologicalOrder(graph);
  if (cycle) {
    const loop = findCycle(graph, cycle);
    const names = [...loop, loop[0]].map((id) => nodeLabel(graph.nodes[id], tasks)).join(" → ");
    const edge = graph.edges.find((e) => e.from === loop[loop.length - 1] && e.to === loop[0]) ?? graph.edges.find((e) => loop.includes(e.from) && loop.includes(e.to))!;
    diagnostics.push({ code: "OF105", message: `Cycle in the task graph: ${names} (a task cannot depend on its own output)`, site: edge.site });
  }
  const nodes: NodePlan[] = [];
  const offers: Offers[] = [];
  const links = adjacency(graph);
  for (const id of order) {
    const node = graph.nodes[id];
    const parentIds = links.parents[id];
    const parents = parentIds.map((p) => graph.nodes[p]);
    const offered = new Map<string, { node: NodeSpec; type: string; missingFrom?: string[] }[]>();
    for (const p of parents) for (const [name, o] of offers[p.id] ?? []) offered.set(name, [...(offered.get(name) ?? []), { node: p, ...o }]);
    const isEntry = parents.length === 0 && scope !== undefined;
    // What an entry of a body, or a map/loop, sees: the enclosing pass-through plus what its parents offer.
    const visible = (): Offers => {
      const out: Offers = new Map(isEntry ? scope!.outer : []);
      for (const [name, list] of offered) out.set(name, { type: list[0].type });
      return out;
    };

    if (PASS_KINDS.has(node.kind)) {
      offers[id] = node.kind === "merge" ? mergeOffers(parents, offers, tasks) : visible();
      nodes[id] = { node: id, parents: parentIds, inputs: [] };
      continue;
    }
    if (node.kind === "loop") {
      const body = planGraph(node.loop!.body, tasks, { outer: visible(), owner: node });
      diagnostics.push(...body.diagnostics);
      offers[id] = terminalOffers(body.plan, body.offers);
      nodes[id] = { node: id, parents: parentIds, inputs: [], body: body.plan };
      continue;
    }
    if (node.kind === "map") {
      const outer = visible();
      const body = planGraph(node.map!.body, tasks, { outer, owner: node });
      diagnostics.push(...body.diagnostics);
      diagnostics.push(...recordedCountDiagnostics(node, nodeLabel(node, tasks)));
      const iterate = iterateTarget(node, tasks, diagnostics);
      if (iterate !== undefined && !outer.has(iterate)) {
        const what = [...outer.keys()];
        diagnostics.push({
          code: "OF106",
          message: `IterateOn target "${iterate}" of map(${node.map!.options.outputName}) is not provided upstream of the map; ${what.length ? `upstream provides: ${what.join(", ")}` : "the map has no upstream task"}`,
          site: iterateSite(node, tasks) ?? node.site,
        });
      }
      offers[id] = taskOffers(node, tasks);
      nodes[id] = { node: id, parents: parentIds, inputs: [], body: body.plan, iterate };
      continue;
    }

    offers[id] = taskOffers(node, tasks);
    const spec = tasks[node.task!];
    if (!spec) {
      diagnostics.push({ code: "OF111", message: `Task ${node.task} is not known to the manifest (is it exported from a plugin module?)`, site: node.site });
      nodes[id] = { node: id, parents: parentIds, inputs: [] };
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
        const missing = providers[0].missingFrom;
        if (missing?.length && !input.optional) {
          diagnostics.push({ code: "OF101", message: `Task ${spec.name} needs input "${input.name}" but merge() gets it only from some branches; ${missing.join(", ")} ${missing.length === 1 ? "does" : "do"} not provide it`, site: node.site });
        }
        inputs.push({ name: input.name, from: { kind: "output", node: providers[0].node.id, output: input.name } });
        continue;
      }
      if (isEntry && input.iterateOn && scope!.owner?.kind === "map") {
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
      const where = isEntry ? `the ${nodeLabel(scope!.owner!, tasks)} upstream` : upstream.length ? `upstream ${upstream.join(", ")}` : "";
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
    nodes[id] = { node: id, parents: parentIds, inputs };
  }
  const terminals = graph.nodes.filter((n) => links.children[n.id].length === 0).map((n) => n.id);
  return { plan: { order, nodes, terminals }, diagnostics, offers };
}

/**
 * merge(): a name is offered with the union of its branches' types (any branch may be the one that ran);
 * a name only some branches provide is marked with the ones that do not.
 */
function mergeOffers(parents: NodeSpec[], offers: Offers[], tasks: TaskTable): Offers {
  const out: Offers = new Map();
  for (const p of parents) {
    for (const name of offers[p.id]?.keys() ?? []) {
      if (out.has(name)) continue;
      const types = [...new Set(parents.flatMap((q) => offers[q.id]?.get(name)?.type ?? []))];
      const missingFrom = parents.filter((q) => !offers[q.id]?.has(name)).map((q) => nodeLabel(q, tasks));
      out.set(name, { type: types.join(" | "), ...(missingFrom.length ? { missingFrom } : {}) });
    }
  }
  return out;
}

/** What a body's terminal nodes offer together (a loop's outputs). */
function terminalOffers(plan: GraphPlan, offers: Offers[]): Offers {
  const out: Offers = new Map();
  for (const id of plan.terminals) for (const [k, v] of offers[id] ?? []) out.set(k, v);
  return out;
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
