import { createRequire } from "node:module";
import { join } from "node:path";
import type { BuildOptions, Plugin } from "esbuild";

/**
 * The esbuild settings every outflow bundle shares: `outflow` resolves to this package's runtime, the
 * runtime's own dependencies resolve from this package even when the pipeline lacks them, and
 * better-sqlite3 loads its native addon from beside the bundle.
 */
export function sharedBundleOptions(outflowRoot: string): BuildOptions {
  return {
    bundle: true,
    platform: "node",
    target: "node20",
    format: "esm",
    alias: {
      outflow: join(outflowRoot, "runtime/index.ts"),
      "outflow/testing": join(outflowRoot, "runtime/testing/index.ts"),
      "outflow/models": join(outflowRoot, "runtime/models.ts"),
      "outflow/migrations": join(outflowRoot, "runtime/migrations.ts"),
      // yaml's ESM build evaluates in ~3 ms; its CommonJS build (the default for node) costs ~20 ms at start-up.
      yaml: join(outflowRoot, "node_modules/yaml/browser/index.js"),
    },
    nodePaths: [join(outflowRoot, "node_modules")],
    external: ["pg-native", "pg-query-stream", "libsql", "mariadb", "mariadb/callback", "mysql", "mysql2", "oracledb", "sqlite3", "tedious"],
    plugins: [nativeAddonPlugin],
    define: { "process.env.MIKRO_ORM_ALLOW_VERSION_MISMATCH": '"1"' },
    banner: {
      js: [
        `import { createRequire as __outflowCreateRequire } from "node:module";`,
        `import { fileURLToPath as __outflowFileURLToPath } from "node:url";`,
        `import { dirname as __outflowDirname } from "node:path";`,
        `const require = __outflowCreateRequire(import.meta.url);`,
        `const __filename = __outflowFileURLToPath(import.meta.url);`,
        `const __dirname = __outflowDirname(__filename);`,
      ].join("\n"),
    },
    logLevel: "silent",
  };
}

/** better-sqlite3 finds its addon through `bindings` (stack walking); load it from beside the bundle instead. */
const nativeAddonPlugin: Plugin = {
  name: "outflow-native-addon",
  setup(build) {
    build.onResolve({ filter: /^bindings$/ }, () => ({ path: "bindings", namespace: "outflow-native" }));
    build.onLoad({ filter: /.*/, namespace: "outflow-native" }, () => ({
      loader: "js",
      contents: `const { join } = require("node:path"); const { existsSync } = require("node:fs");
module.exports = (name) => {
  const file = name.endsWith(".node") ? name : name + ".node";
  const top = join(process.env.OUTFLOW_BUNDLE_DIR || __dirname, file);
  return require(existsSync(top) ? top : join(__dirname, "..", file));
};`,
    }));
  },
};

/** Path of the compiled better-sqlite3 addon that travels with the bundles. */
export function betterSqliteAddon(outflowRoot: string): string {
  const require = createRequire(join(outflowRoot, "package.json"));
  return join(require.resolve("better-sqlite3/package.json"), "..", "build/Release/better_sqlite3.node");
}
