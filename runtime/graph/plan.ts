import type { GraphSpec, NodeSpec, Site, TaskSpec } from "../../contract/manifest.js";
import type { Diagnostic } from "../../contract/diagnostic.js";
import { builtinLabel } from "./labels.js";
import { recordedCountDiagnostics } from "./map-counts.js";

export type { Diagnostic };

/** A graph check's diagnostic, with what the compiler needs to know of where it comes from. */
export interface PlanDiagnostic extends Diagnostic {
  /**
   * An OF104 for two terminal tasks of a map or loop body returning one name; `bodyCutShort` when setup()
   * threw while recording that body (a task may then only look terminal: the compiler drops these).
   */
  terminals?: { bodyCutShort: boolean };
}

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
  /**
   * The output names the terminals offer together, known statically: a map element's result is the value
   * itself when this is one name, else an object of the names present at run time (README, Maps).
   */
  resultNames: string[];
  /** When each node gives its outputs (by node id): the one branch and skip analysis of the graph checks and the compiler's type checks. */
  flow: NodeFlow[];
}

/**
 * When a node gives its outputs, as far as the graph says. The checks of this module (OF104 for terminals,
 * OF115) and the compiler's type checks (which names a body's result always has) read this one analysis.
 */
export interface NodeFlow {
  /**
   * The ifThenElse() sides the node runs on only (`<if id>:then`, `<if id>:else`): it runs only when all of
   * them are taken. `never` for a node below both sides of one if node (it never runs).
   */
  sides: string[] | "never";
  /**
   * It may give nothing even when its sides are taken: a task whose return type allows `Skipped` (or that the
   * manifest does not say cannot return it), a loop (it may run no iteration), a merge() whose branches do not
   * cover every way to reach it, or anything downstream of such a node.
   */
  skippable: boolean;
}


export type TaskTable = Record<string, TaskSpec>;

/**
 * What a node offers its children: output name → type text (and, for merge(), which branches lack it).
 * `from` names the task(s) a value passed on by an if, then, else, merge() or interactive() node, or by a
 * map or loop to its body, comes from (`Src`, `Big or Small`); a node's own outputs have none.
 */
export type Offers = Map<string, { type: string; missingFrom?: string[]; from?: string }>;

function taskOffers(node: NodeSpec, tasks: TaskTable): Offers {
  const out: Offers = new Map();
  if (node.kind === "map") out.set(node.map!.options.outputName, { type: "map result" });
  else for (const o of tasks[node.task!]?.outputs ?? []) out.set(o.name, { type: o.type });
  return out;
}

/** One parent's offer of a name to a node. */
interface Offered {
  node: NodeSpec;
  type: string;
  missingFrom?: string[];
  from?: string;
}

/** The task(s) an offered value comes from: the parent itself, or what it passes on. */
function originOf(offer: Offered, tasks: TaskTable): string {
  return offer.from ?? nodeLabel(offer.node, tasks);
}

/**
 * A bound input that something else provides too (OF104): a parent's output (`Src (number)`, or `Src (number)
 * through ifThenElse().then` for a value passed on), or, for a first task of a body (`entry`), the map's
 * element or what the map or loop passes through. Only what reaches the task counts, as for two parents.
 */
function alsoProvided(input: TaskSpec["inputs"][number], parents: Offered[], entry: Scope | undefined, tasks: TaskTable): string | undefined {
  const unbind = "; do not bind it to take the upstream value, or rename the output or the input";
  if (parents.length) {
    const list = parents.map((p) => `${originOf(p, tasks)} (${p.type})${p.from === undefined ? "" : ` through ${nodeLabel(p.node, tasks)}`}`);
    return `provided by ${list.join(" and ")}${unbind}`;
  }
  if (!entry) return undefined;
  const element = elementOf(input, entry);
  const passed = passedThrough(input, entry);
  if (element) {
    return `${element}${passed ? ` and ${passed}` : ""}; do not bind it (the first task of a map() body takes the element in its IterateOn input)`;
  }
  return passed && `${passed}${unbind}`;
}

/** The map's element, when a first task of its body (`entry`) takes it in this input: `given each element of "xs" by map(ys)`. */
function elementOf(input: TaskSpec["inputs"][number], entry: Scope): string | undefined {
  if (!input.iterateOn || entry.owner?.kind !== "map") return undefined;
  return `given each element of "${input.iterateOn.target}" by ${builtinLabel(entry.owner)}`;
}

/**
 * A value of this input's name that the map or loop passes through to a first task of its body (`entry`):
 * `passed through to the body by map(ys) from Gen (number)`. Not the map's target array, when the input
 * taking its element is named like it (`items: IterateOn<"items", number>`): that is where the element comes from.
 */
function passedThrough(input: TaskSpec["inputs"][number], entry: Scope): string | undefined {
  const passed = entry.outer.get(input.name);
  if (!passed || (elementOf(input, entry) && input.iterateOn!.target === input.name)) return undefined;
  return `passed through to the body by ${builtinLabel(entry.owner!)} from ${passed.from ?? "upstream"} (${passed.type})`;
}

/** Kinds that pass on what flows into them instead of declaring inputs and outputs. */
const PASS_KINDS = new Set(["if", "then", "else", "merge", "interactive"]);

export function nodeLabel(node: NodeSpec, tasks: TaskTable): string {
  return node.kind === "task" ? (tasks[node.task!]?.name ?? exportName(node.task)) : builtinLabel(node);
}

/** A task id's export name (`plugins/p/tasks.ts#Bad` → `Bad`; `?#Hidden`, a task that is not exported, → `Hidden`). */
function exportName(id: string | undefined): string {
  return id === undefined ? "?" : id.slice(id.lastIndexOf("#") + 1);
}

/** In messages: a task node, `Task Last`; any other node as written, `map(ys)`. */
function nodeTitle(node: NodeSpec, tasks: TaskTable): string {
  return node.kind === "task" ? `Task ${nodeLabel(node, tasks)}` : builtinLabel(node);
}

/** A task not in the manifest (reported once, OF111 or OF121): what it would provide is not known. */
function isUnknownTask(node: NodeSpec, tasks: TaskTable): boolean {
  return node.kind === "task" && !tasks[node.task!];
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
  /** Something upstream of the owner is a task not in the manifest (already reported): `outer` may lack names. */
  incomplete?: boolean;
}

/** Two nodes that never both run: one is on the then side of an if node, the other on its else side. */
function exclusive(a: NodeFlow, b: NodeFlow): boolean {
  if (a.sides === "never" || b.sides === "never") return true;
  const other = new Set(b.sides);
  return a.sides.some((side) => other.has(otherSide(side)));
}

function otherSide(side: string): string {
  return side.endsWith(":then") ? side.replace(/:then$/, ":else") : side.replace(/:else$/, ":then");
}

/**
 * Whether at least one of `members` gives its outputs whenever the sides in `base` are taken: one that is not
 * skippable and runs on those sides only, or, split on an if node one of them depends on, on both of its
 * sides (a then branch and an else branch together, nested ifs too).
 */
export function covers(members: readonly NodeFlow[], base: readonly string[] = []): boolean {
  const taken = new Set(base);
  const live = members.filter((m): m is NodeFlow & { sides: string[] } => m.sides !== "never" && !m.skippable && !m.sides.some((s) => taken.has(otherSide(s))));
  if (live.some((m) => m.sides.every((s) => taken.has(s)))) return true;
  const split = live.flatMap((m) => m.sides).find((s) => !taken.has(s));
  if (split === undefined) return false;
  return covers(live, [...base, split]) && covers(live, [...base, otherSide(split)]);
}

/** Resolves every input of every node and reports what cannot be resolved. */
export function planGraph(
  graph: GraphSpec,
  tasks: TaskTable,
  scope?: Scope,
): { plan: GraphPlan; diagnostics: PlanDiagnostic[]; offers: Offers[]; incomplete: boolean[] } {
  const diagnostics: PlanDiagnostic[] = [];
  const { order, cycle } = topologicalOrder(graph);
  if (cycle) {
    const loop = findCycle(graph, cycle);
    const names = [...loop, loop[0]].map((id) => nodeLabel(graph.nodes[id], tasks)).join(" → ");
    const edge = graph.edges.find((e) => e.from === loop[loop.length - 1] && e.to === loop[0]) ?? graph.edges.find((e) => loop.includes(e.from) && loop.includes(e.to))!;
    diagnostics.push({ code: "OF105", message: `Cycle in the task graph: ${names} (a task cannot depend on its own output)`, site: edge.site });
  }
  const nodes: NodePlan[] = [];
  const offers: Offers[] = [];
  const flow: NodeFlow[] = [];
  /** Nodes whose offers may lack names: a task not in the manifest, or what passes on its values. */
  const incomplete: boolean[] = [];
  const links = adjacency(graph);
  for (const id of order) {
    const node = graph.nodes[id];
    const parentIds = links.parents[id];
    const parents = parentIds.map((p) => graph.nodes[p]);
    const offered = new Map<string, Offered[]>();
    for (const p of parents) for (const [name, o] of offers[p.id] ?? []) offered.set(name, [...(offered.get(name) ?? []), { node: p, ...o }]);
    const isEntry = parents.length === 0 && scope !== undefined;
    // What reaches this node may lack names when something upstream is not known (already reported).
    const partial = parentIds.some((p) => incomplete[p]) || (isEntry && scope!.incomplete === true);
    incomplete[id] = isUnknownTask(node, tasks) || (PASS_KINDS.has(node.kind) && partial);
    flow[id] = flowOf(node, parentIds, flow, graph, tasks, diagnostics);
    // What an entry of a body, or a map/loop, sees: the enclosing pass-through plus what its parents offer
    // (a name a merge() gets from only some branches stays marked so).
    const visible = (): Offers => {
      const out: Offers = new Map(isEntry ? scope!.outer : []);
      for (const [name, list] of offered) {
        const [first] = list;
        out.set(name, { type: first.type, ...(first.missingFrom ? { missingFrom: first.missingFrom } : {}), from: list.map((p) => originOf(p, tasks)).join(" and ") });
      }
      return out;
    };
    /** OF104 for the names a map, loop, if node or interactive() receives from two parents (all of them when `reads` is "all"). */
    const ambiguousPassThrough = (reads: Set<string> | "all") => {
      for (const [name, list] of offered) {
        if (list.length < 2 || (reads !== "all" && !reads.has(name))) continue;
        const providers = list.map((p) => `${nodeLabel(p.node, tasks)} (${p.type})`).join(" and ");
        diagnostics.push({ code: "OF104", message: `Input "${name}" of ${builtinLabel(node)} is ambiguous: provided by ${providers}; rename one output`, site: node.site });
      }
    };

    if (PASS_KINDS.has(node.kind)) {
      // then/else get only their if node's values, and a merge()'s parents are its branches (one runs).
      if (node.kind === "if" || node.kind === "interactive") ambiguousPassThrough("all");
      if (node.kind === "merge") mergeAlwaysFails(node, parents, flow, tasks, diagnostics);
      offers[id] = node.kind === "merge" ? mergeOffers(parents, offers, tasks) : visible();
      nodes[id] = { node: id, parents: parentIds, inputs: [] };
      continue;
    }
    if (node.kind === "loop") {
      const body = planGraph(node.loop!.body, tasks, { outer: visible(), owner: node, incomplete: partial });
      diagnostics.push(...body.diagnostics);
      ambiguousPassThrough(readsFromOuter(node.loop!.body, body.plan));
      ambiguousTerminals(node, body, tasks, diagnostics);
      offers[id] = terminalOffers(body.plan, body.offers);
      incomplete[id] ||= body.plan.terminals.some((t) => body.incomplete[t]);
      nodes[id] = { node: id, parents: parentIds, inputs: [], body: body.plan };
      continue;
    }
    if (node.kind === "map") {
      const outer = visible();
      const body = planGraph(node.map!.body, tasks, { outer, owner: node, incomplete: partial });
      diagnostics.push(...body.diagnostics);
      diagnostics.push(...recordedCountDiagnostics(node, nodeLabel(node, tasks)));
      const iterate = iterateTarget(node, body.plan, tasks, diagnostics);
      const reads = readsFromOuter(node.map!.body, body.plan);
      ambiguousPassThrough(reads === "all" || iterate === undefined ? reads : new Set([...reads, iterate]));
      ambiguousTerminals(node, body, tasks, diagnostics);
      const lacking = iterate === undefined ? undefined : outer.get(iterate)?.missingFrom;
      if (lacking?.length) {
        diagnostics.push({
          code: "OF101",
          message: `IterateOn target "${iterate}" of map(${node.map!.options.outputName}) comes from a merge() that gets it only from some branches; ${lacking.join(", ")} ${lacking.length === 1 ? "does" : "do"} not provide it`,
          site: node.site,
        });
      }
      if (iterate !== undefined && !outer.has(iterate) && !partial) {
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
      // The id stays in the message when it is one (the compiler drops this OF111 for a task it refused, OF121, by its id).
      const name = exportName(node.task);
      const shownId = node.task?.startsWith("?#") ? "" : ` (${node.task})`;
      diagnostics.push({ code: "OF111", message: `Task ${name}${shownId} is not known to the manifest (is it exported from a plugin module?)`, site: node.site });
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
        const also = alsoProvided(input, offered.get(input.name) ?? [], isEntry ? scope : undefined, tasks);
        if (also) {
          diagnostics.push({ code: "OF104", message: `Input "${input.name}" of task ${spec.name} is ambiguous: bound at the call and also ${also}`, site: node.site });
        }
        inputs.push({ name: input.name, from: { kind: "bound" } });
        continue;
      }
      const providers = offered.get(input.name) ?? [];
      if (providers.length > 1) {
        const list = providers.map((p) => `${nodeLabel(p.node, tasks)} (${p.type})`).join(" and ");
        diagnostics.push({ code: "OF104", message: `Input "${input.name}" of task ${spec.name} is ambiguous: provided by ${list}; rename one output`, site: node.site });
      }
      if (providers.length > 0) {
        const missing = providers[0].missingFrom;
        if (missing?.length && !input.optional) {
          diagnostics.push({ code: "OF101", message: `Task ${spec.name} needs input "${input.name}" but merge() gets it only from some branches; ${missing.join(", ")} ${missing.length === 1 ? "does" : "do"} not provide it`, site: node.site });
        }
        inputs.push({ name: input.name, from: { kind: "output", node: providers[0].node.id, output: input.name } });
        continue;
      }
      const element = isEntry ? elementOf(input, scope!) : undefined;
      if (element) {
        // The map's element and a value of the same name it passes through would both give this input.
        const passed = passedThrough(input, scope!);
        if (passed) {
          diagnostics.push({ code: "OF104", message: `Input "${input.name}" of task ${spec.name} is ambiguous: ${element} and also ${passed}; rename the output or the input`, site: node.site });
        }
        inputs.push({ name: input.name, from: { kind: "element", target: input.iterateOn!.target } });
        continue;
      }
      if (isEntry && scope!.outer.has(input.name)) {
        const missing = scope!.outer.get(input.name)!.missingFrom;
        if (missing?.length && !input.optional) {
          diagnostics.push({
            code: "OF101",
            message: `Task ${spec.name} needs input "${input.name}", which ${nodeLabel(scope!.owner!, tasks)} passes through from a merge() that gets it only from some branches; ${missing.join(", ")} ${missing.length === 1 ? "does" : "do"} not provide it`,
            site: node.site,
          });
        }
        inputs.push({ name: input.name, from: { kind: "outer", output: input.name } });
        continue;
      }
      if (input.optional) {
        inputs.push({ name: input.name, from: { kind: "default" } });
        continue;
      }
      inputs.push({ name: input.name, from: { kind: "default" } });
      // A task upstream that is not known (OF111, OF121, already reported) may have been the provider.
      if (partial) continue;
      const available = new Set<string>([...offered.keys(), ...(isEntry ? scope!.outer.keys() : [])]);
      const upstream = parents.map((p) => nodeLabel(p, tasks));
      const where = isEntry ? `the ${nodeLabel(scope!.owner!, tasks)} upstream` : upstream.length ? `upstream ${upstream.join(", ")}` : "";
      const owner = scope?.owner && nodeLabel(scope.owner, tasks);
      const hint =
        input.iterateOn && !isEntry
          ? ` (IterateOn only takes effect in the first task of a map() body)`
          : input.iterateOn && scope?.owner?.kind === "loop"
            ? ` (IterateOn only takes effect in the first task of a map() body, not of a loop() body: in a map, put the task that takes the element before the loop())`
            : !isEntry && scope?.outer.has(input.name)
            ? `; "${input.name}" flows into ${owner}, but only the first tasks of its body receive what flows into it: pipe it on from a first task`
            : "";
      diagnostics.push({
        code: "OF101",
        message:
          `Task ${spec.name} needs input "${input.name}" (${input.type}) but nothing provides it; ` +
          (where ? `${where} provides: ${available.size ? [...available].join(", ") : "no outputs"}` : `${spec.name} has no upstream task and nothing is bound`) +
          hint,
        site: node.site,
      });
    }
    nodes[id] = { node: id, parents: parentIds, inputs };
  }
  const terminals = graph.nodes.filter((n) => links.children[n.id].length === 0).map((n) => n.id);
  const resultNames = [...new Set(terminals.flatMap((t) => [...(offers[t]?.keys() ?? [])]))];
  return { plan: { order, nodes, terminals, resultNames, flow }, diagnostics, offers, incomplete };
}

/**
 * When a node gives its outputs (NodeFlow), from its parents'. A then or else node adds its own side to its
 * if node's; a merge() runs on the sides all its live branches share, and is skippable unless its branches
 * cover every way to reach it (then and else joined again always give one). Any other node runs on its
 * parents' sides together and is skipped when one of them may be; a node below both sides of one if node
 * never runs: OF115 there, and what follows it is `never` without another report.
 */
function flowOf(node: NodeSpec, parentIds: number[], flow: NodeFlow[], graph: GraphSpec, tasks: TaskTable, diagnostics: Diagnostic[]): NodeFlow {
  const NEVER: NodeFlow = { sides: "never", skippable: true };
  const of = parentIds.map((p) => flow[p]);
  if (node.kind === "then" || node.kind === "else") {
    const ifFlow = of[0];
    if (ifFlow?.sides === "never") return NEVER;
    return { sides: [...(ifFlow?.sides ?? []), `${parentIds[0]}:${node.kind}`], skippable: ifFlow?.skippable ?? false };
  }
  if (node.kind === "merge") {
    const live = of.filter((f) => f.sides !== "never");
    if (live.length === 0) return of.length ? NEVER : { sides: [], skippable: false };
    const [first, ...rest] = live.map((f) => f.sides as string[]);
    const sides = first.filter((side) => rest.every((s) => s.includes(side)));
    return { sides, skippable: !covers(live, sides) };
  }
  if (of.some((f) => f.sides === "never")) return NEVER;
  const sides = [...new Set(of.flatMap((f) => f.sides as string[]))];
  for (const side of sides) {
    if (!side.endsWith(":then") || !sides.includes(otherSide(side))) continue;
    const on = (s: string) => parentIds.filter((p) => (flow[p].sides as string[]).includes(s)).map((p) => nodeLabel(graph.nodes[p], tasks));
    diagnostics.push({
      code: "OF115",
      message: `${nodeTitle(node, tasks)} is downstream of both the then branch (${on(side).join(", ")}) and the else branch (${on(otherSide(side)).join(", ")}) of one ifThenElse(), so it never runs: join the branches with merge() and pipe the merge() into it`,
      site: node.site,
    });
    return NEVER;
  }
  const own = node.kind === "loop" || (node.kind === "task" && tasks[node.task!]?.skippable !== false);
  return { sides, skippable: own || of.some((f) => f.skippable) };
}

/** A merge() with two branches that always give (on no then/else side, never skipped): both run, and the merge() always fails (OF115). */
function mergeAlwaysFails(node: NodeSpec, parents: NodeSpec[], flow: NodeFlow[], tasks: TaskTable, diagnostics: Diagnostic[]): void {
  const live = parents.filter((p) => covers([flow[p.id]]));
  if (live.length < 2) return;
  diagnostics.push({
    code: "OF115",
    message: `merge() joins branches that always both run: ${live.map((p) => nodeLabel(p, tasks)).join(" and ")} (none is on an ifThenElse() branch or after a task that may return Skipped), so it would always fail: exactly one branch may run`,
    site: node.site,
  });
}

/**
 * The names a body's entry nodes read from what flows into its map or loop: the entry tasks' pass-through
 * inputs, a nested entry map's target and its body's, and everything when an entry is an if node or
 * interactive() (a condition, or the user, may read any name).
 */
function readsFromOuter(graph: GraphSpec, plan: GraphPlan): Set<string> | "all" {
  const names = new Set<string>();
  for (const n of graph.nodes) {
    const np = plan.nodes[n.id];
    if (!np || np.parents.length) continue;
    if (n.kind === "if" || n.kind === "interactive") return "all";
    for (const input of np.inputs) if (input.from.kind === "outer") names.add(input.from.output);
    if (np.iterate !== undefined) names.add(np.iterate);
    const inner = n.map ? n.map.body : n.loop?.body;
    if (inner && np.body) {
      const read = readsFromOuter(inner, np.body);
      if (read === "all") return "all";
      for (const name of read) names.add(name);
    }
  }
  return names;
}

/**
 * Two terminals of a map or loop body that may both run and return the same name: one would be dropped (OF104).
 * Marked `terminals`: in a body that setup() did not finish recording (it threw there), a task may only look
 * terminal because the pipe on from it never ran.
 */
function ambiguousTerminals(node: NodeSpec, body: ReturnType<typeof planGraph>, tasks: TaskTable, diagnostics: PlanDiagnostic[]): void {
  const graph = node.map ? node.map.body : node.loop!.body;
  const by = new Map<string, number[]>();
  for (const t of body.plan.terminals) for (const name of body.offers[t]?.keys() ?? []) by.set(name, [...(by.get(name) ?? []), t]);
  for (const [name, ids] of by) {
    const pair = ids.flatMap((a, i) => ids.slice(i + 1).map((b) => [a, b])).find(([a, b]) => !exclusive(body.plan.flow[a], body.plan.flow[b]));
    if (!pair) continue;
    const list = pair.map((t) => `${nodeLabel(graph.nodes[t], tasks)} (${body.offers[t].get(name)!.type})`).join(" and ");
    diagnostics.push({
      code: "OF104",
      message: `Output "${name}" of ${builtinLabel(node)} is ambiguous: the body's terminal tasks ${list} both return it; rename one output, or pipe one task into the other`,
      site: node.site,
      terminals: { bodyCutShort: graph.cutShort === true },
    });
  }
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
      const from = [...new Set(parents.flatMap((q) => {
        const offer = offers[q.id]?.get(name);
        return offer ? [originOf({ node: q, ...offer }, tasks)] : [];
      }))];
      out.set(name, { type: types.join(" | "), ...(missingFrom.length ? { missingFrom } : {}), from: from.join(" or ") });
    }
  }
  return out;
}

/**
 * What a body's terminal nodes offer together (a loop's outputs). A name that may be missing there (a merge()
 * gets it from only some branches, or only some terminals give it) is the compiler's type check's: it is
 * `T | undefined` after the loop (OF102, OF107), not an OF101 here as well.
 */
function terminalOffers(plan: GraphPlan, offers: Offers[]): Offers {
  const out: Offers = new Map();
  for (const id of plan.terminals) for (const [k, v] of offers[id] ?? []) out.set(k, { type: v.type });
  return out;
}

/** An `IterateOn` input of a body task that is not first, left unprovided: its OF101 says where IterateOn works. */
function misplacedIterateOn(node: NodeSpec, plan: GraphPlan, tasks: TaskTable): boolean {
  return node.map!.body.nodes.some((n) => {
    const np = plan.nodes[n.id];
    const spec = n.kind === "task" ? tasks[n.task!] : undefined;
    if (!spec || !np?.parents.length) return false;
    return spec.inputs.some((i) => i.iterateOn && !i.optional && np.inputs.find((p) => p.name === i.name)?.from.kind === "default");
  });
}

/**
 * The `IterateOn` inputs of a body's first tasks that name the map's target. A bound one is OF104 at its task:
 * it names the target only when no unbound one does (not "nothing to iterate"), and its target is no
 * "conflicting target" of the others (`bound`: every input found is bound).
 */
function entryIterateInputs(node: NodeSpec, tasks: TaskTable): { found: { node: NodeSpec; input: TaskSpec["inputs"][number] }[]; bound: boolean } {
  const body = node.map!.body;
  const entries = body.nodes.filter((n) => n.kind === "task" && !body.edges.some((e) => e.to === n.id));
  const all = entries.flatMap((n) => (tasks[n.task!]?.inputs ?? []).filter((i) => i.iterateOn).map((i) => ({ node: n, input: i })));
  const unbound = all.filter((f) => !f.node.bound?.includes(f.input.name));
  return unbound.length || !all.length ? { found: unbound, bound: false } : { found: all, bound: true };
}

function iterateSite(node: NodeSpec, tasks: TaskTable): Site | undefined {
  return entryIterateInputs(node, tasks).found[0]?.node.site;
}

/** The upstream array a map iterates: the `IterateOn` target of its body's first task(s). */
function iterateTarget(node: NodeSpec, plan: GraphPlan, tasks: TaskTable, diagnostics: Diagnostic[]): string | undefined {
  const { found, bound } = entryIterateInputs(node, tasks);
  const body = node.map!.body;
  // A first task that is not known (OF111, OF121, already reported) may be the one that iterates.
  const unknownEntry = body.nodes.some((n) => isUnknownTask(n, tasks) && !body.edges.some((e) => e.to === n.id));
  if (found.length === 0 && (unknownEntry || misplacedIterateOn(node, plan, tasks))) return undefined;
  if (found.length === 0) {
    diagnostics.push({
      code: "OF109",
      message: `map(${node.map!.options.outputName}) has nothing to iterate: the first task of its body needs a parameter typed IterateOn<"target", T>`,
      site: node.site,
    });
    return undefined;
  }
  const targets = [...new Set(found.map((f) => f.input.iterateOn!.target))];
  if (targets.length > 1 && !bound) {
    diagnostics.push({ code: "OF109", message: `map(${node.map!.options.outputName}) iterates conflicting targets: ${targets.join(", ")} (a map iterates one upstream array)`, site: node.site });
  }
  return targets[0];
}
