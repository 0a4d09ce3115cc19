import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Project, ts, type SourceFile } from "ts-morph";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const TASK_MODULE = join(REPO, "runtime/api/task.js");

/**
 * A ts-morph project over a temp dir whose "outflow" is a re-export of the real runtime/api/task.ts, as
 * runtime/index.ts does (so symbol resolution has to follow the re-export); "zod/mini" is the installed one.
 */
export function taskProject(files: Record<string, string>, prefix = "outflow-tasks-"): { root: string; project: Project; sources: SourceFile[] } {
  const root = mkdtempSync(join(tmpdir(), prefix));
  const all = { "outflow/index.ts": `export { task, type IterateOn } from ${JSON.stringify(TASK_MODULE)};\n`, ...files };
  for (const [rel, text] of Object.entries(all)) {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), text);
  }
  const project = new Project({
    skipAddingFilesFromTsConfig: true,
    compilerOptions: {
      strict: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      lib: ["lib.es2023.d.ts"],
      types: [],
      noEmit: true,
      paths: { outflow: [join(root, "outflow/index.ts")], "zod/mini": [join(REPO, "node_modules/zod/mini/index.d.ts")] },
    },
  });
  const sources = Object.keys(files).map((rel) => project.addSourceFileAtPath(join(root, rel)));
  return { root, project, sources };
}
