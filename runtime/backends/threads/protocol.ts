/** Messages between the main thread and the pool's workers. */
import type { RecordedEvent, SerializedError } from "../events.js";

export { serializeError, deserializeError, type RecordedEvent, type SerializedError } from "../events.js";

export interface WorkerInit {
  role: "outflow-worker";
  command: string[];
  args: Record<string, unknown>;
  config: unknown;
  run: { id: string | null; command: string[]; backend: string; root: string };
  /** The command is tracked: workers open their own database sessions for `context.em`. */
  db: boolean;
}

export type WorkerRequest =
  | { kind: "task"; taskId: string; args: unknown[] }
  /** Elements `first` … `first + values.length - 1` of the map at `path` (plain arrays clone far faster than objects). */
  | { kind: "elements"; path: number[]; elementPath: number[]; outer: Record<string, unknown>; first: number; values: unknown[] };

export type WorkerReply =
  | { kind: "task"; ok: true; value: unknown }
  | { kind: "task"; ok: false; error: SerializedError }
  /** `values[i]` is the result of element `first + i`; failed elements are listed in `failures`. */
  | { kind: "elements"; first: number; values: unknown[]; failures: { index: number; error: SerializedError }[]; events: RecordedEvent[] };
