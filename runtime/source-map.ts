/**
 * Maps positions in generated JS (an esbuild bundle or chunk) back to the original source, with
 * `node:module`'s built-in `SourceMap`. Each generated file's map is loaded lazily, once.
 */
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync } from "node:fs";
import { SourceMap, type SourceMapPayload } from "node:module";
import { dirname, isAbsolute, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export interface OriginalPosition {
  /** Original source: an absolute path when the map's source is a relative path or file URL, else as written. */
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
}

interface LoadedMap {
  map: SourceMap;
  /** Directory against which the map's (sourceRoot-prefixed) sources resolve. */
  dir: string;
  sourceRoot: string;
}

const maps = new Map<string, LoadedMap | null>();

/** Files that are already original source (run by vitest/tsx) or have no map to find. */
const NOT_GENERATED = /\.(?:[cm]?tsx?)$|^node:|^<|^(?:https?|data):/;

/** `line`/`column` are 1-based positions in `file` (absolute path or `file://` URL). */
export function originalPosition(file: string, line: number, column: number): OriginalPosition | undefined {
  const path = toPath(file);
  if (path === undefined || NOT_GENERATED.test(path)) return undefined;
  const loaded = mapFor(path);
  if (!loaded) return undefined;
  const entry = loaded.map.findEntry(line - 1, Math.max(column - 1, 0)) as Partial<SourceMapEntryLike>;
  if (entry.originalSource === undefined || entry.originalLine === undefined) return undefined;
  return {
    file: resolveSource(loaded, entry.originalSource),
    line: entry.originalLine + 1,
    column: (entry.originalColumn ?? 0) + 1,
  };
}

interface SourceMapEntryLike {
  originalSource: string;
  originalLine: number;
  originalColumn: number;
}

/** A stack frame location: `(file:L:C)` or `at file:L:C` at the end of a line. */
const FRAME = /(\(|\bat )((?:file:\/\/)?[^\s()]+?):(\d+):(\d+)(\)?)$/gm;

/** Rewrites the generated-JS frames of a formatted error stack to original source positions. */
export function mapStack(stack: string): string {
  return stack.replace(FRAME, (match, open: string, file: string, line: string, column: string, close: string) => {
    const pos = originalPosition(file, Number(line), Number(column));
    return pos ? `${open}${pos.file}:${pos.line}:${pos.column}${close}` : match;
  });
}

function toPath(file: string): string | undefined {
  if (file.startsWith("file://")) {
    try {
      return fileURLToPath(file);
    } catch {
      return undefined;
    }
  }
  return file;
}

function mapFor(path: string): LoadedMap | null {
  let loaded = maps.get(path);
  if (loaded === undefined) {
    try {
      loaded = loadMap(path);
    } catch {
      loaded = null; // unreadable or malformed map: fall back to generated positions
    }
    maps.set(path, loaded);
  }
  return loaded;
}

function loadMap(path: string): LoadedMap | null {
  const url = sourceMappingUrl(path);
  if (url?.startsWith("data:")) {
    const comma = url.indexOf(",");
    const body = url.slice(comma + 1);
    const json = /;base64$/.test(url.slice(0, comma)) ? Buffer.from(body, "base64").toString("utf8") : decodeURIComponent(body);
    return fromPayload(JSON.parse(json), dirname(path));
  }
  const mapPath = url ? (url.startsWith("file://") ? fileURLToPath(url) : resolve(dirname(path), decodeURI(url))) : `${path}.map`;
  if (!existsSync(mapPath)) return null;
  return fromPayload(JSON.parse(readFileSync(mapPath, "utf8")), dirname(mapPath));
}

function fromPayload(payload: SourceMapPayload & { sourceRoot?: string }, dir: string): LoadedMap {
  return { map: new SourceMap(payload), dir, sourceRoot: payload.sourceRoot ?? "" };
}

const TAIL_BYTES = 4096;
const MAPPING_URL = /^\/\/[#@] sourceMappingURL=(\S+)\s*$/gm;

/** The `//# sourceMappingURL=` of a generated file, read from its end (whole file only for inline maps). */
function sourceMappingUrl(path: string): string | undefined {
  const fd = openSync(path, "r");
  let tail: string;
  try {
    const size = fstatSync(fd).size;
    const length = Math.min(size, TAIL_BYTES);
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, size - length);
    tail = buffer.toString("utf8");
  } finally {
    closeSync(fd);
  }
  const found = lastMappingUrl(tail);
  if (found !== undefined || !tail.includes("sourceMappingURL=data:")) return found;
  return lastMappingUrl(readFileSync(path, "utf8"));
}

function lastMappingUrl(text: string): string | undefined {
  let url: string | undefined;
  for (const match of text.matchAll(MAPPING_URL)) url = match[1];
  return url;
}

function resolveSource(loaded: LoadedMap, written: string): string {
  // Node 20's SourceMap leaves sourceRoot off `originalSource`; later versions may prefix it.
  const root = loaded.sourceRoot;
  const source = root !== "" && !written.startsWith(root) ? `${root.replace(/\/?$/, "/")}${written}` : written;
  if (source.startsWith("file://")) return fileURLToPath(source);
  if (/^[a-z][a-z0-9+.-]*:/i.test(source) && !/^[a-z]:[\\/]/i.test(source)) return source;
  if (isAbsolute(source)) return source;
  return resolve(loaded.dir, source);
}
