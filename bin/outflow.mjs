#!/usr/bin/env node
// The `outflow` command. The compiler is TypeScript: compile it once with esbuild into a cache (rebuilt
// when a source file changes), then run it. ts-morph and esbuild stay external, loaded from node_modules.
import { existsSync, mkdirSync, readdirSync, renameSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { tmpdir } from "node:os";
import { createRequire } from "node:module";
import { createHash } from "node:crypto";

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

const requireHere = createRequire(join(outflowRoot, "package.json"));
const externalPackagesByPath = {
  name: "external-packages-by-path",
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith("node:")) return { path: args.path, external: true };
      return { path: pathToFileURL(requireHere.resolve(args.path)).href, external: true };
    });
  },
};

async function compilerModule() {
  // OUTFLOW_CLI_CACHE: another cache folder (the tests use a fresh one).
  let cache = process.env.OUTFLOW_CLI_CACHE || join(outflowRoot, "node_modules", ".cache", "outflow-cli");
  try {
    mkdirSync(cache, { recursive: true });
  } catch {
    cache = join(tmpdir(), "outflow-cli");
    mkdirSync(cache, { recursive: true });
  }
  // One compiled CLI per outflow checkout: two checkouts sharing a node_modules (a symlink) never run
  // each other's compiler.
  const out = join(cache, `cli-${createHash("sha256").update(outflowRoot).digest("hex").slice(0, 12)}.mjs`);
  if (!existsSync(out) || statSync(out).mtimeMs < newestSource()) {
    const esbuild = await import("esbuild");
    const result = await esbuild.build({
      entryPoints: [join(outflowRoot, "compiler/cli.ts")],
      outfile: out,
      write: false,
      bundle: true,
      platform: "node",
      target: "node20",
      format: "esm",
      absWorkingDir: outflowRoot,
      // Packages stay external, imported by absolute path: the cached CLI then runs from any cache folder
      // (the tmpdir fallback of a read-only install, OUTFLOW_CLI_CACHE) with outflow's own node_modules.
      plugins: [externalPackagesByPath],
      logLevel: "error",
    });
    // Written aside, then renamed into place: concurrent `outflow` processes (parallel builds, test
    // workers) never import a half-written file, and the last rename wins with a complete one.
    const tmp = `${out}.${process.pid}.tmp`;
    writeFileSync(tmp, result.outputFiles[0].contents);
    renameSync(tmp, out);
  }
  return import(pathToFileURL(out).href);
}

const { run } = await compilerModule();
process.exitCode = await run(process.argv.slice(2), outflowRoot);
