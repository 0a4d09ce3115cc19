/**
 * Quoting for the generated sbatch scripts. Nothing a user controls is ever pasted into a script
 * unquoted: shell words are single-quoted, `#SBATCH` values are double-quoted the way sbatch reads them,
 * comments are reduced to printable characters. Args and config never reach a script at all (they travel
 * in the map's input file).
 */

/** One POSIX shell word: `it's` → `'it'\''s'`. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Thrown for a directive value that cannot be written safely (a newline or NUL). */
export class DirectiveError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "Error";
  }
}

/**
 * A value on a `#SBATCH --name=value` line. sbatch splits these lines itself (no shell): a backslash escapes
 * the next character, double quotes group, an unquoted `#` starts a comment. Plain values stay plain.
 */
export function directiveValue(name: string, value: string): string {
  if (/[\n\r\0]/.test(value)) throw new DirectiveError(`slurm option ${name}: value ${JSON.stringify(value)} contains a line break`);
  if (/^[A-Za-z0-9_.,:/%@+=-]+$/.test(value)) return value;
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** Text for a `# ...` comment line: printable ASCII only, so it cannot end the comment. */
export function commentText(value: string): string {
  return value.replace(/[^\x20-\x7e]/g, "?");
}
