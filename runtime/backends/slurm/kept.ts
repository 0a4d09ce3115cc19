/**
 * What earlier attempts of a packed array task computed, so that a resubmission reruns only the rest:
 * the results a resubmission set aside (`results/<task>.prev.bin`) and the journal of an attempt that was
 * killed before it wrote its results (`results/<task>.journal`). Read by the array task (to skip those
 * elements and merge their results) and by the driver (to report only the elements that really reran).
 */
import { existsSync, rmSync } from "node:fs";
import { hostname } from "node:os";
import type { ElementOutcome, RecordedEvent } from "../events.js";
import { readJournal, readValue, writeValue } from "./files.js";
import { LAYOUT_VERSION, type MapDir, type TaskResults } from "./layout.js";

/** One journal record: an element that succeeded, with its task record events. */
export interface JournalEntry {
  outcome: Extract<ElementOutcome, { ok: true }>;
  events: RecordedEvent[];
}

function readPrevious(dir: MapDir, task: number): TaskResults | undefined {
  try {
    const prev = readValue<TaskResults>(dir.previous(task));
    return prev.version === LAYOUT_VERSION ? prev : undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** The successful results of earlier attempts and their record events (undefined when there are none). */
export function earlierResults(dir: MapDir, task: number): { results: ElementOutcome[]; events: RecordedEvent[] } | undefined {
  const prev = readPrevious(dir, task);
  const journal = readJournal<JournalEntry>(dir.journal(task));
  if (!prev && journal.length === 0) return undefined;
  const fromPrev = (prev?.results ?? []).filter((r) => r.ok);
  const seen = new Set(fromPrev.map((r) => r.index));
  const fromJournal = journal.filter((j) => j.outcome.ok && !seen.has(j.outcome.index));
  const results = [...fromPrev, ...fromJournal.map((j) => j.outcome)].sort((a, b) => a.index - b.index);
  const events = mergeEvents(keptEvents(prev?.events ?? [], seen), fromJournal.flatMap((j) => j.events));
  return { results, events };
}

/**
 * Folds a killed attempt's journal into the set-aside results, so the journal can start afresh for the
 * attempt that begins now. Returns what earlier attempts computed.
 */
export function foldJournal(dir: MapDir, task: number): { results: ElementOutcome[]; events: RecordedEvent[] } | undefined {
  const earlier = earlierResults(dir, task);
  if (earlier && existsSync(dir.journal(task))) {
    const now = Date.now();
    const record: TaskResults = { version: LAYOUT_VERSION, task, host: hostname(), start: now, end: now, results: earlier.results, events: earlier.events };
    writeValue(dir.previous(task), record);
    rmSync(dir.journal(task), { force: true });
  }
  return earlier;
}

/** The record events of the kept elements: each element record (parent null) and everything under it. */
export function keptEvents(events: RecordedEvent[], keep: Set<number>): RecordedEvent[] {
  const ids = new Set<number>();
  const out: RecordedEvent[] = [];
  for (const e of events) {
    const kept = e.parent === null ? e.element !== undefined && keep.has(e.element) : ids.has(e.parent);
    if (!kept) continue;
    ids.add(e.id);
    out.push(e);
  }
  return out;
}

/** `earlier` then `later`, the ids of `later` moved past those of `earlier` (both lists number from 1). */
export function mergeEvents(earlier: RecordedEvent[], later: RecordedEvent[]): RecordedEvent[] {
  const offset = earlier.reduce((m, e) => Math.max(m, e.id), 0);
  return [...earlier, ...later.map((e) => ({ ...e, id: e.id + offset, parent: e.parent === null ? null : e.parent + offset }))];
}
