import type { MapOptions, NodeSpec } from "../../contract/manifest.js";
import type { Diagnostic } from "../../contract/diagnostic.js";
import { shown } from "./labels.js";

/** map() options that count things: a positive integer, or absent. */
export const COUNT_OPTIONS = ["cpusPerTask", "simultaneousTasks"] as const satisfies readonly (keyof MapOptions)[];

export function isCount(value: unknown): boolean {
  return value === undefined || (typeof value === "number" && Number.isInteger(value) && value >= 1);
}

/** OF113's words, for a value written in the source and for one recorded when setup() ran. */
export function countMessage(map: string, option: string, value: unknown): string {
  return `${map}: ${option} must be a positive integer, got ${shown(value)}`;
}

/**
 * OF113 for the values a map was recorded with (`simultaneousTasks: args.n` with n = 0): the runtime
 * refuses such a graph before anything runs, at the `map(` call.
 */
export function recordedCountDiagnostics(node: NodeSpec, label: string): Diagnostic[] {
  const options = node.map!.options as unknown as Record<string, unknown>;
  return COUNT_OPTIONS.filter((o) => !isCount(options[o])).map((o) => ({ code: "OF113", message: countMessage(label, o, options[o]), site: node.site }));
}
