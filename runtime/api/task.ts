import { addTaskNode } from "../graph/recorder.js";
import type { GraphNode } from "../graph/model.js";

/**
 * `IterateOn<"some_data_array", number>`: this parameter receives one element of the upstream array
 * target `some_data_array` when the task is the first of a `map()` body. It is exactly `T` (`T` or a
 * subset of `T`), for any `T`, `null`, `unknown` and `any` included: a plain `number` is assignable to
 * it, so the task stays an ordinary function. The branded member only marks the parameter for the
 * compiler where `T & brand` survives; the compiler reads `IterateOn<K, T>` as written first.
 */
export type IterateOn<K extends string, T> = T | (T & { readonly __iterateOn?: K });

/** Any task function. `never[]` (not `any[]`) keeps the declared parameter types for the compiler. */
export type TaskFunction = (...args: never[]) => unknown;

/** Constant inputs bound at the call site: `Sleep({ seconds: 60 })`. The compiler checks names and types. */
export type BoundInputs = Record<string, unknown>;

export interface TaskRef<F extends TaskFunction = TaskFunction> {
  /** Inside `setup()`: adds this task to the graph (the body does not run) and returns its node. */
  (bound?: BoundInputs): GraphNode;
  /** The plain function: callable directly, e.g. in unit tests. */
  readonly fn: F;
  readonly __outflowTask: true;
  /** `"<module>#<export>"`, set when the module is registered; the function name is only a fallback. */
  id: string | undefined;
  displayName: string;
}

/** Wraps a plain typed function as a task: parameter names are its inputs, returned keys its outputs. */
export function task<F extends TaskFunction>(fn: F): TaskRef<F> {
  if (typeof fn !== "function") throw new TypeError("task() takes a function");
  const ref = function taskCall(bound?: BoundInputs): GraphNode {
    return addTaskNode(ref, bound ?? {}, taskCall);
  } as TaskRef<F>;
  Object.defineProperty(ref, "fn", { value: fn });
  Object.defineProperty(ref, "__outflowTask", { value: true });
  ref.id = undefined;
  ref.displayName = fn.name || "anonymous";
  return ref;
}

export function isTaskRef(value: unknown): value is TaskRef {
  return typeof value === "function" && (value as Partial<TaskRef>).__outflowTask === true;
}
