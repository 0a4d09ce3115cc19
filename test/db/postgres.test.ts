import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../setup/postgres.js";
import { buildPipeline, EXTRAS_COMMANDS, EXTRAS_TASKS, lines, makeTutorialPipeline, manage, removePipelines, runBundle, startBundle, startWatched } from "./fixture.js";

let root: string;
let pg: TestDatabase;
const cfg = ["--config", "instance.yml"];

const sql = <T = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> => pg.rows<T>(text, params);

beforeAll(async () => {
  pg = await createTestDatabase();
  root = makeTutorialPipeline({
    "instance.yml": pg.configYaml(),
    // A task whose error message holds a NUL character (as one quoting the bytes of a binary file may).
    "plugins/extras/tasks.ts": `${EXTRAS_TASKS}\nexport const Binary = task(function Binary(): void {\n  throw new Error("header \\u0000\\u0001 is not FITS");\n});\n`,
    "plugins/extras/commands.ts": `${EXTRAS_COMMANDS.replace("import { Items,", "import { Binary, Items,")}\nexport const binary = command({ description: "Fails with a NUL in its message", setup() { Binary(); } });\n`,
  });
  await buildPipeline(root);
});
afterAll(removePipelines);

describe("PostgreSQL: admin and user roles, migrations, run records", () => {
  it("asks for `upgrade heads` before outflow's tables exist", () => {
    const r = runBundle(root, "compute_data", ["--multiplier", "3", ...cfg]);
    expect(r.code).toBe(1);
    expect(lines(r.stderr)).toEqual([expect.stringContaining("run `outflow management db upgrade heads`")]);
    expect(r.stderr).toContain(`postgresql://${pg.user.username}@${pg.address}/${pg.database}`);
  });

  it("upgrades as the admin role and grants the user role data access only", async () => {
    const r = manage(root, ["db", "upgrade", "heads", ...cfg]);
    expect(r.stdout).toContain(`postgresql://${pg.admin.username}@`);
    expect(r.stdout).toMatch(/outflow: applied Migration\d+_run_records/);
    expect(r.stdout).toMatch(/data_reduction: applied Migration\d+_add_table_computation_result/);
    expect(r.stdout).toContain(`granted data access (select, insert, update, delete) on every table to role ${pg.user.username}`);
    const owners = await sql<{ tablename: string; tableowner: string }>("select tablename, tableowner from pg_tables where schemaname = 'public' order by tablename");
    expect(owners.map((o) => o.tablename)).toEqual(["computation_result", "configuration", "edge", "outflow_migrations__data_reduction", "outflow_migrations__outflow", "run", "task"]);
    expect(new Set(owners.map((o) => o.tableowner))).toEqual(new Set([pg.admin.username]));
  });

  it("runs the tutorial twice as the user role: computed, then found in the database", async () => {
    const first = runBundle(root, "compute_data", ["--multiplier", "3", ...cfg]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain("Result not found in database, computing...");
    expect(first.stderr).toContain("Result of the computation: 126");
    const second = runBundle(root, "compute_data", ["--multiplier", "3", ...cfg]);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toContain("Result found in database");
    const runs = await sql<{ uuid: string; state: string; command: string }>("select uuid, state, command from run order by start_time");
    expect(runs.map((r) => r.state)).toEqual(["success", "success"]);
    const tasks = await sql("select name, state from task where run_uuid = $1 order by id", [runs[1].uuid]);
    expect(tasks).toEqual([
      { name: "GenData", state: "success" },
      { name: "Compute", state: "success" },
      { name: "PrintData", state: "success" },
    ]);
    expect(await sql("select count(*)::int as n from edge where run_uuid = $1", [runs[1].uuid])).toEqual([{ n: 2 }]);
  });

  it("does not let the user role drop (or alter) a table", async () => {
    const client = await pg.client(pg.user);
    try {
      await expect(client.query("drop table computation_result")).rejects.toThrow(/must be owner of table computation_result/);
      await expect(client.query("drop table run cascade")).rejects.toThrow(/must be owner/);
      await expect(client.query("alter table task add column x int")).rejects.toThrow(/must be owner/);
      await expect(client.query("create table mine (id int)")).rejects.toThrow(/permission denied/);
      expect((await client.query("select count(*)::int as n from computation_result")).rows).toEqual([{ n: 1 }]);
    } finally {
      await client.end();
    }
  });

  it("records failures and map elements", async () => {
    const r = runBundle(root, "explode", cfg);
    expect(r.code).toBe(1);
    const [run] = await sql<{ uuid: string; state: string }>("select uuid, state from run where command = 'explode'");
    expect(run.state).toBe("failed");
    const tasks = await sql("select name, state, exception_message from task where run_uuid = $1 order by id", [run.uuid]);
    expect(tasks).toEqual([
      { name: "Items", state: "success", exception_message: null },
      { name: "Boom", state: "failed", exception_message: "boom: 3 detectors on fire" },
      { name: "After", state: "pending", exception_message: null },
    ]);
    expect(runBundle(root, "squares", cfg).code).toBe(0);
    const [sq] = await sql<{ uuid: string }>("select uuid from run where command = 'squares'");
    const rows = await sql<{ id: number; kind: string; parent_id: number | null; element_index: number | null }>("select id, kind, parent_id, element_index from task where run_uuid = $1 order by id", [sq.uuid]);
    const elements = rows.filter((t) => t.kind === "element");
    expect(elements.map((e) => e.element_index)).toEqual([0, 1, 2]);
    for (const e of elements) expect(rows.some((t) => t.kind === "task" && t.parent_id === e.id && t.element_index === e.element_index)).toBe(true);
  });

  it("writes a batch of records in one transaction: an update refused leaves none of the batch's inserted rows", async () => {
    // The map row's first update comes in the batch that inserts its elements (and their tasks).
    const admin = await pg.client(pg.admin);
    try {
      await admin.query(`create function refuse_map_start() returns trigger language plpgsql as $$ begin raise exception 'map start refused'; end $$`);
      await admin.query("create trigger refuse_map_start before update on task for each row when (old.kind = 'map' and old.state = 'pending') execute function refuse_map_start()");
      const r = runBundle(root, "squares", cfg);
      expect(r.stderr).toContain("map start refused");
      const [run] = await sql<{ uuid: string }>("select uuid from run where command = 'squares' order by start_time desc limit 1");
      const rows = await sql<{ kind: string; state: string }>("select kind, state from task where run_uuid = $1 and kind = 'map'", [run.uuid]);
      expect(rows).toEqual([{ kind: "map", state: "pending" }]);
      expect(await sql("select count(*)::int as n from task where run_uuid = $1 and element_index is not null", [run.uuid])).toEqual([{ n: 0 }]);
    } finally {
      await admin.query("drop trigger if exists refuse_map_start on task");
      await admin.query("drop function if exists refuse_map_start()");
      await admin.end();
    }
  });

  it("writes the graph's rows and edges at run start in one transaction: an edge refused leaves no task row", async () => {
    const admin = await pg.client(pg.admin);
    try {
      await admin.query(`create function refuse_edge() returns trigger language plpgsql as $$ begin raise exception 'edge refused'; end $$`);
      await admin.query("create trigger refuse_edge before insert on edge for each row execute function refuse_edge()");
      const r = runBundle(root, "explode", cfg);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain("edge refused");
      const [run] = await sql<{ uuid: string }>("select uuid from run where command = 'explode' order by start_time desc limit 1");
      expect(await sql("select count(*)::int as n from task where run_uuid = $1", [run.uuid])).toEqual([{ n: 0 }]);
    } finally {
      await admin.query("drop trigger if exists refuse_edge on edge");
      await admin.query("drop function if exists refuse_edge()");
      await admin.end();
    }
  });

  it("records a failure whose message holds a NUL character, which PostgreSQL text cannot store: as U+FFFD", async () => {
    const r = runBundle(root, "binary", cfg);
    expect(r.code).toBe(1);
    expect(r.stderr).not.toContain("writing the run records failed");
    const [run] = await sql<{ uuid: string; state: string }>("select uuid, state from run where command = 'binary'");
    expect(run.state).toBe("failed");
    const tasks = await sql<{ name: string; state: string; exception_message: string; exception_stack: string; start_time: Date | null }>("select name, state, exception_message, exception_stack, start_time from task where run_uuid = $1", [run.uuid]);
    expect(tasks).toEqual([{ name: "Binary", state: "failed", exception_message: "header \uFFFD\u0001 is not FITS", exception_stack: expect.stringMatching(/^Error: header \uFFFD\u0001 is not FITS\n {4}at Binary \(.*plugins\/extras\/tasks\.ts:\d+:\d+\)/), start_time: expect.any(Date) }]);
  });

  it("records what never ran (a branch not taken, at top level and in map elements) skipped with no start or end time", async () => {
    for (const command of ["skip_branches", "skip_in_elements"]) {
      const r = runBundle(root, command, cfg);
      expect(r.code, r.stderr).toBe(0);
    }
    const rows = await sql(
      "select r.command, t.kind, t.name, t.element_index as i, t.start_time is null as no_start, t.end_time is null as no_end from task t join run r on r.uuid = t.run_uuid where r.command in ('skip_branches', 'skip_in_elements') and t.state = 'skipped' order by r.start_time, t.element_index nulls first, t.id",
    );
    const never = { no_start: true, no_end: true };
    expect(rows).toEqual([
      { command: "skip_branches", kind: "map", name: "map(busy)", i: null, ...never },
      { command: "skip_branches", kind: "loop", name: "loop()", i: null, ...never },
      { command: "skip_branches", kind: "task", name: "Done", i: null, ...never },
      { command: "skip_in_elements", kind: "loop", name: "loop()", i: 0, ...never },
      { command: "skip_in_elements", kind: "task", name: "Hello", i: 1, ...never },
      { command: "skip_in_elements", kind: "loop", name: "loop()", i: 2, ...never },
    ]);
    const ran = await sql("select count(*)::int as n from task t join run r on r.uuid = t.run_uuid where r.command in ('skip_branches', 'skip_in_elements') and t.state <> 'skipped' and (t.start_time is null or t.end_time is null)");
    expect(ran).toEqual([{ n: 0 }]);
  });

  it("records a cancelled run on SIGTERM", async () => {
    const bundle = startWatched(root, "nap", ["--seconds", "30", ...cfg]);
    await bundle.until("napping");
    bundle.child.kill("SIGTERM");
    const code = await bundle.closed;
    expect(code).toBe(130);
    const [run] = await sql<{ uuid: string; state: string }>("select uuid, state from run where command = 'nap'");
    expect(run.state).toBe("cancelled");
    expect(await sql("select state, exception_message from task where run_uuid = $1", [run.uuid])).toEqual([{ state: "failed", exception_message: "run cancelled (SIGTERM)" }]);
  });

  it("masks credentials in display-config and in the stored configuration", async () => {
    const r = manage(root, ["display-config", ...cfg]);
    expect(r.stdout).toMatch(/databases\.default\.user\.password = "\*\*\*"\s+# instance\.yml/);
    expect(r.stdout).toMatch(/databases\.default\.admin\.password = "\*\*\*"\s+# instance\.yml/);
    expect(r.stdout).toMatch(/databases\.default\.user\.username = "[^"]+"\s+# instance\.yml/);
    expect(r.stdout).toMatch(/plugins = \["data_reduction","extras"\]\s+# outflow\.config\.ts/);
    expect(r.stdout).toMatch(/backend = "sequential"\s+# default/);
    expect(r.stdout).toContain("# configuration from: outflow.config.ts, instance.yml (credentials masked)");
    for (const secret of [pg.user.password, pg.admin.password]) expect(r.stdout).not.toContain(secret);

    const stored = await sql<{ content: unknown }>("select content from configuration");
    expect(stored.length).toBeGreaterThan(0);
    for (const { content } of stored) {
      const text = JSON.stringify(content);
      expect(text).not.toContain(pg.user.password);
      expect(text).not.toContain(pg.admin.password);
      expect(content).toMatchObject({ databases: { default: { user: { username: pg.user.username, password: "***" }, admin: { password: "***" } } } });
    }
  });

  it("reports an unreachable server and a wrong password in one line, without the password", () => {
    writeFileSync(join(root, "down.yml"), pg.configYaml().replace(`"${pg.address}"`, `"127.0.0.1:1"`));
    const down = runBundle(root, "compute_data", ["--multiplier", "3", "--config", "down.yml"]);
    expect(down.code).toBe(1);
    expect(lines(down.stderr)).toHaveLength(1);
    expect(down.stderr).toMatch(new RegExp(`^error: cannot connect to database "default" \\(postgresql://${pg.user.username}@127\\.0\\.0\\.1:1/${pg.database}\\): .*ECONNREFUSED`));
    expect(down.stderr).not.toContain(pg.user.password);
    const upgrade = manage(root, ["db", "upgrade", "heads", "--config", "down.yml"], { allowFailure: true });
    expect(upgrade.code).toBe(1);
    expect(lines(upgrade.stderr)).toHaveLength(1);

    writeFileSync(join(root, "badpw.yml"), pg.configYaml().replace(pg.user.password, "not-the-password"));
    const bad = runBundle(root, "compute_data", ["--multiplier", "3", "--config", "badpw.yml"]);
    expect(bad.code).toBe(1);
    expect(lines(bad.stderr)).toEqual([expect.stringMatching(/cannot connect to database "default" .*password authentication failed/)]);
    expect(bad.stderr).not.toContain("not-the-password");
  });

  it("migrates up and down per plugin, and generates a PostgreSQL migration with make-migrations", async () => {
    const exists = async (table: string) => (await sql<{ t: string | null }>("select to_regclass($1)::text as t", [table]))[0].t !== null;
    expect(manage(root, ["db", "downgrade", "--plugin", "data_reduction", ...cfg]).stdout).toMatch(/reverted Migration\d+_add_table_computation_result/);
    expect(await exists("computation_result")).toBe(false);
    expect(await exists("run")).toBe(true);
    expect(manage(root, ["db", "upgrade", "data_reduction", ...cfg]).stdout).toMatch(/applied Migration\d+_add_table_computation_result/);
    expect(await exists("computation_result")).toBe(true);

    const model = join(root, "plugins/data_reduction/models/computation_result.ts");
    writeFileSync(model, readFileSync(model, "utf8").replace("result: p.integer(),", "result: p.integer(),\n    note: p.string().nullable(),"));
    await buildPipeline(root);
    const made = manage(root, ["db", "make-migrations", "--plugin", "data_reduction", "--message", "Add a note", ...cfg]);
    expect(made.stdout).toMatch(/wrote plugins\/data_reduction\/migrations\/postgresql\/Migration\d+_add_a_note\.ts \(1 statement up, 1 down\)/);
    await buildPipeline(root);
    expect(manage(root, ["db", "upgrade", "heads", ...cfg]).stdout).toMatch(/data_reduction: applied Migration\d+_add_a_note/);
    expect(await sql("select column_name from information_schema.columns where table_name = 'computation_result' and column_name = 'note'")).toHaveLength(1);
    const ok = runBundle(root, "compute_data", ["--multiplier", "5", ...cfg]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(manage(root, ["db", "downgrade", "--plugin", "data_reduction", ...cfg]).stdout).toMatch(/reverted Migration\d+_add_a_note/);
    expect(await sql("select column_name from information_schema.columns where table_name = 'computation_result' and column_name = 'note'")).toHaveLength(0);

    expect(manage(root, ["db", "downgrade", "--plugin", "outflow", ...cfg]).stdout).toMatch(/outflow: reverted Migration\d+_emitted_and_resubmission_of/);
    expect(await sql("select column_name from information_schema.columns where table_name = 'run' and column_name = 'resubmission_of_uuid'")).toHaveLength(0);
    expect(manage(root, ["db", "downgrade", "--plugin", "outflow", ...cfg]).stdout).toMatch(/outflow: reverted Migration\d+_run_records/);
    for (const t of ["run", "task", "edge", "configuration"]) expect(await exists(t)).toBe(false);
    expect(await exists("computation_result")).toBe(true);
  });
});
