/** Short, one-line descriptions of config values and paths for error messages. */

const MAX = 40;

/** `databases.default.user` / `plugins[0]`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out === "" ? String(part) : `.${String(part)}`;
  }
  return out;
}

/** What arrived, shortened: `"mysql"`, `42`, `an array`, `an object`, `nothing`. */
export function describeValue(value: unknown, secret = false): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  if (secret) return `a ${typeof value}`;
  if (typeof value === "string") return shorten(JSON.stringify(value));
  return shorten(String(value));
}

function shorten(text: string): string {
  return text.length <= MAX ? text : `${text.slice(0, MAX - 1)}…`;
}
