import { Node, ts, type Project, type Type } from "ts-morph";
import type { GraphSpec, NodeSpec } from "../contract/manifest.js";
import type { Diagnostic } from "../contract/diagnostic.js";
import { covers, type GraphPlan, type NodePlan } from "../runtime/graph/plan.js";
import { siteOf, type ExtractedTask } from "./signatures.js";
import { callAt } from "./call-at.js";
import { reduceSignature } from "./map-options.js";
import { valueTypes, type ValueTypes } from "./value-types.js";
import { builtinLabel } from "../runtime/graph/labels.js";

/**
 * The type checks on top of the name-level plan: every edge, pass-through, map element and bound
 * constant must fit the receiving parameter's declared type, by the TypeScript checker's assignability.
 */

const PASS_KINDS = new Set(["if", "then", "else", "merge", "interactive"]);

/** What a node offers downstream: output name → static type (`any` when not known: not checked). */
type Offers = Map<string, ts.Type>;

/** What the checker knows of one node's outputs (when they are there at all is the plan's `flow`). */
interface Produced {
  /** undefined: not known (a task already reported as unknown). */
  offers: Offers | undefined;
  /** Names that may be missing from the outputs even when the node ran: an optional output, a name only some branches of a merge() give. */
  partial: ReadonlySet<string>;
}

const NONE: ReadonlySet<string> = new Set();

export interface TypeCheckInput {
  project: Project;
  root: string;
  tasks: Map<string, ExtractedTask>;
}

interface Context extends TypeCheckInput {
  types: ValueTypes;
}

export function checkGraphTypes(input: TypeCheckInput, graph: GraphSpec, plan: GraphPlan): Diagnostic[] {
  const ctx: Context = { ...input, types: valueTypes(input.project.getTypeChecker().compilerObject) };
  return checkBody(ctx, graph, plan, { offers: new Map(), partial: NONE }).diagnostics;
}

/** What a body's entry tasks get passed through, and from which map() or loop(). */
interface Outer {
  offers: Offers;
  partial: ReadonlySet<string>;
  owner?: NodeSpec;
}

/** A workflow's diagnostics and what each of its nodes produces. */
function checkBody(ctx: Context, graph: GraphSpec, plan: GraphPlan, outer: Outer): { diagnostics: Diagnostic[]; produced: Map<number, Produced> } {
  const diagnostics: Diagnostic[] = [];
  const produced = new Map<number, Produced>();
  const { types } = ctx;
  for (const id of plan.order) {
    const node = graph.nodes[id];
    const nodePlan = plan.nodes[id];
    const parents = nodePlan.parents.map((p) => produced.get(p)!);
    if (PASS_KINDS.has(node.kind)) {
      // if/then/else/interactive pass on what their parents (or the enclosing body) offer; merge() what any
      // of its branches may: the union of their types.
      const passed = new Map<string, ts.Type>(parents.length ? [] : outer.offers);
      const partial = new Set<string>(parents.length ? [] : outer.partial);
      for (const p of parents) {
        for (const [k, v] of p.offers ?? []) if (!passed.has(k)) passed.set(k, v);
        for (const k of p.partial) partial.add(k);
      }
      if (node.kind === "merge") {
        for (const k of passed.keys()) {
          passed.set(k, types.unionOf(branchTypes(nodePlan, produced, k).map((b) => b.type)));
          // A name some branch does not give is missing when that branch is the one that ran.
          if (parents.some((p) => p.offers && !p.offers.has(k))) partial.add(k);
        }
      }
      produced.set(id, { offers: passed, partial });
      continue;
    }
    if (node.kind === "loop") {
      const scope = scopeOf(nodePlan, produced, outer);
      const body = checkBody(ctx, node.loop!.body, nodePlan.body!, { ...scope, owner: node });
      diagnostics.push(...body.diagnostics);
      // The loop outputs its last iteration's terminal outputs: a name that may be missing there is undefined downstream.
      const result = terminalResult(types, nodePlan.body!, body.produced);
      const offers = result && new Map([...result.names].map(([k, r]) => [k, r.required ? r.type : types.unionOf([r.type, types.undefined])]));
      const partial = new Set(result ? [...result.names].filter(([, r]) => !r.required).map(([k]) => k) : []);
      produced.set(id, { offers, partial });
      continue;
    }
    if (node.kind === "map") {
      const scope = scopeOf(nodePlan, produced, outer);
      const name = node.map!.options.outputName;
      if (nodePlan.iterate !== undefined && scope.offers.has(nodePlan.iterate)) {
        const target = scope.offers.get(nodePlan.iterate)!;
        if (elementOf(types, target) === undefined) {
          const note = types.checker.getNonNullableType(target) !== target ? " (it may be undefined or null: an optional output, say, is undefined when not returned)" : "";
          diagnostics.push({ code: "OF107", message: `IterateOn target "${nodePlan.iterate}" of map(${name}) is ${types.text(target)}, not an array${note}`, site: node.site });
        }
      }
      const body = checkBody(ctx, node.map!.body, nodePlan.body!, { ...scope, owner: node });
      diagnostics.push(...body.diagnostics);
      const elements = types.arrayOf(elementResultType(types, nodePlan.body!, body.produced));
      const reduce = node.map!.customReduce ? reduceSignature(ctx.project, ctx.root, node.site) : undefined;
      // A reduce takes what the elements are: an element shape it does not fit would reduce to nonsense.
      if (reduce?.takes && !types.assignable(elements, reduce.takes)) {
        diagnostics.push({ code: "OF102", message: `Type mismatch on the reduce of map(${name}): it takes ${types.text(reduce.takes)}, the elements are ${types.text(elements)}`, site: reduce.site });
      }
      const result = node.map!.customReduce ? (reduce?.returns ?? types.unknown) : elements;
      produced.set(id, { offers: new Map([[name, result]]), partial: NONE });
      continue;
    }
    // A task that is not known (already reported: OF111, OF121) offers nothing known either; a generic
    // task (OF120) offers its names, not checked.
    const task = ctx.tasks.get(node.task!);
    const offers = task && new Map([...task.outputTypes].map(([k, t]) => [k, task.generic ? types.unknown : t.compilerType]));
    const partial = new Set(task?.spec.outputs.filter((o) => o.optional).map((o) => o.name) ?? []);
    produced.set(id, { offers, partial });
    if (task && !task.generic) diagnostics.push(...checkInputs(ctx, graph, plan, node, task, produced, outer));
  }
  return { diagnostics, produced };
}

function checkInputs(ctx: Context, graph: GraphSpec, plan: GraphPlan, node: NodeSpec, task: ExtractedTask, produced: Map<number, Produced>, outer: Outer): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  const { types } = ctx;
  const taskName = task.spec.name;
  const mismatch = (name: string, who: string, src: ts.Type, dst: ts.Type, note = ""): Diagnostic => ({
    code: "OF102",
    message: `Type mismatch on input "${name}" of task ${taskName}: ${who} ${types.text(src)}${note}, ${taskName} expects ${types.text(dst)}`,
    site: node.site,
  });
  for (const { name, from } of plan.nodes[node.id].inputs) {
    const declared = task.inputTypes.get(name);
    if (!declared) continue;
    // An IterateOn<K, T> parameter is checked as T; an optional or defaulted one also takes undefined (`x?: T`, `x: T = 0`).
    const spec = task.spec.inputs.find((i) => i.name === name);
    const written = (task.iterateElementTypes.get(name) ?? declared).compilerType;
    const dst = spec?.optional || spec?.hasDefault ? types.unionOf([written, types.undefined]) : written;
    if (from.kind === "output") {
      const src = produced.get(from.node)?.offers?.get(from.output) ?? types.unknown;
      if (!types.assignable(src, dst)) diagnostics.push(mismatch(name, `${providerName(ctx, graph.nodes[from.node])} provides`, src, dst, misfitBranches(ctx, graph, plan, produced, from.node, name, dst)));
    } else if (from.kind === "outer") {
      const src = outer.offers.get(from.output) ?? types.unknown;
      if (!types.assignable(src, dst)) diagnostics.push(mismatch(name, `${builtinLabel(outer.owner!)} passes through`, src, dst));
    } else if (from.kind === "element") {
      const target = outer.offers.get(from.target);
      const elem = target === undefined ? types.unknown : elementOf(types, target);
      if (elem !== undefined && !types.assignable(elem, dst)) {
        diagnostics.push({ code: "OF108", message: `IterateOn element type mismatch on input "${name}" of task ${taskName}: "${from.target}" has elements of type ${types.text(elem)}, ${taskName} expects ${types.text(dst)}`, site: node.site });
      }
    } else if (from.kind === "bound") {
      diagnostics.push(...checkBound(ctx, node, task, name, declared, dst));
    }
  }
  return diagnostics;
}

/** The upstream node an input's value comes from, as messages name it. */
function providerName(ctx: Context, upstream: NodeSpec): string {
  if (upstream.kind === "task") return ctx.tasks.get(upstream.task!)?.spec.name ?? upstream.task!;
  return upstream.kind === "map" && upstream.map!.customReduce ? `the reduce of ${builtinLabel(upstream)}` : builtinLabel(upstream);
}

/** For a value from a merge(): ` (number from NumLabel)`, the branches whose type does not fit. */
function misfitBranches(ctx: Context, graph: GraphSpec, plan: GraphPlan, produced: Map<number, Produced>, id: number, name: string, dst: ts.Type): string {
  if (graph.nodes[id].kind !== "merge") return "";
  const misfits = branchTypes(plan.nodes[id], produced, name).filter((b) => !ctx.types.assignable(b.type, dst));
  return ` (${misfits.map((b) => `${ctx.types.text(b.type)} from ${providerName(ctx, graph.nodes[b.parent])}`).join(", ")})`;
}

/** What each branch into a merge() offers under `name` (the branches that offer it). */
function branchTypes(mergePlan: NodePlan, produced: Map<number, Produced>, name: string): { parent: number; type: ts.Type }[] {
  return mergePlan.parents.flatMap((parent) => {
    const type = produced.get(parent)?.offers?.get(name);
    return type ? [{ parent, type }] : [];
  });
}

/** What a map or loop body sees: its parents' outputs (the last one wins a name), or the enclosing body's. */
function scopeOf(nodePlan: NodePlan, produced: Map<number, Produced>, outer: Outer): { offers: Offers; partial: ReadonlySet<string> } {
  const offers = new Map(nodePlan.parents.length ? [] : outer.offers);
  const partial = new Set(nodePlan.parents.length ? [] : outer.partial);
  for (const p of nodePlan.parents) {
    const from = produced.get(p)!;
    for (const [k, v] of from.offers ?? []) {
      offers.set(k, v);
      if (from.partial.has(k)) partial.add(k);
      else partial.delete(k);
    }
  }
  return { offers, partial };
}

/**
 * What a body's terminal nodes give together (runtime/execute/run-graph.ts `terminalOutputs`: the outputs
 * of those that ran, merged): per name the union of their types, and whether the name is always there. It
 * is when the terminals that give it for sure cover every run of the body (the plan's `covers`: one that
 * always runs, or the then and the else side of an if node, …), or every terminal does (when none runs
 * there is no result at all: the element is left out, what follows the loop skipped). undefined when a
 * terminal's outputs are not known.
 */
function terminalResult(types: ValueTypes, body: GraphPlan, produced: Map<number, Produced>): { names: Map<string, { type: ts.Type; required: boolean }> } | undefined {
  const terminals = body.terminals.map((id) => ({ id, ...produced.get(id)! }));
  if (terminals.some((t) => !t.offers)) return undefined;
  const gives = (t: Produced, name: string) => t.offers!.has(name) && !t.partial.has(name);
  const byName = new Map<string, ts.Type[]>();
  for (const t of terminals) for (const [name, type] of t.offers!) byName.set(name, [...(byName.get(name) ?? []), type]);
  const names = new Map<string, { type: ts.Type; required: boolean }>();
  for (const [name, list] of byName) {
    const giving = terminals.filter((t) => gives(t, name));
    const required = giving.length === terminals.length || covers(giving.map((t) => body.flow[t.id]));
    names.set(name, { type: types.unionOf(list), required });
  }
  return { names };
}

/**
 * One element's result, as runtime/execute/run-graph.ts `elementResult` builds it: the outputs of the
 * body's terminal nodes merged; the value itself when there is one output name, else an object of them
 * all, a name that may be missing (only some branches or terminals give it) an optional property.
 */
function elementResultType(types: ValueTypes, body: GraphPlan, produced: Map<number, Produced>): ts.Type {
  const result = terminalResult(types, body, produced);
  if (!result) return types.unknown;
  const { names } = result;
  if (names.size === 1) {
    const [{ type, required }] = names.values();
    return required ? type : types.unionOf([type, types.undefined]);
  }
  const optional = new Set([...names].filter(([, r]) => !r.required).map(([k]) => k));
  return types.objectOf(new Map([...names].map(([k, r]) => [k, r.type])), optional);
}

/**
 * The element type of what a map iterates, as the runtime takes it (`Array.isArray` or a typed array:
 * arrays, tuples, `Float64Array`, `Buffer`…, and unions of them); undefined when it is not one: a
 * `Record<number, T>`, a string, a `Map`, or a value that may be `undefined` or `null` (`any` stays `any`).
 */
function elementOf(types: ValueTypes, t: ts.Type): ts.Type | undefined {
  if (t.flags & ts.TypeFlags.Any) return t;
  const elements: ts.Type[] = [];
  for (const member of t.isUnion() ? t.types : [t]) {
    const element = arrayElementOf(types, member);
    if (element === undefined) return undefined;
    elements.push(element);
  }
  return types.unionOf(elements);
}

function arrayElementOf(types: ValueTypes, t: ts.Type): ts.Type | undefined {
  const { checker } = types;
  if (t.flags & ts.TypeFlags.Any) return t;
  if (checker.isArrayType(t)) return checker.getTypeArguments(t as ts.TypeReference)[0];
  const index = t.getNumberIndexType();
  if (!index) return undefined;
  const isArray = checker.isTupleType(t) || (types.anyArray !== undefined && types.assignable(t, types.anyArray));
  // A typed array (ArrayBuffer.isView): a numeric index over a buffer.
  const isView = ["buffer", "byteOffset", "byteLength"].every((k) => t.getProperty(k) !== undefined);
  return isArray || isView ? index : undefined;
}

/**
 * `Sleep({ seconds: "60" })`: the bound value's type at the call must fit the parameter. A literal's own
 * property is checked at that property; anything else (`Sleep(opts)`, `Sleep({ ...base })`) by the type
 * of the argument's property, at the argument.
 */
function checkBound(ctx: Context, node: NodeSpec, task: ExtractedTask, name: string, declared: Type, dst: ts.Type): Diagnostic[] {
  const arg = callAt(ctx.project, ctx.root, node.site)?.getArguments()[0];
  if (!arg) return [];
  const prop = Node.isObjectLiteralExpression(arg) ? arg.getProperty(name) : undefined;
  let t: Type | undefined;
  let at: Node = arg;
  if (prop && (Node.isPropertyAssignment(prop) || Node.isShorthandPropertyAssignment(prop))) {
    t = Node.isPropertyAssignment(prop) ? prop.getInitializerOrThrow().getType() : prop.getType();
    at = prop;
  } else {
    t = arg.getType().getProperty(name)?.getTypeAtLocation(arg);
  }
  if (!t || ctx.types.assignable(t.compilerType, dst)) return [];
  return [{ code: "OF103", message: `Bound input "${name}" of task ${task.spec.name} is ${ctx.types.text(t.compilerType)}, expected ${ctx.types.text(declared.compilerType)}`, site: siteOf(at, ctx.root) }];
}
