/**
 * Reads one per-instance config file (YAML or JSON, by extension): resolves `!include other.yml`
 * (relative to the including file, nested, cycles rejected) and `${env:NAME}` / `${env:NAME:-default}` in
 * string values.
 * Every error is a one-line `ConfigError` naming the file and the key or position.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, extname, isAbsolute, relative, resolve } from "node:path";
import { LineCounter, parseDocument, visit, type ScalarTag } from "yaml";
import { formatPath } from "./describe.js";
import { ConfigError } from "./errors.js";

export interface ReadOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
}

/** Where an included file's content landed: key path inside the including file → included file. */
export interface IncludeOrigin {
  path: string[];
  file: string;
}

export interface ReadResult {
  value: unknown;
  /** Included subtrees (nested includes flattened), by key path from this file's root. */
  origins: IncludeOrigin[];
}

/** A file path as shown in messages: relative to cwd when inside it, else absolute. */
export function displayPath(absPath: string, cwd: string): string {
  const rel = relative(cwd, absPath);
  return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel) ? rel : absPath;
}

export function readConfigFile(absPath: string, opts: ReadOptions): ReadResult {
  return readFile(absPath, opts, []);
}

/** A `!include` placeholder left in the parsed tree until the included file is read. */
class Include {
  line = 0;
  column = 0;
  constructor(readonly target: string) {}
}

const includeTag: ScalarTag = {
  tag: "!include",
  resolve: (value: string) => new Include(value.trim()),
};

function readFile(absPath: string, opts: ReadOptions, chain: string[]): ReadResult {
  const name = displayPath(absPath, opts.cwd);
  const ext = extname(absPath).toLowerCase();
  if (ext !== ".yml" && ext !== ".yaml" && ext !== ".json") {
    throw new ConfigError(`${name}: unsupported config file type "${ext || "(none)"}" (use .yml, .yaml or .json)`);
  }
  let text: string;
  try {
    text = readFileSync(absPath, "utf8");
  } catch (err) {
    throw new ConfigError(`${name}: cannot read: ${(err as Error).message.split("\n")[0]}`);
  }
  const parsed = ext === ".json" ? parseJson(text, name) : parseYaml(text, name);
  const origins: IncludeOrigin[] = [];
  const value = resolveTree(parsed, [], { absPath, name, opts, chain: [...chain, absPath], origins });
  return { value, origins };
}

function parseJson(text: string, name: string): unknown {
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    const message = (err as Error).message;
    const at = /at position (\d+)/.exec(message);
    const reason = message.replace(/\s*in JSON at position \d+.*$/s, "").replace(/\s*\(line \d+ column \d+\)$/, "");
    if (!at) throw new ConfigError(`${name}: bad JSON: ${reason}`);
    const { line, column } = lineColumn(text, Number(at[1]));
    throw new ConfigError(`${name}:${line}:${column}: bad JSON: ${reason}`);
  }
}

function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  return { line, column: offset - before.lastIndexOf("\n") };
}

function parseYaml(text: string, name: string): unknown {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { customTags: [includeTag], lineCounter, prettyErrors: false, merge: true });
  const problems = [...doc.errors, ...doc.warnings.filter((w) => w.code === "TAG_RESOLVE_FAILED")];
  if (problems.length > 0) {
    const first = problems[0]!;
    const pos = lineCounter.linePos(first.pos[0]);
    const reason = first.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
    throw new ConfigError(`${name}:${pos.line}:${pos.col}: bad YAML: ${reason}`);
  }
  visit(doc, {
    Scalar(_key, node) {
      if (node.value instanceof Include && node.range) {
        const tagAt = text.lastIndexOf("!include", node.range[0]);
        const pos = lineCounter.linePos(tagAt >= 0 ? tagAt : node.range[0]);
        node.value.line = pos.line;
        node.value.column = pos.col;
      }
    },
  });
  return doc.toJS({ maxAliasCount: 1000 });
}

interface ResolveContext {
  absPath: string;
  name: string;
  opts: ReadOptions;
  chain: string[];
  origins: IncludeOrigin[];
}

/** Interpolates `${env:NAME}` in this file's strings and replaces `!include` nodes, depth first. */
function resolveTree(value: unknown, path: string[], ctx: ResolveContext): unknown {
  if (typeof value === "string") return interpolate(value, path, ctx);
  if (value instanceof Include) return include(value, path, ctx);
  if (Array.isArray(value)) return value.map((item, i) => resolveTree(item, [...path, String(i)], ctx));
  if (value !== null && typeof value === "object" && !(value instanceof Date)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = resolveTree(v, [...path, k], ctx);
    return out;
  }
  return value;
}

const ENV_REF = /\$\{env:([^}]*)\}/g;

function interpolate(text: string, path: string[], ctx: ResolveContext): string {
  if (!text.includes("${env:")) return text;
  return text.replace(ENV_REF, (_match, raw: string) => {
    // `${env:NAME:-default}`: the default when NAME is unset or empty (as in the shell).
    const split = raw.indexOf(":-");
    const rawName = split < 0 ? raw : raw.slice(0, split);
    const fallback = split < 0 ? undefined : raw.slice(split + 2);
    const varName = rawName.trim();
    const where = `${ctx.name}: ${formatPath(path) || "(top level)"}`;
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(varName)) {
      throw new ConfigError(`${where}: bad environment reference "\${env:${raw}}" (expected \${env:NAME} or \${env:NAME:-default})`);
    }
    const found = ctx.opts.env[varName];
    if (fallback !== undefined && (found === undefined || found === "")) return fallback;
    if (found === undefined) throw new ConfigError(`${where}: environment variable ${varName} is not set (give a default with \${env:${varName}:-default})`);
    return found;
  });
}

function include(ref: Include, path: string[], ctx: ResolveContext): unknown {
  const where = `${ctx.name}:${ref.line}:${ref.column}`;
  if (ref.target === "") throw new ConfigError(`${where}: !include needs a file path`);
  const target = resolve(dirname(ctx.absPath), interpolate(ref.target, path, ctx));
  if (ctx.chain.includes(target)) {
    const cycle = [...ctx.chain.slice(ctx.chain.indexOf(target)), target].map((p) => displayPath(p, ctx.opts.cwd));
    throw new ConfigError(`${where}: include cycle: ${cycle.join(" → ")}`);
  }
  if (!existsSync(target)) throw new ConfigError(`${where}: included file not found: ${displayPath(target, ctx.opts.cwd)}`);
  const included = readFile(target, ctx.opts, ctx.chain);
  ctx.origins.push({ path, file: displayPath(target, ctx.opts.cwd) });
  for (const o of included.origins) ctx.origins.push({ path: [...path, ...o.path], file: o.file });
  return included.value;
}
