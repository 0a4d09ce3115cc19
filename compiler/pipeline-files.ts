import { existsSync, readdirSync, rmSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import * as esbuild from "esbuild";
import { sharedBundleOptions } from "./bundle-options.js";

export const CONFIG_FILE = "outflow.config.ts";

/** Folders of a plugin that hold no tasks or commands. */
const SKIP_DIRS = new Set(["models", "migrations", "test", "tests", "node_modules", "__fixtures__"]);

/** The pipeline root: the nearest folder up from `start` with an outflow.config.ts (else a package.json). */
export function findPipelineRoot(start: string): string {
  for (const marker of [CONFIG_FILE, "package.json"]) {
    let dir = start;
    for (;;) {
      if (existsSync(join(dir, marker))) return dir;
      const up = join(dir, "..");
      if (up === dir) break;
      dir = up;
    }
  }
  return start;
}

/** `plugins` in outflow.config.ts is not a list of names. */
export class PluginListError extends Error {}

/** Reads `plugins` from outflow.config.ts by evaluating it (bundled, so it may import anything). */
export async function readPluginList(root: string, outflowRoot: string, cacheDir: string): Promise<string[] | null> {
  const file = join(root, CONFIG_FILE);
  if (!existsSync(file)) return null;
  const outfile = join(cacheDir, `config-${Date.now()}.mjs`);
  await esbuild.build({ ...sharedBundleOptions(outflowRoot), entryPoints: [file], outfile, write: true });
  let mod: { default?: { plugins?: unknown } };
  try {
    mod = (await import(pathToFileURL(outfile).href)) as typeof mod;
  } finally {
    rmSync(outfile, { force: true });
  }
  const plugins = mod.default?.plugins;
  if (plugins === undefined) return [];
  if (!Array.isArray(plugins) || plugins.some((p) => typeof p !== "string")) throw new PluginListError("plugins must be a list of plugin folder names");
  return plugins as string[];
}

/** The task/command modules of a plugin: every .ts file outside models/, migrations/ and tests. */
export function pluginModules(root: string, plugin: string): string[] {
  const dir = join(root, "plugins", ...plugin.split("."));
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) {
        if (!SKIP_DIRS.has(name)) walk(p);
      } else if (name.endsWith(".ts") && !name.endsWith(".d.ts") && !/\.(test|spec)\.ts$/.test(name)) {
        out.push(relative(root, p).split("\\").join("/"));
      }
    }
  };
  walk(dir);
  return out;
}

export function pluginDir(root: string, plugin: string): string {
  return join(root, "plugins", ...plugin.split("."));
}
