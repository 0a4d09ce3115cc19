import { existsSync } from "node:fs";
import { relative, resolve } from "node:path";
import type { Diagnostic } from "../contract/diagnostic.js";

interface EsbuildMessage {
  text: string;
  /** `column` counts bytes of `lineText` (UTF-8); ours count characters, as tsc's do. */
  location?: { file: string; line: number; column: number; lineText?: string } | null;
}

/**
 * esbuild's errors (a syntax error, a duplicate export, an import that does not resolve in a pipeline
 * module) as OF140 diagnostics at their `file:line:col`, instead of esbuild's exception and stack.
 * Undefined when the error is not an esbuild build failure.
 */
export function esbuildDiagnostics(error: unknown, root: string): Diagnostic[] | undefined {
  const errors = (error as { errors?: EsbuildMessage[] } | null)?.errors;
  if (!Array.isArray(errors) || errors.length === 0) return undefined;
  // esbuild writes paths relative to the working directory; the pipeline's own are relative to its root.
  const ours = (path: string) => relative(root, resolve(process.cwd(), path));
  return errors.map((e) => {
    const at = e.location;
    const message = e.text.replace(/"([^"]+\.[cm]?[jt]sx?)"/g, (quoted, path: string) => (existsSync(resolve(process.cwd(), path)) ? `"${ours(path)}"` : quoted));
    if (!at) return { code: "OF140", message, site: { file: "", line: 0, column: 0 } };
    const column = at.lineText === undefined ? at.column : Buffer.from(at.lineText).subarray(0, at.column).toString().length;
    return { code: "OF140", message, site: { file: ours(at.file), line: at.line, column: column + 1 } };
  });
}
