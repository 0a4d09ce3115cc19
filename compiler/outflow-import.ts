import { ts, type Project, type SourceFile } from "ts-morph";
import type { Diagnostic } from "../contract/diagnostic.js";
import { siteOf } from "./signatures.js";

/**
 * OF141: a pipeline module's `import … from "outflow"` that the TypeScript checker cannot resolve with the
 * project's tsconfig.json. esbuild may still find the package (it ignores `moduleResolution`), so the build
 * would go on with every outflow type unknown: no task would have an `IterateOn` and every map would be
 * reported as having nothing to iterate. This names the real cause instead, at the import.
 */
export function unresolvedOutflowImports(project: Project, files: SourceFile[], root: string, hasTsconfig: boolean): Diagnostic[] {
  const found: Diagnostic[] = [];
  let bare = false;
  for (const file of files) {
    for (const decl of file.getImportDeclarations()) {
      const specifier = decl.getModuleSpecifierValue();
      if (specifier !== "outflow" && !specifier.startsWith("outflow/")) continue;
      if (decl.getModuleSpecifierSourceFile()) continue;
      bare ||= specifier === "outflow";
      const resolution = project.getCompilerOptions().moduleResolution;
      const kind = resolution === undefined ? "its default" : `"${ts.ModuleResolutionKind[resolution]?.toLowerCase() ?? resolution}"`;
      found.push({
        code: "OF141",
        message:
          `TypeScript cannot resolve "${specifier}" here with ${hasTsconfig ? "tsconfig.json" : "the default compiler options"} (moduleResolution ${kind}), so no task type can be read. ` +
          `Install outflow in this project's node_modules, or use the tsconfig.json that \`outflow init\` writes (moduleResolution "bundler").`,
        site: siteOf(decl.getModuleSpecifier(), root),
      });
    }
  }
  // Only when "outflow" itself does not resolve is the setup at fault; a subpath that does not resolve
  // while "outflow" does (a typo, `outflow/nope`) is an ordinary unresolved import, which esbuild reports (OF140).
  return bare ? found : [];
}
