/**
 * The driver's side of a map's files: streams the elements into one input file per array task (one task's
 * worth of values in memory at a time) and hashes what it writes, so a resubmission can check that the
 * map still receives the same elements.
 */
import { createHash } from "node:crypto";
import { serialize } from "node:v8";
import { writeAtomic } from "./files.js";
import { taskRange, type MapDir, type TaskInput } from "./layout.js";

/** Hash of the pass-through values and elements; writes `inputs/<task>.bin` too when `dir` is given. */
export function writeInputs(items: ArrayLike<unknown>, outer: Record<string, unknown>, perTask: number, dir?: MapDir): string {
  const hash = createHash("sha256");
  hash.update(serialize(outer));
  const tasks = Math.ceil(items.length / perTask);
  for (let task = 0; task < tasks; task++) {
    const [first, end] = taskRange(task, perTask, items.length);
    const values = ArrayBuffer.isView(items) ? (items as unknown as Float64Array).slice(first, end) : Array.prototype.slice.call(items, first, end);
    const input: TaskInput = { first, values };
    const data = serialize(input);
    hash.update(data);
    if (dir) writeAtomic(dir.input(task), data);
  }
  return hash.digest("hex");
}
