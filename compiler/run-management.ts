/**
 * `outflow management ...`: runs the built-in management commands of the pipeline's `dist/manage.js`,
 * building first when the bundle is missing or older than the pipeline's sources (or outflow's own).
 * stdio is shared and the exit code forwarded.
 */
import { spawn } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { constants } from "node:os";
import { join } from "node:path";
import { build, printDiagnostics } from "./build.js";
import { findPipelineRoot } from "./pipeline-files.js";

function newestMtime(paths: string[]): number {
  let newest = 0;
  const visit = (p: string) => {
    if (!existsSync(p)) return;
    const s = statSync(p);
    if (s.isDirectory()) {
      for (const name of readdirSync(p)) if (name !== "node_modules" && !name.startsWith(".")) visit(join(p, name));
    } else if (s.mtimeMs > newest) newest = s.mtimeMs;
  };
  paths.forEach(visit);
  return newest;
}

export function manageBundleIsStale(root: string, outflowRoot: string): boolean {
  const bundle = join(root, "dist", "manage.js");
  if (!existsSync(bundle)) return true;
  const sources = [join(root, "plugins"), join(root, "outflow.config.ts"), ...["runtime", "contract", "compiler", "migrations"].map((d) => join(outflowRoot, d))];
  return newestMtime(sources) > statSync(bundle).mtimeMs;
}

export async function runManagement(argv: string[], outflowRoot: string): Promise<number> {
  const root = findPipelineRoot(process.cwd());
  if (manageBundleIsStale(root, outflowRoot)) {
    process.stderr.write("outflow: dist/manage.js is missing or older than the sources; running outflow build\n");
    const result = await build({ root, outflowRoot });
    if (!result.ok) {
      printDiagnostics(root, result.diagnostics, (s) => process.stderr.write(s));
      return 1;
    }
  }
  const child = spawn(process.execPath, [join(root, "dist", "manage.js"), "management", ...argv], { stdio: "inherit" });
  // Ctrl-C reaches the child through the terminal's process group; the child decides when to stop.
  const ignore = () => {};
  process.on("SIGINT", ignore);
  process.on("SIGTERM", ignore);
  return new Promise((resolve) => {
    child.on("exit", (code, signal) => {
      process.off("SIGINT", ignore);
      process.off("SIGTERM", ignore);
      resolve(code ?? (signal ? 128 + (constants.signals[signal] ?? 0) : 1));
    });
    child.on("error", (error) => {
      process.stderr.write(`error: cannot start dist/manage.js: ${error.message}\n`);
      resolve(1);
    });
  });
}
