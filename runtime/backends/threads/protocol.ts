/** Messages between the main thread and the pool's workers. */
import type { RecordedEvent, SerializedError } from "../events.js";
import type { Place } from "../../execute/run-graph.js";

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
  /** --log-level of the run, which workers log at too (else the config's level). */
  logLevel?: string;
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
  | { kind: "elements"; path: number[]; place: Place; outer: Record<string, unknown>; first: number; values: Values };

export type WorkerReply =
  | { kind: "task"; ok: true; value: unknown }
  | { kind: "task"; ok: false; error: SerializedError }
  /**
   * `values[i]` is the result of element `first + i`; failed elements are listed in `failures`. `whole`: the
   * batch failed as a whole (its results could not be sent back, the worker could not start): every element
   * has the same failure, and none has records. `skipped`: elements whose body returned Skipped (no result).
   */
  | { kind: "elements"; first: number; values: Values; failures: { index: number; error: SerializedError }[]; events: RecordedEvent[]; whole?: true; skipped?: number[] };

/**
 * `values[first … first + count)` as a Float64Array when they are all numbers (and there are enough to
 * matter), else as a plain array. `spare` is a buffer that came back from a worker: reused when it fits,
 * so a lane of an all-number map allocates nothing per batch.
 */
export function packValues(values: ArrayLike<unknown>, first = 0, count = values.length - first, spare?: Float64Array): Values {
  const end = first + count;
  let numbers = count >= 16;
  for (let i = first; numbers && i < end; i++) numbers = typeof values[i] === "number";
  if (!numbers) return Array.isArray(values) && first === 0 && end === values.length ? values : Array.prototype.slice.call(values, first, end);
  const packed = spare && spare.length >= count ? spare.subarray(0, count) : new Float64Array(count);
  for (let i = 0; i < count; i++) packed[i] = values[first + i] as number;
  return packed;
}

/**
 * A number read back from a packed batch, as the value it was before packing made it a double: an int32
 * (but not -0) becomes a small integer again. Arrays of results keep the elements kind they have on the
 * sequential backend (a 1e6 map of integers stays an array of small integers, no copy into doubles), and
 * task code in a worker gets small integers where it would have, not a boxed double per element.
 */
export function unpackNumber(v: number): number {
  return v === (v | 0) && (v !== 0 || 1 / v > 0) ? v | 0 : v;
}

/** The transfer list of packed values. */
export function packedTransfer(values: Values): ArrayBuffer[] {
  return values instanceof Float64Array ? [values.buffer as ArrayBuffer] : [];
}

/** A transferred buffer, whole again, to reuse for the next batch. */
export function spareOf(values: Values): Float64Array | undefined {
  return values instanceof Float64Array ? new Float64Array(values.buffer) : undefined;
}
