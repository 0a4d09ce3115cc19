/**
 * Turns a zod issue into one line: `<key path>: expected <what>, got <what arrived>`.
 * Values under secret-named keys are described by type only.
 */
import type { core } from "zod/mini";
import { describeValue, formatPath } from "./describe.js";
import { isSecretKey } from "./mask.js";

export interface IssueLine {
  /** Key path of the value at fault (for an unknown key: including that key). */
  path: PropertyKey[];
  text: string;
}

const TYPE_NAMES: Record<string, string> = {
  int: "an integer",
  number: "a number",
  string: "a string",
  boolean: "true or false",
  array: "an array",
  object: "an object",
  record: "an object",
};

export function describeIssue(issue: core.$ZodIssue, input: unknown): IssueLine {
  const path = [...issue.path];
  const got = (at: PropertyKey[]) => describeValue(valueAt(input, at), at.some((p) => typeof p === "string" && isSecretKey(p)));
  switch (issue.code) {
    case "invalid_type": {
      const expected = TYPE_NAMES[issue.expected] ?? issue.expected;
      const value = valueAt(input, path);
      if (value === undefined) return { path, text: `missing (expected ${expected})` };
      return { path, text: `expected ${expected}, got ${got(path)}` };
    }
    case "invalid_value":
      return { path, text: `expected ${oneOf(issue.values)}, got ${got(path)}` };
    case "invalid_union": {
      const options = (issue as { options?: unknown[] }).options;
      if (options) return { path, text: `expected ${oneOf(options)}, got ${got(path)}` };
      return { path, text: `does not match any allowed form, got ${got(path)}` };
    }
    case "unrecognized_keys": {
      const key = issue.keys[0] ?? "?";
      const more = issue.keys.length > 1 ? ` (also: ${issue.keys.slice(1).join(", ")})` : "";
      return { path: [...path, key], text: `unknown key${more}` };
    }
    case "too_small":
      return { path, text: `expected ${bound(issue.origin, ">", issue.minimum, issue.inclusive)}, got ${got(path)}` };
    case "too_big":
      return { path, text: `expected ${bound(issue.origin, "<", issue.maximum, issue.inclusive)}, got ${got(path)}` };
    default:
      return { path, text: `${issue.message}, got ${got(path)}` };
  }
}

export function formatIssueLine(line: IssueLine): string {
  return `${formatPath(line.path) || "(top level)"}: ${line.text}`;
}

function oneOf(values: readonly unknown[]): string {
  const shown = values.map((v) => (typeof v === "string" ? JSON.stringify(v) : String(v)));
  if (shown.length === 1) return shown[0]!;
  if (shown.length === 2) return `${shown[0]} or ${shown[1]}`;
  return `one of ${shown.join(", ")}`;
}

function bound(origin: string, dir: ">" | "<", limit: number | bigint, inclusive: boolean | undefined): string {
  const n = Number(limit);
  if (origin === "string" && dir === ">" && n <= 1) return "a non-empty string";
  if (origin === "array" || origin === "set") return `${dir === ">" ? "at least" : "at most"} ${n} item${n === 1 ? "" : "s"}`;
  if (origin === "string") return `${dir === ">" ? "at least" : "at most"} ${n} characters`;
  return `a number ${dir}${inclusive ? "=" : ""} ${n}`;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let current = input;
  for (const part of path) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<PropertyKey, unknown>)[part];
  }
  return current;
}
