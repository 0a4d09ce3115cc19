/**
 * outflow's logger: one line per record to stderr (and optionally a file), named after the
 * calling module (`<plugin>.<module>`) with the caller's `file.ts:line` in the user's original
 * source. A disabled level returns before any stack is captured.
 */
import { closeSync, mkdirSync, openSync, writeSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { originalPosition } from "../source-map.js";
import { basename, formatLine, formatMessage, loggerNameFor } from "./format.js";

export const LEVELS = { DEBUG: 10, INFO: 20, WARNING: 30, ERROR: 40, CRITICAL: 50 } as const;
export type LevelName = keyof typeof LEVELS;

export type LogMethod = (message: unknown, ...more: unknown[]) => void;

export interface Logger {
  debug: LogMethod;
  info: LogMethod;
  warning: LogMethod;
  /** Alias of `warning`. */
  warn: LogMethod;
  error: LogMethod;
  critical: LogMethod;
}

/** A level name, any case (`"DEBUG"`, `"debug"`); anything else is rejected at run time. */
export type LevelInput = LevelName | (string & {});

export interface LoggingOptions {
  level?: LevelInput;
  /** Levels by logger-name prefix: `{ data_reduction: "DEBUG" }` covers `data_reduction.tasks`. */
  plugins?: Record<string, LevelInput>;
  /** Also append every line to this file (created with its folder if missing). */
  file?: string;
  /** The pipeline root: names of non-plugin modules are relative to it; `file` resolves against it. Default: cwd. */
  root?: string;
}

interface State {
  level: number;
  /** [prefix, level], longest prefix first. */
  prefixes: Array<[string, number]>;
  /** The lowest level any logger accepts: below it, a call returns at once. */
  floor: number;
  fd: number | undefined;
  root: string;
}

const state: State = { level: LEVELS.INFO, prefixes: [], floor: LEVELS.INFO, fd: undefined, root: process.cwd() };
const levelCache = new Map<string, number>();

/** Sets levels and the log file. Options left out return to their defaults (INFO, none, no file). */
export function configureLogging(options: LoggingOptions = {}): void {
  const level = levelNumber(options.level ?? "INFO", "logging.level");
  const prefixes = Object.entries(options.plugins ?? {})
    .map(([prefix, name]): [string, number] => [prefix, levelNumber(name, `logging.plugins.${prefix}`)])
    .sort((a, b) => b[0].length - a[0].length);
  const root = options.root ?? process.cwd();
  const fd = options.file === undefined ? undefined : openLogFile(resolve(root, options.file));
  if (state.fd !== undefined) closeSync(state.fd);
  Object.assign(state, { level, prefixes, floor: Math.min(level, ...prefixes.map((p) => p[1])), fd, root });
  levelCache.clear();
  siteCache.clear();
}

function levelNumber(name: string, key: string): number {
  const found = LEVELS[String(name).toUpperCase() as LevelName];
  if (found === undefined) throw new Error(`${key}: expected one of ${Object.keys(LEVELS).join(", ")}, got ${JSON.stringify(name)}`);
  return found;
}

function openLogFile(path: string): number {
  try {
    mkdirSync(dirname(path), { recursive: true });
    return openSync(path, "a");
  } catch (err) {
    throw new Error(`logging.file: cannot open ${path}: ${(err as Error).message.split("\n")[0]}`);
  }
}

/** The level in force for a logger name: the longest matching prefix (`a` covers `a` and `a.b`), else the global level. */
function levelFor(name: string): number {
  let found = levelCache.get(name);
  if (found === undefined) {
    found = state.level;
    for (const [prefix, level] of state.prefixes) {
      if (name === prefix || name.startsWith(`${prefix}.`)) {
        found = level;
        break;
      }
    }
    levelCache.set(name, found);
  }
  return found;
}

function write(name: string, site: string, level: LevelName, message: unknown, more: readonly unknown[]): void {
  const line = formatLine(new Date(), name, site, level, formatMessage(message, more));
  process.stderr.write(line);
  if (state.fd !== undefined) writeSync(state.fd, line);
}

// ---- the caller's module and position -------------------------------------------------------

interface Origin {
  name: string;
  site: string;
}

const UNKNOWN_ORIGIN: Origin = { name: "root", site: "-" };
const siteCache = new Map<string, Origin>();

interface Position {
  file: string;
  line: number;
  column: number;
}

/** The module and `file.ts:line` of whoever called `method`. */
function callerOrigin(method: Function): Origin {
  const pos = callerPosition(method);
  if (!pos) return UNKNOWN_ORIGIN;
  const key = `${pos.file}:${pos.line}:${pos.column}`;
  let origin = siteCache.get(key);
  if (origin === undefined) {
    const original = originalPosition(pos.file, pos.line, pos.column);
    const path = original?.file ?? (pos.file.startsWith("file://") ? decodeURI(new URL(pos.file).pathname) : pos.file);
    origin = { name: loggerNameFor(path, state.root), site: `${basename(path)}:${original?.line ?? pos.line}` };
    siteCache.set(key, origin);
  }
  return origin;
}

/**
 * The caller's position from a structured V8 frame (the generated position in a bundle; mapped
 * later). When a stack formatter is already installed (vitest/vite, source-map-support), its
 * formatting of that frame is used instead: it knows the in-memory source maps of the code it
 * transformed, which are on no disk.
 */
function callerPosition(method: Function): Position | undefined {
  const installed = Error.prepareStackTrace;
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 1;
  Error.prepareStackTrace = (_error, frames) => frames;
  const holder: { stack?: NodeJS.CallSite[] } = {};
  let frame: NodeJS.CallSite | undefined;
  try {
    Error.captureStackTrace(holder, method);
    frame = holder.stack?.[0]; // V8 formats lazily, on first access: read it before restoring
  } finally {
    Error.prepareStackTrace = installed;
    Error.stackTraceLimit = limit;
  }
  const file = frame?.getFileName();
  if (!frame || !file) return undefined;
  const raw = { file, line: frame.getLineNumber() ?? 0, column: frame.getColumnNumber() ?? 0 };
  return installed ? (formattedPosition(installed, frame) ?? raw) : raw;
}

const FORMATTED_FRAME = /(?:\(|\bat )((?:file:\/\/)?[^\s()]+?):(\d+):(\d+)\)?\s*$/;

function formattedPosition(
  prepare: NonNullable<typeof Error.prepareStackTrace>,
  frame: NodeJS.CallSite,
): Position | undefined {
  try {
    const text: unknown = prepare({ name: "Error", message: "" } as Error, [frame]);
    const found = typeof text === "string" ? FORMATTED_FRAME.exec(text) : null;
    return found ? { file: found[1]!, line: Number(found[2]), column: Number(found[3]) } : undefined;
  } catch {
    return undefined;
  }
}

// ---- the loggers ----------------------------------------------------------------------------

function siteMethod(level: LevelName): LogMethod {
  const threshold = LEVELS[level];
  const method: LogMethod = (message, ...more) => {
    if (threshold < state.floor) return;
    const origin = callerOrigin(method);
    if (threshold < levelFor(origin.name)) return;
    write(origin.name, origin.site, level, message, more);
  };
  return method;
}

const warning = siteMethod("WARNING");

/** The logger for task and plugin code: named after the calling module. */
export const logger: Logger = {
  debug: siteMethod("DEBUG"),
  info: siteMethod("INFO"),
  warning,
  warn: warning,
  error: siteMethod("ERROR"),
  critical: siteMethod("CRITICAL"),
};

const named = new Map<string, Logger>();

/** A logger with a fixed name (e.g. `"outflow.runtime"`) for framework messages; its site is `-`. */
export function getLogger(name: string): Logger {
  let found = named.get(name);
  if (found === undefined) {
    const method = (level: LevelName): LogMethod => (message, ...more) => {
      if (LEVELS[level] < state.floor || LEVELS[level] < levelFor(name)) return;
      write(name, "-", level, message, more);
    };
    const warn = method("WARNING");
    found = { debug: method("DEBUG"), info: method("INFO"), warning: warn, warn, error: method("ERROR"), critical: method("CRITICAL") };
    named.set(name, found);
  }
  return found;
}
