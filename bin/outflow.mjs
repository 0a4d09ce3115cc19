#!/usr/bin/env node
// The `outflow` command. The compiler is TypeScript: compile it once with esbuild into a cache (rebuilt
// when a source file changes), then run it. ts-morph and esbuild stay external, loaded from node_modules.
import { existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { tmpdir } from "node:os";

const outflowRoot = dirname(dirname(fileURLToPath(import.meta.url)));

function newestSource() {
  let newest = 0;
  for (const dir of ["compiler", "runtime", "contract"]) {
    const walk = (d) => {
      for (const name of readdirSync(d)) {
        const p = join(d, name);
        const s = statSync(p);
        if (s.isDirectory()) walk(p);
        else if (s.mtimeMs > newest) newest = s.mtimeMs;
      }
    };
    walk(join(outflowRoot, dir));
  }
  return newest;
}

async function compilerModule() {
  let cache = join(outflowRoot, "node_modules", ".cache", "outflow-cli");
  try {
    mkdirSync(cache, { recursive: true });
  } catch {
    cache = join(tmpdir(), "outflow-cli");
    mkdirSync(cache, { recursive: true });
  }
  const out = join(cache, "cli.mjs");
  if (!existsSync(out) || statSync(out).mtimeMs < newestSource()) {
    const esbuild = await import("esbuild");
    await esbuild.build({
      entryPoints: [join(outflowRoot, "compiler/cli.ts")],
      outfile: out,
      bundle: true,
      platform: "node",
      target: "node20",
      format: "esm",
      packages: "external",
      absWorkingDir: outflowRoot,
      logLevel: "error",
    });
  }
  return import(pathToFileURL(out).href);
}

const { run } = await compilerModule();
process.exitCode = await run(process.argv.slice(2), outflowRoot);
