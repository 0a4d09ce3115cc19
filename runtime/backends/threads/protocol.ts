/** Messages between the main thread and the pool's workers. */
import type { RecordedEvent, SerializedError } from "../events.js";

export { serializeError, deserializeError, type RecordedEvent, type SerializedError } from "../events.js";

/**
 * What a worker is started with. The pool starts as soon as the backend is known, before the run is
 * recorded: the run itself (its id) arrives as the first message, `{ kind: "run" }`, and a tracked
 * command's workers open their databases only then (after the main thread's run-start checks).
 */
export interface WorkerInit {
  role: "outflow-worker";
  command: string[];
  args: Record<string, unknown>;
  config: unknown;
  root: string;
  /** The command is tracked: workers open their own database sessions for `context.em`. */
  db: boolean;
}

export type RunMessage = { kind: "run"; run: { id: string | null; command: string[]; backend: string; root: string } };

/**
 * A batch's values: a plain array, or — when every value is a number — a Float64Array whose buffer is
 * transferred (one memcpy-free move instead of cloning each number).
 */
export type Values = unknown[] | Float64Array;

export type WorkerRequest =
  | { kind: "task"; taskId: string; args: unknown[] }
  /** Elements `first` … `first + values.length - 1` of the map at `path` (plain arrays clone far faster than objects). */
  | { kind: "elements"; path: number[]; elementPath: number[]; outer: Record<string, unknown>; first: number; values: Values };

export type WorkerReply =
  | { kind: "task"; ok: true; value: unknown }
  | { kind: "task"; ok: false; error: SerializedError }
  /** `values[i]` is the result of element `first + i`; failed elements are listed in `failures`. */
  | { kind: "elements"; first: number; values: Values; failures: { index: number; error: SerializedError }[]; events: RecordedEvent[] };

/** The values as a Float64Array when they are all numbers (and there are enough to matter), else as they are. */
export function packValues(values: unknown[]): Values {
  if (values.length < 16) return values;
  for (let i = 0; i < values.length; i++) if (typeof values[i] !== "number") return values;
  const packed = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) packed[i] = values[i] as number;
  return packed;
}

/** The transfer list of packed values. */
export function packedTransfer(values: Values): ArrayBuffer[] {
  return values instanceof Float64Array ? [values.buffer as ArrayBuffer] : [];
}
