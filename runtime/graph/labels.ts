import type { NodeKind } from "../../contract/manifest.js";

/** What naming a node needs: recorded nodes and their serialised specs both have it. */
export interface Labelled {
  readonly kind: NodeKind;
  readonly map?: { readonly options: { readonly outputName: string } };
}

/**
 * How messages name a node that is not a task, as the user wrote it: `map(results)`, `loop()`,
 * `ifThenElse()` (its if node), `ifThenElse().then`, `ifThenElse().else`, `merge()`, `interactive()`.
 */
export function builtinLabel(node: Labelled): string {
  switch (node.kind) {
    case "map":
      return `map(${node.map?.options.outputName ?? ""})`;
    case "if":
      return "ifThenElse()";
    case "then":
    case "else":
      return `ifThenElse().${node.kind}`;
    default:
      return `${node.kind}()`;
  }
}

/** Where a node is: `the body of loop()`, `the body of map(results)`, or the command's own workflow. */
export function workflowLabel(owner: Labelled | undefined): string {
  return owner ? `the body of ${builtinLabel(owner)}` : "the command's workflow";
}

/** A value as a message quotes it: `-1`, `"4"`, `{}`, `undefined`, `a function`, `a Node` (a class instance). */
export function shown(value: unknown): string {
  if (typeof value === "function") return "a function";
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value !== "object" || value === null) return String(value);
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null && !Array.isArray(value)) return `a ${proto?.constructor?.name || "object"}`;
  try {
    const text = JSON.stringify(value);
    return text.length > 60 ? `${text.slice(0, 57)}...` : text;
  } catch {
    return Object.prototype.toString.call(value);
  }
}
