/** The pieces of `outflow init` / `create plugin` that the end-to-end test does not reach. */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { InitError, outflowDependency, packageName } from "../../compiler/init.js";
import { createPlugin, pluginNameProblem, registerPlugin } from "../../compiler/create-plugin.js";
import { repoRoot } from "../helpers/pipeline-fixture.js";

const base = mkdtempSync(join(tmpdir(), "outflow-scaffold-"));
afterAll(() => rmSync(base, { recursive: true, force: true }));

function configFile(text: string): string {
  const dir = mkdtempSync(join(base, "p-"));
  writeFileSync(join(dir, "outflow.config.ts"), text);
  return join(dir, "outflow.config.ts");
}

describe("the outflow dependency of a new pipeline", () => {
  it("links a checkout with file:", () => {
    expect(outflowDependency(repoRoot)).toMatch(/^file:\//);
  });

  it("takes a registry range when outflow was installed from the registry", () => {
    const installed = join(base, "node_modules", "outflow");
    mkdirSync(installed, { recursive: true });
    writeFileSync(join(installed, "package.json"), JSON.stringify({ name: "outflow", version: "1.2.3" }));
    expect(outflowDependency(installed)).toBe("^1.2.3");
  });

  it("names the package after the folder", () => {
    expect(packageName("My Pipeline")).toBe("my-pipeline");
    expect(packageName("tuto_pipeline")).toBe("tuto_pipeline");
    expect(packageName("...")).toBe("pipeline");
  });
});

describe("plugin names", () => {
  it("accepts dotted identifiers", () => {
    for (const ok of ["p", "data_reduction", "astro.photometry", "_a.B2.c"]) expect(pluginNameProblem(ok), ok).toBeUndefined();
  });

  it("says what is wrong with the others", () => {
    expect(pluginNameProblem("a.")).toBe("it has an empty segment");
    expect(pluginNameProblem(".a")).toBe("it has an empty segment");
    expect(pluginNameProblem("a.2b")).toBe('"2b" starts with a digit');
    expect(pluginNameProblem("a b")).toBe('"a b" has characters other than letters, digits and _');
  });
});

describe("registering a plugin in outflow.config.ts", () => {
  it("appends to the list and keeps comments and the rest of the file", () => {
    const file = configFile(`import { defineConfig } from "outflow";\n\n// mine\nexport default defineConfig({\n  plugins: ["a"], // listed\n  backend: "threads",\n});\n`);
    expect(registerPlugin(file, "b.c")).toBe(`import { defineConfig } from "outflow";\n\n// mine\nexport default defineConfig({\n  plugins: ["a", "b.c"], // listed\n  backend: "threads",\n});\n`);
  });

  it("adds a plugins list when there is none, also through a variable", () => {
    const file = configFile(`import { defineConfig } from "outflow";\nconst config = defineConfig({ backend: "threads" });\nexport default config;\n`);
    expect(registerPlugin(file, "x")).toContain(`plugins: ["x"]`);
  });

  it("refuses what it cannot edit safely", () => {
    const computed = configFile(`const list = ["a"];\nexport default { plugins: list };\n`);
    expect(() => registerPlugin(computed, "b")).toThrow(new InitError('outflow.config.ts: `plugins` is not a literal list; add "b" to it by hand'));
    const noDefault = configFile(`export const config = {};\n`);
    expect(() => registerPlugin(noDefault, "b")).toThrow(/cannot find `export default defineConfig\(\{ \.\.\. \}\)`/);
  });

  it("refuses an existing folder without touching the config", () => {
    const file = configFile(`export default { plugins: [] };\n`);
    const root = join(file, "..");
    mkdirSync(join(root, "plugins/astro/photometry"), { recursive: true });
    expect(() => createPlugin({ root, name: "astro.photometry" })).toThrow("plugins/astro/photometry/ already exists; remove it or choose another name");
    expect(readFileSync(file, "utf8")).toBe(`export default { plugins: [] };\n`);
  });

  it("gives a reserved word's command a valid export name", () => {
    const file = configFile(`export default { plugins: [] };\n`);
    const root = join(file, "..");
    createPlugin({ root, name: "tools.class" });
    const commands = readFileSync(join(root, "plugins/tools/class/commands.ts"), "utf8");
    expect(commands).toContain(`export const class_command = command({\n  name: "class",`);
  });

  it("needs a pipeline", () => {
    expect(() => createPlugin({ root: base, name: "x" })).toThrow(/^no outflow\.config\.ts in .*: run this inside a pipeline \(create one with `outflow init <dir>`\)$/);
  });
});
