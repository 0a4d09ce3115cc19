/**
 * outflow/testing on small throwaway pipelines: the command result, untracked commands, config
 * overrides, compile errors, and tasks that are not part of the pipeline.
 */
import { afterAll, describe, expect, it } from "vitest";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { runCommand, runTask, withContext, createTestDatabase, PipelineCompileError } from "outflow/testing";
import { context, task } from "outflow";
import { makePipeline, removePipelines } from "../helpers/pipeline-fixture.js";

afterAll(removePipelines);

const TASKS = `import { task, context, logger } from "outflow";

export const Seed = task(function Seed(): { values: number[] } {
  return { values: [1, 2, 3] };
});

export const Total = task(function Total(values: number[]): { total: number; label: string } {
  logger.info("summing " + values.length + " values");
  return { total: values.reduce((a, b) => a + b, 0) * (context.args.factor as number), label: String(context.config.greeting ?? "none") };
});
`;

const COMMANDS = `import { command } from "outflow";
import { Seed, Total } from "./tasks.js";

export const total = command({
  args: { factor: { type: "number", default: 1 } },
  db: false,
  setup() {
    Seed().pipe(Total());
  },
});
`;

describe("runCommand and runTask on a fixture pipeline", () => {
  const root = makePipeline({ "plugins/p/tasks.ts": TASKS, "plugins/p/commands.ts": COMMANDS });

  it("returns the terminal tasks' outputs as result, and the captured log", async () => {
    const run = await runCommand(["total", "--factor", "10"], { root, config: { greeting: "hi" } });
    expect(run).toMatchObject({ exitCode: 0, result: { total: 60, label: "hi" }, stdout: "", runId: null });
    expect(run.stderr).toMatch(/ - p\.tasks - tasks\.ts:\d+ - INFO - summing 3 values\n$/);
  });

  it("runs a task with args and config", async () => {
    const { Total } = await import(join(root, "plugins/p/tasks.ts"));
    expect(await runTask(Total, { values: [5] }, { root, args: { factor: 2 }, config: { greeting: "yo" } })).toEqual({ total: 10, label: "yo" });
  });

  it("refuses a task that is not exported by the pipeline", async () => {
    const Stray = task(function Stray(): { x: number } {
      return { x: 1 };
    });
    await expect(runTask(Stray, {}, { root })).rejects.toThrow(/runTask\(Stray\): not a task of this pipeline/);
  });

  it("withContext works outside any pipeline", () => {
    expect(withContext({ args: { a: 1 } }, () => [context.args.a, context.config.backend])).toEqual([1, "sequential"]);
    expect(() => context.args).toThrow(/only available while a command runs/);
  });
});

describe("a pipeline that does not compile", () => {
  const root = makePipeline({
    "plugins/p/tasks.ts": `import { task } from "outflow";\nexport const A = task(function A(): { a: number } { return { a: 1 }; });\nexport const B = task(function B(b: string): void {});\n`,
    "plugins/p/commands.ts": `import { command } from "outflow";\nimport { A, B } from "./tasks.js";\nexport const broken = command({ db: false, setup() { A().pipe(B()); } });\n`,
  });

  it("fails with the build's diagnostics", async () => {
    const error = await runCommand(["broken"], { root }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PipelineCompileError);
    expect((error as Error).message).toMatch(/does not compile:\nplugins\/p\/commands\.ts:3:\d+ - error OF\d+/);
  });
});

const MODEL = `import { defineEntity, p } from "outflow/models";

export const Note = defineEntity({
  name: "Note",
  tableName: "note",
  properties: { id: p.integer().primary().autoincrement(), text: p.string() },
});
`;
const MIGRATION = `import { Migration } from 'outflow/migrations';

export class Migration20260101000000_add_note extends Migration {
  override async up(): Promise<void> {
    this.addSql("create table \\\`note\\\` (\\\`id\\\` integer not null primary key autoincrement, \\\`text\\\` text not null);");
  }
  override async down(): Promise<void> {
    this.addSql("drop table if exists \\\`note\\\`;");
  }
}
`;
const NOTE_TASKS = `import { task, context, Skipped, type SkippedValue } from "outflow";
import { Note } from "./models/note.js";

export const Write = task(async function Write(): { written: number } {
  const em = context.em;
  em.create(Note, { text: "hello" });
  await em.flush();
  return { written: await em.count(Note) };
});
export const Refuse = task(function Refuse(written: number): void {
  throw new RangeError("no more than " + written);
});
export const Maybe = task(function Maybe(value: number): { kept: number } | SkippedValue {
  return value > 3 ? Skipped : { kept: value };
});
`;
const NOTE_COMMANDS = `import { command } from "outflow";
import { Write, Refuse, Maybe } from "./tasks.js";

export const write = command({ setup() { Write(); } });
export const write_then_fail = command({ setup() { Write().pipe(Refuse()); } });
export const untracked = command({ db: false, setup() { Maybe({ value: 1 }); } });
`;

describe("a pipeline with models and migrations that does not install MikroORM itself", () => {
  const CONFIG = `import { defineConfig } from "outflow";\n\nexport default defineConfig({ plugins: ["p"], databases: { default: { dialect: "sqlite", path: "outflow.db" } } });\n`;
  const root = makePipeline({ "outflow.config.ts": CONFIG, "plugins/p/tasks.ts": NOTE_TASKS, "plugins/p/commands.ts": NOTE_COMMANDS, "plugins/p/models/note.ts": MODEL, "plugins/p/migrations/sqlite/Migration20260101000000_add_note.ts": MIGRATION });
  // As after \`npm install ../outflow\`: the pipeline's node_modules has outflow, not outflow's dependencies.
  rmSync(join(root, "node_modules", "@mikro-orm"), { force: true });

  it("migrates a fresh test database and runs a command that writes through a model", async () => {
    const db = await createTestDatabase({ root });
    try {
      const run = await runCommand(["write"], { root, db });
      expect(run.exitCode, run.stderr).toBe(0);
      expect(run.result).toEqual({ written: 1 });
    } finally {
      await db.drop();
    }
  });

  it("gives the run id of a tracked run that failed, to assert its rows", async () => {
    const db = await createTestDatabase({ root });
    try {
      const run = await runCommand(["write_then_fail"], { root, db });
      expect(run.exitCode).toBe(1);
      expect(run.runId).toMatch(/^[0-9a-f-]{36}$/);
      const rows = await (await db.em()).getConnection().execute("select name, state from task where run_uuid = ? order by id", [run.runId]);
      expect(rows).toEqual([{ name: "Write", state: "success" }, { name: "Refuse", state: "failed" }]);
    } finally {
      await db.drop();
    }
  });

  it("runTask of a task that returns Skipped gives Skipped", async () => {
    const { Maybe } = await import(join(root, "plugins/p/tasks.ts"));
    expect(await runTask(Maybe, { value: 9 }, { root })).toEqual({ __outflowSkipped: true });
    expect(await runTask(Maybe, { value: 2 }, { root })).toEqual({ kept: 2 });
  });

  it("a config override that switches a database's dialect replaces its entry, as --config does", async () => {
    // An untracked command opens no database: the config only has to be valid (no leftover SQLite path).
    const run = await runCommand(["untracked"], { root, config: { databases: { default: { dialect: "postgresql", address: "127.0.0.1:1", database: "x", user: { username: "u", password: "p" } } } } });
    expect(run.exitCode, run.stderr).toBe(0);
  });
});

describe("createTestDatabase", () => {
  it("refuses a dialect it does not know, in one line", async () => {
    await expect(createTestDatabase({ dialect: "mysql" as never })).rejects.toThrow('outflow/testing: createTestDatabase: dialect must be "sqlite" or "postgresql", got "mysql"');
  });
});
