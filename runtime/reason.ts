/** What was thrown, as a message says it: `boom`, `RangeError: out of range`, or the text of a non-Error. */
export function reasonOf(thrown: unknown): string {
  return thrown instanceof Error ? `${thrown.name === "Error" ? "" : thrown.name + ": "}${thrown.message}` : String(thrown);
}
