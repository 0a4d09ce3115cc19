/** Messages between the main thread and the pool's workers. */

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

export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  /** For a failed map element: the task that failed inside it and the element path. */
  task?: string;
  elementPath?: number[];
}

/** A task record event that happened in a worker, replayed by the main thread's run observer. */
export interface RecordedEvent {
  id: number;
  parent: number | null;
  name: string;
  plugin: string;
  taskId?: string;
  element?: number;
  inputs: string[];
  outputs: string[];
  startedAt: number;
  finishedAt?: number;
  state?: "success" | "failed" | "skipped";
  error?: SerializedError;
}

export type WorkerReply =
  | { kind: "task"; ok: true; value: unknown }
  | { kind: "task"; ok: false; error: SerializedError }
  | { kind: "elements"; results: ({ index: number; ok: true; value: unknown } | { index: number; ok: false; error: SerializedError })[]; events: RecordedEvent[] };

export function serializeError(error: unknown): SerializedError {
  if (error instanceof Error) {
    const e = error as Error & { task?: string; elementPath?: number[]; cause?: unknown };
    if (e.name === "TaskFailure" && e.cause !== undefined) return { ...serializeError(e.cause), task: e.task, elementPath: e.elementPath };
    return { name: e.name, message: e.message, stack: e.stack };
  }
  return { name: "Error", message: String(error) };
}

export function deserializeError(s: SerializedError): Error {
  const e = new Error(s.message);
  e.name = s.name;
  if (s.stack) e.stack = s.stack;
  return e;
}
