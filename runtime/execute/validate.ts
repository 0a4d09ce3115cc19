import type { TaskSpec } from "../../contract/manifest.js";
import { inspect } from "node:util";

/** A generated zod/mini schema, seen duck-typed so the runtime core does not import zod. */
export interface Schema {
  safeParse(value: unknown): { success: true; data: unknown } | { success: false; error: { issues: { path: PropertyKey[]; message: string }[] } };
}

/** One target's check: the zod schema, and the compiler's guard (a fast predicate) when the type has one. */
export interface Check {
  readonly schema: Schema;
  /** Accepts a subset of what `schema` accepts; when it says no, the schema decides (and words the error). */
  is?: (value: unknown) => boolean;
}

/** `generated/validators.ts`: the checks of every task's inputs and outputs, by task id. */
export type Validators = Record<string, { inputs: Record<string, Check>; outputs: Record<string, Check> }>;

/** Undefined when the value fits; the schema's issues when not. The guard spares zod's parse (and its copy of arrays). */
function problems(check: Check, value: unknown): { path: PropertyKey[]; message: string }[] | undefined {
  if (check.is?.(value)) return undefined;
  const r = check.schema.safeParse(value);
  return r.success ? undefined : r.error.issues;
}

/** A value that does not fit a task's declared type, at a task boundary. */
export class TaskValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TaskValueError";
  }
}

function preview(value: unknown): string {
  if (value === undefined || value === null) return String(value);
  const type = value === null ? "null" : Array.isArray(value) ? "array" : typeof value === "object" ? (value as object).constructor?.name ?? "object" : typeof value;
  return `${type} ${inspect(value, { depth: 2, maxArrayLength: 5, maxStringLength: 60, breakLength: Infinity })}`;
}

function describeIssue(issues: { path: PropertyKey[]; message: string }[]): string {
  const first = issues[0];
  if (!first || first.path.length === 0) return "";
  return ` (at ${first.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("")}: ${first.message})`;
}

export function validateInput(spec: TaskSpec, validators: Validators, name: string, value: unknown): void {
  const check = validators[spec.id]?.inputs[name];
  if (!check || check.is?.(value)) return;
  const input = spec.inputs.find((i) => i.name === name)!;
  if (value === undefined && input.optional) return;
  const issues = problems(check, value);
  if (issues) {
    const expected = input.iterateOn ? input.iterateOn.elementType : input.type;
    throw new TaskValueError(`Task ${spec.name}: input "${name}" expected ${expected}, got ${preview(value)}${describeIssue(issues)}`);
  }
}

/** Checks a task's return value against its declared outputs; returns the outputs it declares. */
export function validateOutputs(spec: TaskSpec, validators: Validators, value: unknown): Record<string, unknown> {
  if (spec.outputs.length === 0) return {};
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TaskValueError(`Task ${spec.name}: expected an object with outputs ${spec.outputs.map((o) => o.name).join(", ")}, got ${preview(value)}`);
  }
  const result: Record<string, unknown> = {};
  const record = value as Record<string, unknown>;
  for (const output of spec.outputs) {
    const v = record[output.name];
    if (v === undefined && !(output.name in record) && !output.optional) {
      throw new TaskValueError(`Task ${spec.name}: output "${output.name}" (${output.type}) is missing; it returned keys: ${Object.keys(record).join(", ") || "(none)"}`);
    }
    const check = validators[spec.id]?.outputs[output.name];
    if (check && !(v === undefined && output.optional)) {
      const issues = problems(check, v);
      if (issues) throw new TaskValueError(`Task ${spec.name}: output "${output.name}" expected ${output.type}, got ${preview(v)}${describeIssue(issues)}`);
    }
    result[output.name] = v;
  }
  return result;
}

/** A target's fast yes, looked up once: everything when it has no check; undefined when its check has no guard. */
function guardOf(check: Check | undefined): ((value: unknown) => boolean) | undefined {
  return check ? check.is : () => true;
}

/**
 * The guard of one input, looked up once (a map's element loop calls it per element). When it is
 * undefined or says no, validateInput decides (and words the error).
 */
export function inputGuard(spec: TaskSpec, validators: Validators, name: string): ((value: unknown) => boolean) | undefined {
  return guardOf(validators[spec.id]?.inputs[name]);
}

/**
 * validateOutputs for a task with exactly one output, returning that output's value (what a map element
 * keeps), with its check looked up once. The common case (an object with the output, its guard says yes)
 * builds nothing; anything else goes through validateOutputs, which decides and words the error.
 */
export function singleOutputReader(spec: TaskSpec, validators: Validators): (value: unknown) => unknown {
  const name = spec.outputs[0].name;
  const is = guardOf(validators[spec.id]?.outputs[name]);
  return (value) => {
    if (typeof value === "object" && value !== null && !Array.isArray(value)) {
      const v = (value as Record<string, unknown>)[name];
      if (v !== undefined && is !== undefined && is(v)) return v;
    }
    return validateOutputs(spec, validators, value)[name];
  };
}
