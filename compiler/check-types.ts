import { Node, SyntaxKind, type Project, type Type } from "ts-morph";
import type { GraphSpec, NodeSpec } from "../contract/manifest.js";
import type { Diagnostic } from "../contract/diagnostic.js";
import type { GraphPlan } from "../runtime/graph/plan.js";
import type { ExtractedTask } from "./signatures.js";

/**
 * The type checks on top of the name-level plan: every edge, pass-through, map element and bound
 * constant must fit the receiving parameter's declared type.
 */

const PASS_KINDS = new Set(["if", "then", "else", "merge", "interactive"]);

/** A value's static type: a TS type, an array of something (a map's result), or unknown (no check). */
type ValueType = { ts: Type } | { arrayOf: ValueType } | null;

export interface TypeCheckInput {
  project: Project;
  root: string;
  tasks: Map<string, ExtractedTask>;
}

function text(t: ValueType): string {
  if (t === null) return "unknown";
  if ("ts" in t) return t.ts.getText(undefined, 1 /* NoTruncation */);
  return `${text(t.arrayOf)}[]`;
}

function arrayElement(t: Type): Type | undefined {
  const nn = t.getNonNullableType();
  if (nn.isArray()) return nn.getArrayElementType();
  if (nn.isTuple()) return nn.getNumberIndexType?.() ?? undefined;
  const idx = nn.getNumberIndexType();
  return idx && !nn.isString() ? idx : undefined;
}

function elementOf(t: ValueType): ValueType | undefined {
  if (t === null) return null;
  if ("arrayOf" in t) return t.arrayOf;
  const e = arrayElement(t.ts);
  return e ? { ts: e } : undefined;
}

function assignable(input: TypeCheckInput, src: ValueType, dst: Type): boolean {
  if (src === null) return true;
  if ("ts" in src) return input.project.getTypeChecker().compilerObject.isTypeAssignableTo(src.ts.compilerType, dst.compilerType);
  const dstElem = arrayElement(dst);
  return dstElem !== undefined && assignable(input, src.arrayOf, dstElem);
}

function outputTypes(node: NodeSpec, input: TypeCheckInput, bodyResult: (n: NodeSpec) => ValueType): Map<string, ValueType> {
  const out = new Map<string, ValueType>();
  if (node.kind === "map") out.set(node.map!.options.outputName, node.map!.customReduce ? null : { arrayOf: bodyResult(node) });
  else for (const [name, t] of input.tasks.get(node.task!)?.outputTypes ?? []) out.set(name, { ts: t });
  return out;
}

/** A map element's result type: the single terminal output's type, else unknown (an object of several). */
function elementResultType(node: NodeSpec, input: TypeCheckInput): ValueType {
  const body = node.map!.body;
  const terminals = body.nodes.filter((n) => !body.edges.some((e) => e.from === n.id));
  const outs = terminals.flatMap((n) => [...outputTypes(n, input, (m) => elementResultType(m, input)).values()]);
  return outs.length === 1 ? outs[0] : null;
}

export function checkGraphTypes(input: TypeCheckInput, graph: GraphSpec, plan: GraphPlan, outer: Map<string, ValueType> = new Map()): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  const produced = new Map<number, Map<string, ValueType>>();
  const result = (n: NodeSpec) => elementResultType(n, input);
  for (const id of plan.order) {
    const node = graph.nodes[id];
    const nodePlan = plan.nodes[id];
    if (PASS_KINDS.has(node.kind)) {
      // if/then/else/merge/interactive pass on what their parents (or the enclosing body) offer.
      const passed = new Map<string, ValueType>(nodePlan.parents.length ? [] : outer);
      for (const p of nodePlan.parents) for (const [k, v] of produced.get(p) ?? []) if (!passed.has(k)) passed.set(k, v);
      produced.set(id, passed);
      continue;
    }
    if (node.kind === "loop") {
      const scope = new Map(nodePlan.parents.length ? [] : outer);
      for (const p of nodePlan.parents) for (const [k, v] of produced.get(p) ?? []) scope.set(k, v);
      diagnostics.push(...checkGraphTypes(input, node.loop!.body, nodePlan.body!, scope));
      produced.set(id, new Map());
      continue;
    }
    produced.set(id, outputTypes(node, input, result));
    if (node.kind === "map") {
      const parents = nodePlan.parents;
      const scope = new Map(parents.length ? [] : outer);
      for (const p of parents) for (const [k, v] of produced.get(p) ?? []) scope.set(k, v);
      if (nodePlan.iterate !== undefined && scope.has(nodePlan.iterate)) {
        const target = scope.get(nodePlan.iterate)!;
        if (elementOf(target) === undefined) {
          diagnostics.push({ code: "OF107", message: `IterateOn target "${nodePlan.iterate}" of map(${node.map!.options.outputName}) is ${text(target)}, not an array`, site: node.site });
        }
      }
      diagnostics.push(...checkGraphTypes(input, node.map!.body, nodePlan.body!, scope));
      continue;
    }
    const task = input.tasks.get(node.task!);
    if (!task) continue;
    for (const { name, from } of nodePlan.inputs) {
      const dst = task.inputTypes.get(name);
      if (!dst) continue;
      if (from.kind === "output") {
        const src = produced.get(from.node)?.get(from.output) ?? null;
        if (!assignable(input, src, dst)) {
          const upstream = graph.nodes[from.node];
          const who = upstream.kind === "map" ? `map(${upstream.map!.options.outputName})` : input.tasks.get(upstream.task!)?.spec.name;
          diagnostics.push({ code: "OF102", message: `Type mismatch on input "${name}" of task ${task.spec.name}: ${who} provides ${text(src)}, ${task.spec.name} expects ${dst.getText(undefined, 1)}`, site: node.site });
        }
      } else if (from.kind === "outer") {
        const src = outer.get(from.output) ?? null;
        if (!assignable(input, src, dst)) {
          diagnostics.push({ code: "OF102", message: `Type mismatch on input "${name}" of task ${task.spec.name}: the map passes through ${text(src)}, ${task.spec.name} expects ${dst.getText(undefined, 1)}`, site: node.site });
        }
      } else if (from.kind === "element") {
        const target = outer.get(from.target);
        const elem = target === undefined ? null : elementOf(target);
        const want = task.iterateElementTypes.get(name);
        if (elem !== undefined && want && !assignable(input, elem, want)) {
          diagnostics.push({ code: "OF108", message: `IterateOn element type mismatch on input "${name}" of task ${task.spec.name}: "${from.target}" has elements of type ${text(elem)}, ${task.spec.name} expects ${want.getText(undefined, 1)}`, site: node.site });
        }
      } else if (from.kind === "bound") {
        diagnostics.push(...checkBound(input, node, task, name, dst));
      }
    }
  }
  return diagnostics;
}

/**
 * `Sleep({ seconds: "60" })`: the bound value's type at the call must fit the parameter. A literal's own
 * property is checked at that property; anything else (`Sleep(opts)`, `Sleep({ ...base })`) by the type
 * of the argument's property, at the argument.
 */
function checkBound(input: TypeCheckInput, node: NodeSpec, task: ExtractedTask, name: string, dst: Type): Diagnostic[] {
  const sf = input.project.getSourceFile(`${input.root}/${node.site.file}`);
  if (!sf) return [];
  const pos = sf.compilerNode.getPositionOfLineAndCharacter(node.site.line - 1, node.site.column - 1);
  const call = sf.getDescendantAtPos(pos)?.getFirstAncestorByKind(SyntaxKind.CallExpression);
  const arg = call?.getArguments()[0];
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
  if (!t || assignable(input, { ts: t }, dst)) return [];
  const { line, column } = sf.getLineAndColumnAtPos(at.getStart());
  return [{ code: "OF103", message: `Bound input "${name}" of task ${task.spec.name} is ${t.getText(undefined, 1)}, expected ${dst.getText(undefined, 1)}`, site: { file: node.site.file, line, column } }];
}
