/**
 * outflow's log line: `2026-11-22 03:33:12,459 - data_reduction.tasks - tasks.ts:15 - INFO - message`
 * (local time, milliseconds after a comma), and the logger name of a source file.
 */
import { inspect } from "node:util";
import { mapStack } from "../source-map.js";

export function formatLine(time: Date, name: string, site: string, level: string, message: string): string {
  return `${timestamp(time)} - ${name} - ${site} - ${level} - ${message}\n`;
}

export function timestamp(t: Date): string {
  return (
    `${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())} ` +
    `${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())},${pad(t.getMilliseconds(), 3)}`
  );
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, "0");
}

/** Strings as they are, errors as their (source-mapped) stack, anything else via `util.inspect`; space-separated. */
export function formatMessage(message: unknown, more: readonly unknown[]): string {
  if (more.length === 0 && typeof message === "string") return message;
  return [message, ...more].map(formatValue).join(" ");
}

function formatValue(value: unknown): string {
  if (typeof value === "string") return value;
  if (value instanceof Error) return mapStack(inspect(value));
  return inspect(value, { depth: 4, breakLength: Infinity });
}

/**
 * `…/plugins/<plugin>/…/<module>.ts` → `<plugin>.<module>`; any other file → its path relative to
 * `root` without extension, with dots (`scripts/tools/x.ts` → `scripts.tools.x`), or its bare
 * module name when it lies outside `root`.
 */
export function loggerNameFor(sourcePath: string, root: string): string {
  const path = sourcePath.replaceAll("\\", "/");
  const rootDir = root.replaceAll("\\", "/").replace(/\/+$/, "");
  const absolute = path.startsWith("/") || /^[a-z]:\//i.test(path);
  const rel = !absolute ? path.replace(/^(?:\.\/)+/, "") : path.startsWith(`${rootDir}/`) ? path.slice(rootDir.length + 1) : undefined;
  const slashed = `/${rel ?? path}`;
  const plugins = slashed.lastIndexOf("/plugins/");
  if (plugins >= 0) {
    const parts = slashed.slice(plugins + "/plugins/".length).split("/");
    // plugins/astro/photometry/tasks.ts → astro.photometry.tasks (a dotted plugin name is a nested folder).
    if (parts.length >= 2) return [...parts.slice(0, -1), stripExtension(parts[parts.length - 1]!)].join(".");
  }
  const shown = rel ?? basename(path);
  return stripExtension(shown).replace(/^(?:\.\.\/)+/, "").replaceAll("/", ".");
}

/** `tasks.ts`, from a path. */
export function basename(path: string): string {
  return path.slice(Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\")) + 1);
}

function stripExtension(file: string): string {
  const dot = file.lastIndexOf(".");
  return dot > 0 ? file.slice(0, dot) : file;
}
