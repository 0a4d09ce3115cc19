/**
 * `outflow build` from the command line: diagnostics printed like tsc's (location, code, message, code frame),
 * a non-zero exit, and nothing written when the pipeline has errors or with --check.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { locate, makePipeline, removePipelines, repoRoot } from "../helpers/pipeline-fixture.js";

afterAll(removePipelines);

const TASKS = `import { task } from "outflow";

export const MakeText = task(function MakeText(): { value: string } {
  return { value: "x" };
});
export const Compute = task(function Compute(some_data: number): { result: number } {
  return { result: some_data };
});
`;

const FAILING_COMMANDS = `import { command } from "outflow";
import { MakeText, Compute } from "./tasks.js";

export const compute = command({
  setup() {
    MakeText().pipe(Compute());
  },
});
`;

const VALID_COMMANDS = `import { command } from "outflow";
import { MakeText } from "./tasks.js";

export const make = command({
  setup() {
    MakeText();
  },
});
`;

function outflow(cwd: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [join(repoRoot, "bin/outflow.mjs"), ...args], { cwd, encoding: "utf8", timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("outflow build (CLI)", () => {
  it("prints a failing pipeline's diagnostics tsc-style with a code frame, writes nothing and exits 1", () => {
    const root = makePipeline({ "plugins/p/tasks.ts": TASKS, "plugins/p/commands.ts": FAILING_COMMANDS });
    const { line, column } = locate(FAILING_COMMANDS, "Compute()");
    const r = outflow(root, "build");
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toContain(`plugins/p/commands.ts:${line}:${column} - error OF101: Task Compute needs input "some_data"`);
    // The code frame: the source line behind its number, a ~ under the column.
    const frameLine = FAILING_COMMANDS.split("\n")[line - 1];
    const gutter = String(line);
    expect(r.stderr).toContain(`\n${gutter} ${frameLine}\n${" ".repeat(gutter.length + 1 + column - 1)}~\n`);
    expect(r.stderr).toContain("Found 1 error in 1 file.");
    // A diagnostic, not a stack trace.
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(existsSync(join(root, "dist"))).toBe(false);
    expect(existsSync(join(root, "generated"))).toBe(false);
  });

  it("build --check on a valid pipeline exits 0, says so, and writes no dist/ or generated/", () => {
    const root = makePipeline({ "plugins/p/tasks.ts": TASKS, "plugins/p/commands.ts": VALID_COMMANDS });
    const r = outflow(root, "build", "--check");
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/outflow build --check: 2 tasks, 1 commands?, no problems/);
    expect(r.stderr).toBe("");
    expect(existsSync(join(root, "dist"))).toBe(false);
    expect(existsSync(join(root, "generated"))).toBe(false);
  });
});

describe("the outflow command's compiled CLI cache", () => {
  it("survives concurrent first runs: every process gets a complete CLI, no temp file is left", async () => {
    const { mkdtempSync, readdirSync, rmSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { spawn } = await import("node:child_process");
    const cache = mkdtempSync(join(tmpdir(), "outflow-cli-cache-"));
    try {
      const runs = Array.from({ length: 4 }, () =>
        new Promise<{ code: number | null; out: string }>((resolve) => {
          const child = spawn(process.execPath, [join(repoRoot, "bin/outflow.mjs"), "--help"], { env: { ...process.env, OUTFLOW_CLI_CACHE: cache } });
          let out = "";
          child.stdout.on("data", (d) => (out += d));
          child.stderr.on("data", (d) => (out += d));
          child.on("close", (code) => resolve({ code, out }));
        }),
      );
      for (const r of await Promise.all(runs)) {
        expect(r.code, r.out).toBe(0);
        expect(r.out).toContain("build [--check] [--root <dir>]");
      }
      expect(readdirSync(cache)).toEqual([expect.stringMatching(/^cli-[0-9a-f]{12}\.mjs$/)]);
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  }, 120_000);
});
