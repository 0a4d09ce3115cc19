import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import * as esbuild from "esbuild";
import type { ArgSpec, GraphSpec, Site } from "../contract/manifest.js";
import { sharedBundleOptions } from "./bundle-options.js";

export interface RecordedCommand {
  source: string;
  site: Site;
  name: string;
  path: string[];
  description: string;
  invokable: boolean;
  args: Record<string, ArgSpec>;
  db: boolean;
  backend?: string;
  subcommands: string[];
  graph: GraphSpec | null;
  argsRead: string[];
  error?: { message: string; site: Site };
  /** Its setup() did not return within the timeout (an endless loop): the graph was not recorded. */
  timedOut?: boolean;
  /** The other graphs setup() builds with other values of the booleans and enums it reads (compiler/record-child.mjs). */
  variants?: RecordedVariant[];
  /** Other values of those args with which setup() did not return within the timeout. */
  hungVariants?: Record<string, unknown>[];
}

/** A graph setup() builds when some of its boolean or enum args are not their defaults (`args`: those values). */
export interface RecordedVariant {
  args: Record<string, unknown>;
  graph: GraphSpec;
  /** outflow refused a call of its API in this variant (a GraphError): the graph is what came before it. */
  error?: { message: string; site: Site };
}

export interface Recorded {
  commands: RecordedCommand[];
  taskIds: string[];
  importError?: { message: string; site: Site };
  /** The recording process itself ended (a timeout, a crash): why, with no position in the sources. */
  failure?: string;
}

const SETUP_TIMEOUT_MS = 20_000;

/** The timeout: 20 s (OUTFLOW_RECORD_TIMEOUT_MS sets another, for outflow's own tests). */
export function setupTimeoutMs(): number {
  const set = Number(process.env.OUTFLOW_RECORD_TIMEOUT_MS);
  return Number.isFinite(set) && set > 0 ? set : SETUP_TIMEOUT_MS;
}
const MAX_OUTPUT = 256 * 1024 * 1024;

/** The command whose setup() the recording child runs now (compiler/record-child.mjs writes it on fd 3). */
interface Announced {
  source: string;
  /** The source, and for a variant the args that differ (what the child skips when it is named again). */
  id: string;
  name: string;
  site: Site;
}

interface ChildResult {
  stdout: string;
  stderr: string;
  status: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  overflow: boolean;
  /** The command whose setup() was running when the child ended (none between two setups). */
  current?: Announced;
  spawnError?: Error;
}

/**
 * Records every command's graph by evaluation: bundles the pipeline modules with the runtime's recorder,
 * runs `setup()` of each command in a child process (no task body runs), and maps every node and pipe
 * back to its `file:line:col`.
 */
export async function recordGraphs(opts: { root: string; outflowRoot: string; modules: string[]; cacheDir: string }): Promise<Recorded> {
  mkdirSync(opts.cacheDir, { recursive: true });
  const outfile = join(opts.cacheDir, "record.mjs");
  const lines = [`export * as __record from ${JSON.stringify(join(opts.outflowRoot, "runtime/record-api.ts"))};`];
  opts.modules.forEach((m, i) => lines.push(`import * as m${i} from ${JSON.stringify("./" + m)};`));
  lines.push(`export const __modules = { ${opts.modules.map((m, i) => `${JSON.stringify(m)}: m${i}`).join(", ")} };`);
  await esbuild.build({
    ...sharedBundleOptions(opts.outflowRoot),
    stdin: { contents: lines.join("\n"), resolveDir: opts.root, loader: "ts", sourcefile: "outflow-record-entry.ts" },
    outfile,
    sourcemap: "external",
    // Messages about tasks that are not registered fall back to the function's name: keep it unmangled.
    keepNames: true,
    write: true,
  });
  const child = join(opts.outflowRoot, "compiler/record-child.mjs");
  // A setup() that never returns is named and left out; the others are recorded again without it.
  const hung: Announced[] = [];
  for (;;) {
    const r = await runChild(child, outfile, opts.root, hung.map((h) => h.id));
    if (r.timedOut && r.current && !hung.some((h) => h.id === r.current!.id)) {
      hung.push(r.current);
      continue;
    }
    if (r.spawnError || r.timedOut || r.overflow || r.status !== 0) {
      // The pipeline's own code ended the recording (an endless loop at a module's top level, a crash of the process): no position.
      const stderr = r.stderr.trim().split("\n").slice(0, 5).join("\n");
      const why =
        r.overflow ? "it printed more than 256 MiB (a module or setup() writing to stdout?)"
        : r.timedOut ? `it timed out after ${setupTimeoutMs() / 1000} s (an endless loop at a module's top level?)`
        : r.signal ? `its process was killed by ${r.signal}${stderr ? `: ${stderr}` : ""}`
        : r.status !== null ? `its process exited with code ${r.status}${stderr ? `: ${stderr}` : ""}`
        : String(r.spawnError);
      return { commands: [], taskIds: [], failure: why };
    }
    const recorded = JSON.parse(r.stdout) as Recorded;
    for (const c of recorded.commands) if (hung.some((h) => h.id === c.source)) c.timedOut = true;
    return recorded;
  }
}

/**
 * Runs the recording child: the timeout counts from the start, then again from the start of each
 * command's setup() (the child announces each on fd 3), so a setup() that never returns is the one named.
 */
function runChild(child: string, outfile: string, root: string, skip: string[]): Promise<ChildResult> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [child, outfile, root], {
      stdio: ["ignore", "pipe", "pipe", "pipe"],
      env: { PATH: process.env.PATH ?? "", OUTFLOW_RECORDING: "1", ...(skip.length ? { OUTFLOW_RECORD_SKIP: JSON.stringify(skip) } : {}) },
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let size = 0;
    let progress = "";
    const result: Omit<ChildResult, "stdout" | "stderr" | "status" | "signal"> = { timedOut: false, overflow: false };
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        result.timedOut = true;
        proc.kill("SIGKILL");
      }, setupTimeoutMs());
    };
    arm();
    proc.stdout!.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_OUTPUT) {
        result.overflow = true;
        proc.kill("SIGKILL");
      } else out.push(chunk);
    });
    proc.stderr!.on("data", (chunk: Buffer) => {
      if (err.length < 64) err.push(chunk);
    });
    (proc.stdio[3] as NodeJS.ReadableStream).on("data", (chunk: Buffer) => {
      progress += chunk.toString("utf8");
      let nl: number;
      while ((nl = progress.indexOf("\n")) >= 0) {
        const line = progress.slice(0, nl);
        progress = progress.slice(nl + 1);
        try {
          // A command when its setup() starts, null when it returned.
          result.current = (JSON.parse(line) as Announced | null) ?? undefined;
          arm();
        } catch {
          // Not an announcement: ignore.
        }
      }
    });
    proc.on("error", (error) => {
      result.spawnError = error;
    });
    proc.on("close", (status, signal) => {
      clearTimeout(timer);
      resolve({ ...result, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8"), status, signal });
    });
  });
}
