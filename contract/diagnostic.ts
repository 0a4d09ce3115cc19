import type { Site } from "./manifest.js";

/**
 * A problem found in a pipeline, at a source position. The compiler reports them at build time and the
 * runtime when it re-checks the graph a command builds with real args; both print them the same way.
 */
export interface Diagnostic {
  /** Stable code, e.g. `OF101` (missing input). Listed in the README. */
  code: string;
  message: string;
  site: Site;
  severity?: "error" | "warning";
}

/** tsc-style: `path:line:col - error OF101: message`, then a code frame when the source is at hand. */
export function formatDiagnostic(d: Diagnostic, source?: string): string {
  // A problem with no position in the sources (the recording process itself ended) has no location.
  const where = d.site.file ? `${d.site.file}:${d.site.line}:${d.site.column} - ` : "";
  const head = `${where}${d.severity ?? "error"} ${d.code}: ${d.message}`;
  if (!source || d.site.line < 1) return head;
  const lines = source.split("\n");
  const text = lines[d.site.line - 1];
  if (text === undefined) return head;
  const gutter = String(d.site.line);
  const caret = " ".repeat(gutter.length) + " " + " ".repeat(Math.max(0, d.site.column - 1)) + "~";
  return `${head}\n\n${gutter} ${text}\n${caret}\n`;
}
