import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, statSync, writeFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import * as templates from "./templates/pipeline.js";

/** A problem with what the user asked for: printed as one line, exit code 2. */
export class InitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InitError";
  }
}

export interface InitOptions {
  /** The folder to create (or fill), absolute or relative to `cwd`. */
  dir: string;
  /** The outflow package the new pipeline depends on (this checkout, or the installed package). */
  outflowRoot: string;
  /** Write into a non-empty folder (skeleton files are overwritten, others are kept). */
  force?: boolean;
  cwd?: string;
}

export interface InitResult {
  root: string;
  /** Files written, relative to `root`. */
  files: string[];
  outflowSpec: string;
}

const DEFAULT_DEV_VERSIONS = { vitest: "4.1.12", typescript: "6.0.3", typesNode: "20.19.43" };

/**
 * How the new pipeline depends on outflow: a registry range when outflow itself was installed from the
 * registry (it sits in a node_modules folder), else `file:` this checkout (npm links it).
 */
export function outflowDependency(outflowRoot: string): string {
  const real = realpathSync(outflowRoot);
  const pkg = JSON.parse(readFileSync(join(real, "package.json"), "utf8")) as { version: string };
  return real.split(/[\\/]/).includes("node_modules") ? `^${pkg.version}` : `file:${real}`;
}

/** The dev tool versions outflow itself is tested with, so `npm install` finds them in the npm cache. */
function devVersions(outflowRoot: string): typeof DEFAULT_DEV_VERSIONS {
  const pkg = JSON.parse(readFileSync(join(outflowRoot, "package.json"), "utf8")) as { devDependencies?: Record<string, string> };
  const dev = pkg.devDependencies ?? {};
  return {
    vitest: dev.vitest ?? DEFAULT_DEV_VERSIONS.vitest,
    typescript: dev.typescript ?? DEFAULT_DEV_VERSIONS.typescript,
    typesNode: dev["@types/node"] ?? DEFAULT_DEV_VERSIONS.typesNode,
  };
}

/** `my pipeline` → `my-pipeline`: a valid npm package name from a folder name. */
export function packageName(folder: string): string {
  const name = folder
    .toLowerCase()
    .replace(/[^a-z0-9._~-]+/g, "-")
    .replace(/^[._-]+/, "")
    .replace(/-+$/, "");
  return name || "pipeline";
}

/** `outflow init <dir>`: writes a pipeline skeleton. Refuses a non-empty folder unless `force`. */
export function initPipeline(opts: InitOptions): InitResult {
  const root = resolve(opts.cwd ?? process.cwd(), opts.dir);
  if (existsSync(root)) {
    if (!statSync(root).isDirectory()) throw new InitError(`${opts.dir} exists and is not a folder`);
    const entries = readdirSync(root).filter((e) => e !== ".git");
    if (entries.length && !opts.force) throw new InitError(`${opts.dir} is not empty (${entries.length} entr${entries.length === 1 ? "y" : "ies"}); use --force to write the pipeline files into it anyway`);
  }
  const outflowSpec = outflowDependency(opts.outflowRoot);
  const input: templates.PipelineTemplateInput = { packageName: packageName(basename(root)), outflowSpec, devVersions: devVersions(opts.outflowRoot) };
  const files: Record<string, string> = {
    "package.json": templates.packageJson(input),
    "tsconfig.json": templates.tsconfigJson(),
    "outflow.config.ts": templates.outflowConfig(),
    "vitest.config.ts": templates.vitestConfig(),
    ".gitignore": templates.gitignore(),
    "README.md": templates.readme({ title: basename(root) }),
    "plugins/.gitkeep": "",
    "test/README.md": templates.testReadme(),
  };
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(join(root, rel, ".."), { recursive: true });
    writeFileSync(join(root, rel), text);
  }
  return { root, files: Object.keys(files), outflowSpec };
}
