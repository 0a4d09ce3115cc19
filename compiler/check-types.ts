import { Node, ts, type Project, type Type } from "ts-morph";
import type { GraphSpec, NodeSpec } from "../contract/manifest.js";
import type { Diagnostic } from "../contract/diagnostic.js";
import type { GraphPlan, NodePlan } from "../runtime/graph/plan.js";
import { siteOf, type ExtractedTask } from "./signatures.js";
import { callAt } from "./call-at.js";
import { reduceReturnType } from "./map-options.js";
import { valueTypes, type ValueTypes } from "./value-types.js";
import { builtinLabel } from "../runtime/graph/labels.js";

/**
 * The type checks on top of the name-level plan: every edge, pass-through, map element and bound
 * constant must fit the receiving parameter's declared type, by the TypeScript checker's assignability.
 */

const PASS_KINDS = new Set(["if", "then", "else", "merge", "interactive"]);

/** What a node offers downstream: output name → static type (`any` when not known: not checked). */
type Offers = Map<string, ts.Type>;

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
  return checkBody(ctx, graph, plan, { offers: new Map() }).diagnostics;
}

/** What a body's entry tasks get passed through, and from which map() or loop(). */
interface Outer {
  offers: Offers;
  owner?: NodeSpec;
}

/** A workflow's diagnostics and what each of its nodes offers (undefined: not known, as for a loop). */
function checkBody(ctx: Context, graph: GraphSpec, plan: GraphPlan, outer: Outer): { diagnostics: Diagnostic[]; produced: Map<number, Offers | undefined> } {
  const diagnostics: Diagnostic[] = [];
  const produced = new Map<number, Offers | undefined>();
  const { types } = ctx;
  for (const id of plan.order) {
    const node = graph.nodes[id];
    const nodePlan = plan.nodes[id];
    if (PASS_KINDS.has(node.kind)) {
      // if/then/else/interactive pass on what their parents (or the enclosing body) offer; merge() what any
      // of its branches may: the union of their types.
      const passed = new Map<string, ts.Type>(nodePlan.parents.length ? [] : outer.offers);
      for (const p of nodePlan.parents) for (const [k, v] of produced.get(p) ?? []) if (!passed.has(k)) passed.set(k, v);
      if (node.kind === "merge") for (const k of passed.keys()) passed.set(k, types.unionOf(branchTypes(nodePlan, produced, k).map((b) => b.type)));
      produced.set(id, passed);
      continue;
    }
    if (node.kind === "loop") {
      diagnostics.push(...checkBody(ctx, node.loop!.body, nodePlan.body!, { offers: scopeOf(nodePlan, produced, outer.offers), owner: node }).diagnostics);
      produced.set(id, undefined);
      continue;
    }
    if (node.kind === "map") {
      const scope = scopeOf(nodePlan, produced, outer.offers);
      const name = node.map!.options.outputName;
      if (nodePlan.iterate !== undefined && scope.has(nodePlan.iterate)) {
        const target = scope.get(nodePlan.iterate)!;
        if (elementOf(types, target) === undefined) {
          diagnostics.push({ code: "OF107", message: `IterateOn target "${nodePlan.iterate}" of map(${name}) is ${types.text(target)}, not an array`, site: node.site });
        }
      }
      const body = checkBody(ctx, node.map!.body, nodePlan.body!, { offers: scope, owner: node });
      diagnostics.push(...body.diagnostics);
      produced.set(id, new Map([[name, mapResultType(ctx, node, nodePlan.body!, body.produced)]]));
      continue;
    }
    // A task that is not known (already reported: OF111, OF121) offers nothing known either.
    const task = ctx.tasks.get(node.task!);
    produced.set(id, task && new Map([...task.outputTypes].map(([k, t]) => [k, t.compilerType])));
    if (task) diagnostics.push(...checkInputs(ctx, graph, plan, node, task, produced, outer));
  }
  return { diagnostics, produced };
}

function checkInputs(ctx: Context, graph: GraphSpec, plan: GraphPlan, node: NodeSpec, task: ExtractedTask, produced: Map<number, Offers | undefined>, outer: Outer): Diagnostic[] {
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
    // An IterateOn<K, T> parameter is checked as T.
    const dst = (task.iterateElementTypes.get(name) ?? declared).compilerType;
    if (from.kind === "output") {
      const src = produced.get(from.node)?.get(from.output) ?? types.unknown;
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
      diagnostics.push(...checkBound(ctx, node, task, name, declared));
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
function misfitBranches(ctx: Context, graph: GraphSpec, plan: GraphPlan, produced: Map<number, Offers | undefined>, id: number, name: string, dst: ts.Type): string {
  if (graph.nodes[id].kind !== "merge") return "";
  const misfits = branchTypes(plan.nodes[id], produced, name).filter((b) => !ctx.types.assignable(b.type, dst));
  return ` (${misfits.map((b) => `${ctx.types.text(b.type)} from ${providerName(ctx, graph.nodes[b.parent])}`).join(", ")})`;
}

/** What each branch into a merge() offers under `name` (the branches that offer it). */
function branchTypes(mergePlan: NodePlan, produced: Map<number, Offers | undefined>, name: string): { parent: number; type: ts.Type }[] {
  return mergePlan.parents.flatMap((parent) => {
    const type = produced.get(parent)?.get(name);
    return type ? [{ parent, type }] : [];
  });
}

/** What a map or loop body sees: its parents' outputs (the last one wins a name), or the enclosing body's. */
function scopeOf(nodePlan: NodePlan, produced: Map<number, Offers | undefined>, outer: Offers): Offers {
  const scope = new Map(nodePlan.parents.length ? [] : outer);
  for (const p of nodePlan.parents) for (const [k, v] of produced.get(p) ?? []) scope.set(k, v);
  return scope;
}

/** A map's result: its `reduce`'s return type, else the array of element results. */
function mapResultType(ctx: Context, node: NodeSpec, body: GraphPlan, produced: Map<number, Offers | undefined>): ts.Type {
  if (node.map!.customReduce) return reduceReturnType(ctx.project, ctx.root, node.site) ?? ctx.types.unknown;
  return ctx.types.arrayOf(elementResultType(ctx.types, body, produced));
}

/**
 * One element's result, as runtime/execute/run-graph.ts `elementResult` builds it: the outputs of the
 * body's terminal nodes merged; the value itself when that is one name, else an object of them all.
 */
function elementResultType(types: ValueTypes, body: GraphPlan, produced: Map<number, Offers | undefined>): ts.Type {
  // Several terminals: at run time those on a branch not taken (or after a Skipped) give nothing, so the
  // names an element has depend on the run; not checked rather than a false error.
  if (body.terminals.length > 1) return types.unknown;
  const byName = new Map<string, ts.Type[]>();
  for (const id of body.terminals) {
    const offers = produced.get(id);
    if (!offers) return types.unknown;
    for (const [name, t] of offers) byName.set(name, [...(byName.get(name) ?? []), t]);
  }
  const merged = new Map([...byName].map(([name, list]) => [name, types.unionOf(list)]));
  return merged.size === 1 ? [...merged.values()][0] : types.objectOf(merged);
}

/** The element type of an array-like value; undefined when it is not one (`any` stays `any`). */
function elementOf(types: ValueTypes, t: ts.Type): ts.Type | undefined {
  if (t.flags & ts.TypeFlags.Any) return t;
  const nn = types.checker.getNonNullableType(t);
  if (types.checker.isArrayType(nn)) return types.checker.getTypeArguments(nn as ts.TypeReference)[0];
  if (nn.flags & ts.TypeFlags.StringLike) return undefined;
  return nn.getNumberIndexType();
}

/**
 * `Sleep({ seconds: "60" })`: the bound value's type at the call must fit the parameter. A literal's own
 * property is checked at that property; anything else (`Sleep(opts)`, `Sleep({ ...base })`) by the type
 * of the argument's property, at the argument.
 */
function checkBound(ctx: Context, node: NodeSpec, task: ExtractedTask, name: string, dst: Type): Diagnostic[] {
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
  if (!t || ctx.types.assignable(t.compilerType, dst.compilerType)) return [];
  return [{ code: "OF103", message: `Bound input "${name}" of task ${task.spec.name} is ${ctx.types.text(t.compilerType)}, expected ${ctx.types.text(dst.compilerType)}`, site: siteOf(at, ctx.root) }];
}
