/** Messages between the main thread and the pool's workers. */
import type { ElementOutcome, RecordedEvent, SerializedError } from "../events.js";

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
  | { kind: "elements"; path: number[]; elementPath: number[]; outer: Record<string, unknown>; items: { index: number; value: unknown }[] };

export type WorkerReply =
  | { kind: "task"; ok: true; value: unknown }
  | { kind: "task"; ok: false; error: SerializedError }
  | { kind: "elements"; results: ElementOutcome[]; events: RecordedEvent[] };
