import { Node, ts, type Project, type Type } from "ts-morph";
import type { GraphSpec, NodeSpec, Site } from "../contract/manifest.js";
import type { Diagnostic } from "../contract/diagnostic.js";
import { callAt, objectLiteralOf, propertyNamed } from "./call-at.js";
import { siteOf } from "./signatures.js";
import { COUNT_OPTIONS, countMessage, isCount } from "../runtime/graph/map-counts.js";

/**
 * What the source of a `map(options, body)` call says about its options: values that cannot work (OF113:
 * a literal, or the value recorded; at the option where it is written), a map with no `outputName`
 * (OF114), and the return type of its `reduce`.
 */

/** OF113 and OF114 for every map of a graph, at any depth (map and loop bodies included). */
export function checkMapOptions(project: Project, root: string, graph: GraphSpec): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  for (const node of graph.nodes) {
    if (node.kind === "map") diagnostics.push(...checkMap(project, root, node));
    const body = node.map?.body ?? node.loop?.body;
    if (body) diagnostics.push(...checkMapOptions(project, root, body));
  }
  return diagnostics;
}

function checkMap(project: Project, root: string, node: NodeSpec): Diagnostic[] {
  const options = objectLiteralOf(callAt(project, root, node.site)?.getArguments()[0]);
  const diagnostics: Diagnostic[] = [];
  // The recorded options are what the map gets (an `outputName` that depends on args has a placeholder there).
  const name: unknown = node.map!.options.outputName;
  const label = `map(${typeof name === "string" ? name : ""})`;
  if (typeof name !== "string") {
    diagnostics.push({ code: "OF114", message: `${label} has no outputName: the map's result needs a name, as in map({ outputName: "results" }, () => { ... })`, site: node.site });
  }
  const recorded = node.map!.options as unknown as Record<string, unknown>;
  for (const option of COUNT_OPTIONS) {
    const property = options && propertyNamed(options, option);
    const value = property && valueNode(property);
    // A literal that cannot work (`0`, `debug ? 0 : 4`), else the value recorded when setup() ran (`args.n`).
    const bad = [...(value ? numberLiterals(value.getType()) : []), recorded[option]].find((v) => !isCount(v));
    if (bad === undefined) continue;
    diagnostics.push({ code: "OF113", message: countMessage(label, option, bad), site: property ? siteOf(property, root) : node.site });
  }
  return diagnostics;
}

/** The expression a property's value is read from (`x: 0`, shorthand `x`). */
function valueNode(property: Node): Node | undefined {
  if (Node.isPropertyAssignment(property)) return property.getInitializer();
  return Node.isShorthandPropertyAssignment(property) ? property : undefined;
}

/** The number literals a type is (`0`, `-1`, a union `0 | 4`); none for `number`. */
function numberLiterals(type: Type): number[] {
  const members = type.isUnion() ? type.getUnionTypes() : [type];
  return members.flatMap((t) => (t.isNumberLiteral() ? [t.getLiteralValue() as number] : []));
}

/**
 * A map's `reduce` as the checker sees it at the `map(` call: the type it provides (its return type) and
 * the elements it takes (its first parameter), each undefined (not checked) when it is `any` or
 * `unknown` (as with a `reduce` typed by `MapOptions` itself), and where the `reduce` is written.
 * Undefined when the call or the function cannot be seen.
 */
export function reduceSignature(project: Project, root: string, site: Site): { returns?: ts.Type; takes?: ts.Type; site: Site } | undefined {
  const arg = callAt(project, root, site)?.getArguments()[0];
  if (!arg) return undefined;
  const options = objectLiteralOf(arg);
  const property = options && propertyNamed(options, "reduce");
  const fn = property ? (valueNode(property) ?? property).getType() : arg.getType().getProperty("reduce")?.getTypeAtLocation(arg);
  const signatures = fn?.getNonNullableType().getCallSignatures() ?? [];
  if (signatures.length !== 1) return undefined;
  const known = (t: Type | undefined) => (t && !t.isAny() && !t.isUnknown() ? t.compilerType : undefined);
  const parameter = signatures[0].getParameters()[0];
  const takes = parameter && property ? known(parameter.getTypeAtLocation(property)) : undefined;
  return { returns: known(signatures[0].getReturnType()), takes, site: property ? siteOf(property, root) : site };
}
