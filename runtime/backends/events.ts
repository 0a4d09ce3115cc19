/**
 * Task record events and errors that cross a process or thread boundary: collected where map elements run
 * (a worker thread, a Slurm array task), replayed by the driver into the run records.
 */
import { TaskFailure, type Place, type RunObserver, type TaskStartEvent } from "../execute/run-graph.js";
import { reasonOf } from "../reason.js";

export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  /** For a failed map element: the task that failed inside it and where it ran. */
  task?: string;
  place?: Place;
  /** What was thrown is not an Error (`throw "text"`, `throw undefined`): `message` is String(value). */
  thrown?: true;
}

/** A task record event that happened away from the driver, replayed by the driver's run observer. */
export interface RecordedEvent {
  id: number;
  parent: number | null;
  name: string;
  plugin: string;
  taskId?: string;
  element?: number;
  inputs: string[];
  outputs: string[];
  /** Absent: the node never ran (on a branch not taken), and its row is `skipped` with no times. */
  startedAt?: number;
  finishedAt?: number;
  state?: "success" | "failed" | "skipped";
  error?: SerializedError;
}

/** One element's outcome, by its index in the map's input array. */
/** `skipped`: the element's body returned Skipped; it has no value and is left out of the map's results. */
export type ElementOutcome = { index: number; ok: true; value: unknown; skipped?: true } | { index: number; ok: false; error: SerializedError };

export function serializeError(error: unknown): SerializedError {
  if (error instanceof TaskFailure) return { ...serializeError(error.cause), task: error.task, place: error.place };
  if (error instanceof Error) return { name: error.name, message: error.message, stack: error.stack };
  return { name: "Error", message: String(error), thrown: true };
}

/**
 * The error as the thread that threw it had it: a task's failure in a map element is a TaskFailure again
 * (named after the task, as on the sequential backend); what was not an Error comes back as its text,
 * with no stack (never one made up here, in the thread that reads it).
 */
export function deserializeError(s: SerializedError): unknown {
  let cause: unknown = s.message;
  if (!s.thrown) {
    const e = new Error(s.message);
    e.name = s.name;
    e.stack = s.stack ?? `${s.name}: ${s.message}`;
    cause = e;
  }
  return s.task === undefined ? cause : new TaskFailure(s.task, s.place ?? [], cause);
}

/** How a serialized error is said in one line (as reasonOf says the error itself), without its task. */
export function reasonOfSerialized(e: SerializedError): string {
  return reasonOf(deserializeError({ ...e, task: undefined }));
}

/** A structured-clone failure, saying which way the value was going; the DataCloneError's name is kept. */
export function cloneError(error: unknown, what: string): unknown {
  return error instanceof Error ? Object.assign(new Error(`${what}: ${error.message}`), { name: error.name }) : error;
}

/**
 * Element `index` succeeded but its result cannot leave this process (a worker thread, an array task):
 * its records say it failed with `cause`, its element row with the task's failure, its task's row (in a
 * one-task body) with `cause` itself; never a row of a nested map's element with the same index. Returns
 * the element's failure, serialized.
 */
export function failUnsendable(events: RecordedEvent[], index: number, place: Place, cause: unknown): SerializedError {
  const element = events.find((e) => e.parent === null && e.element === index);
  const children = element ? events.filter((e) => e.parent === element.id) : [];
  const task = children.length === 1 ? children[0] : undefined;
  const failure = serializeError(task ? new TaskFailure(task.name, [...place, { element: index }], cause) : cause);
  if (element) Object.assign(element, { state: "failed", error: failure });
  if (task) Object.assign(task, { state: "failed", error: serializeError(cause) });
  return failure;
}

/** Collects task record events where elements run; the driver replays them with `replayEvents`. */
export class EventCollector implements RunObserver {
  events: RecordedEvent[] = [];
  private next = 1;
  private readonly open = new Map<number, RecordedEvent>();
  taskStarted(e: TaskStartEvent): number {
    const event = this.add(e, Date.now());
    this.open.set(event.id, event);
    return event.id;
  }
  taskSkipped(e: Omit<TaskStartEvent, "at">): void {
    this.add(e, undefined).state = "skipped";
  }
  private add(e: Omit<TaskStartEvent, "at">, startedAt: number | undefined): RecordedEvent {
    const event: RecordedEvent = { id: this.next++, parent: typeof e.parent === "number" ? e.parent : null, name: e.name, plugin: e.plugin, taskId: e.taskId, element: e.element, inputs: e.inputs, outputs: e.outputs, startedAt };
    this.events.push(event);
    return event;
  }
  taskFinished(handle: unknown, state: "success" | "failed" | "skipped", error?: unknown): void {
    const ev = this.open.get(handle as number);
    if (!ev) return;
    this.open.delete(ev.id);
    ev.finishedAt = Date.now();
    ev.state = state;
    if (error !== undefined) ev.error = serializeError(error);
  }
  /** Hands over the events collected so far and starts a new list. */
  take(): RecordedEvent[] {
    const events = this.events;
    this.events = [];
    return events;
  }
}

/** Replays events recorded elsewhere into the driver's observer; top-level events hang under `parent`. */
export async function replayEvents(observer: RunObserver, events: RecordedEvent[], parent: unknown): Promise<void> {
  const handles = new Map<number, unknown>();
  // Only real promises are awaited: the run records answer synchronously for buffered rows, and an
  // `await` per event would cost a microtask each (two events per element of a large map).
  for (const e of events) {
    // One object per event, as a literal (a copy with `at` added costs several times the rest of a replay).
    const at = e.startedAt === undefined ? undefined : new Date(e.startedAt);
    const event = { name: e.name, plugin: e.plugin, taskId: e.taskId, parent: e.parent === null ? parent : handles.get(e.parent), element: e.element, inputs: e.inputs, outputs: e.outputs, at };
    if (e.startedAt === undefined) {
      // The node never ran: a skipped row without times (the observer ignores `at`).
      const skipped = observer.taskSkipped(event);
      if (skipped instanceof Promise) await skipped;
      continue;
    }
    let handle = observer.taskStarted(event);
    if (handle instanceof Promise) handle = await handle;
    handles.set(e.id, handle);
    if (!e.state) continue;
    const finished = observer.taskFinished(handle, e.state, e.error ? deserializeError(e.error) : undefined, new Date(e.finishedAt ?? e.startedAt));
    if (finished instanceof Promise) await finished;
  }
}
