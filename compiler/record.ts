import { spawnSync } from "node:child_process";
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
}

export interface Recorded {
  commands: RecordedCommand[];
  taskIds: string[];
  importError?: { message: string; site: Site };
  /** The recording process itself ended (a timeout, a crash): why, with no position in the sources. */
  failure?: string;
}

const SETUP_TIMEOUT_MS = 20_000;

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
  const r = spawnSync(process.execPath, [child, outfile, opts.root], {
    encoding: "utf8",
    timeout: SETUP_TIMEOUT_MS,
    env: { PATH: process.env.PATH ?? "", OUTFLOW_RECORDING: "1" },
    maxBuffer: 256 * 1024 * 1024,
  });
  if (r.error || r.status !== 0) {
    // The pipeline's own code ended the recording (an endless loop, a crash of the process): no position.
    const stderr = (r.stderr ?? "").trim().split("\n").slice(0, 5).join("\n");
    const overflow = (r.error as NodeJS.ErrnoException | undefined)?.code === "ENOBUFS";
    const why =
      overflow ? "it printed more than 256 MiB (a module or setup() writing to stdout?)"
      : r.signal === "SIGTERM" && r.error ? `it timed out after ${SETUP_TIMEOUT_MS / 1000} s (an endless loop in setup() or at a module's top level?)`
      : r.signal ? `its process was killed by ${r.signal}${stderr ? `: ${stderr}` : ""}`
      : r.status !== null ? `its process exited with code ${r.status}${stderr ? `: ${stderr}` : ""}`
      : String(r.error);
    return { commands: [], taskIds: [], failure: why };
  }
  return JSON.parse(r.stdout) as Recorded;
}
