import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Diagnostic } from "../../contract/diagnostic.js";
import { build, type BuildResult } from "../../compiler/build.js";
import { tsconfigJson } from "../../compiler/templates/pipeline.js";

/** The outflow package root (this file is test/helpers/pipeline-fixture.ts). */
export const repoRoot = fileURLToPath(new URL("../..", import.meta.url)).replace(/\/$/, "");

const DEFAULT_CONFIG = `import { defineConfig } from "outflow";\n\nexport default defineConfig({ plugins: ["p"] });\n`;

/**
 * The tsconfig `outflow init` writes, with "outflow" mapped to this repo's sources (a fixture has no
 * node_modules/outflow of its own).
 */
export function fixtureTsconfig(): string {
  const config = JSON.parse(tsconfigJson()) as { compilerOptions: Record<string, unknown> };
  config.compilerOptions.paths = { outflow: [join(repoRoot, "runtime/index.ts")], "outflow/models": [join(repoRoot, "runtime/models.ts")], "outflow/migrations": [join(repoRoot, "runtime/migrations.ts")] };
  return JSON.stringify(config, null, 2);
}

const created: string[] = [];

/**
 * Writes a throwaway pipeline root under the OS temp dir: the given files (paths relative to the root)
 * plus a default `outflow.config.ts` (plugin "p") and `tsconfig.json` ("outflow" → this repo's runtime).
 *
 * `node_modules` is a real folder whose entries are symlinks to this repo's node_modules (so @types/node
 * and the runtime's dependencies resolve), not one symlink to the whole folder: the build keeps its cache
 * in `<root>/node_modules/.cache/outflow/` under a fixed file name, and fixtures built in parallel must
 * not share it.
 */
export function makePipeline(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "outflow-fixture-"));
  created.push(root);
  const all: Record<string, string> = { "outflow.config.ts": DEFAULT_CONFIG, "tsconfig.json": fixtureTsconfig(), ...files };
  for (const [rel, text] of Object.entries(all)) {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), text);
  }
  const modules = join(root, "node_modules");
  mkdirSync(modules, { recursive: true });
  for (const name of readdirSync(join(repoRoot, "node_modules"))) {
    if (name === ".cache") continue;
    symlinkSync(join(repoRoot, "node_modules", name), join(modules, name), "dir");
  }
  return root;
}

/** `outflow build --check` on a pipeline root: the diagnostics, nothing written. */
export async function checkPipeline(root: string): Promise<Diagnostic[]> {
  return (await build({ root, outflowRoot: repoRoot, check: true })).diagnostics;
}

/** A full `outflow build` (generated/ and dist/ are written when there are no diagnostics). */
export function buildPipeline(root: string): Promise<BuildResult> {
  return build({ root, outflowRoot: repoRoot });
}

/** Removes every pipeline made by this process (call from afterAll). */
export function removePipelines(): void {
  for (const root of created.splice(0)) rmSync(root, { recursive: true, force: true });
}

/**
 * 1-based line and column of the first occurrence of `snippet` in `source` (after `after`, when given):
 * tests locate the expected position by its text, so the fixture can be edited without renumbering.
 */
export function locate(source: string, snippet: string, after?: string): { line: number; column: number } {
  const from = after === undefined ? 0 : source.indexOf(after);
  if (from < 0) throw new Error(`locate: ${JSON.stringify(after)} not found`);
  const at = source.indexOf(snippet, from);
  if (at < 0) throw new Error(`locate: ${JSON.stringify(snippet)} not found${after ? ` after ${JSON.stringify(after)}` : ""}`);
  if (after === undefined && source.indexOf(snippet, at + 1) >= 0) throw new Error(`locate: ${JSON.stringify(snippet)} is not unique; give \`after\``);
  const before = source.slice(0, at).split("\n");
  return { line: before.length, column: before[before.length - 1].length + 1 };
}

/** Lines [from, to) of the declaration `export const <name> = command(` in `source`, up to the next top-level `export const`. */
export function commandLines(source: string, name: string): [number, number] {
  const start = `export const ${name} = command(`;
  const from = locate(source, start).line;
  const next = source.indexOf("\nexport const ", source.indexOf(start) + 1);
  return [from, next < 0 ? Infinity : source.slice(0, next).split("\n").length];
}

/** The diagnostics located in that declaration of one command, in `file` (the commands module, by default). */
export function diagnosticsOfCommand(diagnostics: Diagnostic[], source: string, name: string, file = "plugins/p/commands.ts"): Diagnostic[] {
  const [from, to] = commandLines(source, name);
  return diagnostics.filter((d) => d.site.file === file && d.site.line >= from && d.site.line < to);
}
