import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { mapStack, originalPosition } from "../../runtime/source-map.js";

const RUNTIME = fileURLToPath(new URL("../../runtime/", import.meta.url));
const LOG_LINE = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} - (\S+) - (\S+) - (\w+) - (.*)$/;

let root: string;

/** A pipeline-like tree: plugins/demo/tasks.ts logs and throws; type-only lines make generated and original lines differ. */
const TASKS = [
  `import { logger } from ${JSON.stringify(join(RUNTIME, "logging/logger.ts"))};`,
  "",
  "interface Thing {",
  "  n: number;",
  "}",
  "type Unused = { a: string };",
  "",
  "export function compute(thing: Thing): number {",
  "  const result: number = thing.n * 3;",
  "  logger.info(`Result of the computation: ${result}`); // LOG-CALL",
  "  return result;",
  "}",
  "",
  "export function fail(reason: string): never {",
  "  const label: Unused['a'] = 'x';",
  "  throw new Error(`boom: ${reason} ${label}`); // THROW-SITE",
  "}",
  "",
].join("\n");

const lineOf = (text: string, marker: string) => text.split("\n").findIndex((l) => l.includes(marker)) + 1;

function entry(name: string): string {
  return [
    `import { compute, fail } from "./plugins/demo/tasks.ts";`,
    `import { mapStack } from ${JSON.stringify(join(RUNTIME, "source-map.ts"))};`,
    "",
    `compute({ n: 42 });`,
    "try {",
    `  fail(${JSON.stringify(name)});`,
    "} catch (error) {",
    "  process.stdout.write(JSON.stringify({ raw: (error as Error).stack, mapped: mapStack((error as Error).stack ?? '') }));",
    "}",
    "",
  ].join("\n");
}

function write(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

function run(script: string) {
  const result = spawnSync(process.execPath, [script], { cwd: root, encoding: "utf8", env: { PATH: process.env.PATH } });
  expect(result.status, result.stderr).toBe(0);
  const logs = result.stderr.split("\n").filter(Boolean);
  return { logs, stacks: JSON.parse(result.stdout) as { raw: string; mapped: string } };
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "outflow-sourcemap-"));
  write(join(root, "plugins/demo/tasks.ts"), TASKS);
  write(join(root, "main.ts"), entry("single"));
  write(join(root, "second.ts"), entry("chunked"));
  const common = { bundle: true, platform: "node", format: "esm", target: "node20", sourcemap: "external", logLevel: "silent" } as const;
  await build({ ...common, entryPoints: [join(root, "main.ts")], outfile: join(root, "dist/main.js") });
  await build({
    ...common,
    entryPoints: [join(root, "main.ts"), join(root, "second.ts")],
    outdir: join(root, "dist-split"),
    splitting: true,
    chunkNames: "chunks/[name]-[hash]",
  });
}, 30_000);

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

describe("a bundle with an external source map", () => {
  test("logger lines carry the plugin's name and the .ts line of the call", () => {
    const { logs } = run("dist/main.js");
    expect(logs).toHaveLength(1);
    const [, name, site, level, message] = LOG_LINE.exec(logs[0]!) ?? [];
    expect({ name, site, level, message }).toEqual({
      name: "demo.tasks",
      site: `tasks.ts:${lineOf(TASKS, "LOG-CALL")}`,
      level: "INFO",
      message: "Result of the computation: 126",
    });
  });

  test("mapStack rewrites bundle frames to the original .ts positions", () => {
    const { stacks } = run("dist/main.js");
    const bundle = join(root, "dist/main.js");
    expect(stacks.raw).toContain(bundle);
    const throwLine = lineOf(TASKS, "THROW-SITE");
    const column = TASKS.split("\n")[throwLine - 1]!.indexOf("new Error") + 1;
    expect(stacks.mapped).toContain(`at fail (${join(root, "plugins/demo/tasks.ts")}:${throwLine}:${column})`);
    expect(stacks.mapped).toMatch(new RegExp(`at ${escape(join(root, "main.ts"))}:6:3$`, "m"));
    expect(stacks.mapped).not.toContain(bundle);
    expect(stacks.mapped.split("\n")[0]).toBe("Error: boom: single x");
  });

  test("in process: originalPosition maps a generated position, from a path or a file:// URL", () => {
    const bundle = join(root, "dist/main.js");
    const generated = readFileSync(bundle, "utf8").split("\n");
    const line = generated.findIndex((l) => l.includes("logger.info(")) + 1;
    const column = generated[line - 1]!.indexOf("logger.info(") + 1;
    expect(line).toBeGreaterThan(0);
    const expected = { file: join(root, "plugins/demo/tasks.ts"), line: lineOf(TASKS, "LOG-CALL"), column: 3 };
    expect(line).not.toBe(expected.line);
    expect(originalPosition(bundle, line, column)).toEqual(expected);
    expect(originalPosition(pathToFileURL(bundle).href, line, column)).toEqual(expected);
  });
});

describe("code-split chunks", () => {
  test("a logger call that lives in a chunk maps through the chunk's own map", () => {
    const chunks = readdirSync(join(root, "dist-split/chunks"));
    expect(chunks.some((f) => f.endsWith(".js.map"))).toBe(true);
    const { logs, stacks } = run("dist-split/second.js");
    const [, name, site] = LOG_LINE.exec(logs[0]!) ?? [];
    expect([name, site]).toEqual(["demo.tasks", `tasks.ts:${lineOf(TASKS, "LOG-CALL")}`]);
    expect(stacks.raw).toContain(join(root, "dist-split/chunks"));
    expect(stacks.mapped).toContain(`${join(root, "plugins/demo/tasks.ts")}:${lineOf(TASKS, "THROW-SITE")}:`);
    expect(stacks.mapped).toMatch(new RegExp(`at ${escape(join(root, "second.ts"))}:6:3$`, "m"));
  });
});

describe("files without a usable map", () => {
  test("no map → undefined; .map next to the file without a comment; inline data: maps", () => {
    const dir = join(root, "misc");
    write(join(dir, "plain.js"), "console.log(1);\n");
    expect(originalPosition(join(dir, "plain.js"), 1, 1)).toBeUndefined();
    expect(originalPosition(join(dir, "missing.js"), 1, 1)).toBeUndefined();
    expect(originalPosition(join(dir, "source.ts"), 1, 1)).toBeUndefined();

    // "a.js" line 1 col 1 ↔ "../src/a.ts" line 3 col 5 (mappings "AAEI": gen col 0, source 0, line +2, col +4)
    const map = { version: 3, sources: ["../src/a.ts"], names: [], mappings: "AAEI" };
    write(join(dir, "nocomment.js"), "x();\n");
    write(join(dir, "nocomment.js.map"), JSON.stringify(map));
    expect(originalPosition(join(dir, "nocomment.js"), 1, 1)).toEqual({ file: join(root, "src/a.ts"), line: 3, column: 5 });

    const inline = Buffer.from(JSON.stringify(map)).toString("base64");
    write(join(dir, "inline.js"), `x();\n//# sourceMappingURL=data:application/json;base64,${inline}\n`);
    expect(originalPosition(join(dir, "inline.js"), 1, 1)).toEqual({ file: join(root, "src/a.ts"), line: 3, column: 5 });

    write(join(dir, "rooted.js"), "x();\n//# sourceMappingURL=rooted.js.map\n");
    write(join(dir, "rooted.js.map"), JSON.stringify({ ...map, sources: ["a.ts"], sourceRoot: "/srv/app/src" }));
    expect(originalPosition(join(dir, "rooted.js"), 1, 1)).toEqual({ file: "/srv/app/src/a.ts", line: 3, column: 5 });
  });

  test("mapStack leaves frames it cannot map as they are", () => {
    const stack = ["Error: x", "    at f (/nowhere/y.js:10:5)", "    at node:internal/main:1:1", "    at /somewhere/z.ts:3:4"].join("\n");
    expect(mapStack(stack)).toBe(stack);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
