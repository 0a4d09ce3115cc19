/** Files in the run directory: v8-serialized values (typed arrays, Dates, Maps survive), written atomically. */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { deserialize, serialize } from "node:v8";

let counter = 0;

/** Writes `data` to a temp file beside `file`, then renames it: readers see the old file or the whole new one. */
export function writeAtomic(file: string, data: string | Uint8Array, mode = 0o644): void {
  const tmp = `${file}.tmp-${process.pid}-${counter++}`;
  writeFileSync(tmp, data, { mode });
  renameSync(tmp, file);
}

export function writeValue(file: string, value: unknown, mode?: number): Buffer {
  const data = serialize(value);
  writeAtomic(file, data, mode);
  return data;
}

export function readValue<T>(file: string): T {
  return deserialize(readFileSync(file)) as T;
}

export function writeJson(file: string, value: unknown): void {
  writeAtomic(file, JSON.stringify(value, null, 2) + "\n");
}

export function readJson<T>(file: string): T {
  return JSON.parse(readFileSync(file, "utf8")) as T;
}

export function ensureDir(dir: string, mode?: number): void {
  mkdirSync(dir, { recursive: true, mode });
}

