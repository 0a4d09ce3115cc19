/** Files in the run directory: v8-serialized values (typed arrays, Dates, Maps survive), written atomically. */
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from "node:fs";
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


/**
 * An append-only file of v8 records, each `[u32 length][bytes]`, written as they come: what a packed
 * array task has computed so far survives the task being killed. A torn last record is ignored.
 */
export class Journal {
  private readonly fd: number;
  constructor(readonly file: string) {
    this.fd = openSync(file, "w");
  }
  append(value: unknown): void {
    const data = serialize(value);
    const record = Buffer.allocUnsafe(4 + data.length);
    record.writeUInt32LE(data.length, 0);
    data.copy(record, 4);
    writeSync(this.fd, record);
  }
  close(): void {
    closeSync(this.fd);
  }
}

/** The whole records of a journal (none when it does not exist). */
export function readJournal<T>(file: string): T[] {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  const out: T[] = [];
  for (let at = 0; at + 4 <= data.length; ) {
    const length = data.readUInt32LE(at);
    if (at + 4 + length > data.length) break;
    try {
      out.push(deserialize(data.subarray(at + 4, at + 4 + length)) as T);
    } catch {
      break;
    }
    at += 4 + length;
  }
  return out;
}
