import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildPipeline, lines, makeTutorialPipeline, openSqlite, removePipelines, runBundle, startWatched } from "./fixture.js";
import { freshSqliteConfig, runAtOnce, SIDE_PLUGIN } from "./first-runs.js";

let root: string;
let made = 0;

/** A new pair of database files (default and side), named for this test. */
function freshDatabases(): { name: string; args: string[] } {
  const name = `fresh${++made}`;
  return { name, args: freshSqliteConfig(root, name) };
}

function query(file: string, sql: string): Array<Record<string, unknown>> {
  const db = openSqlite(join(root, file));
  try {
    return db.prepare(sql).all() as Array<Record<string, unknown>>;
  } finally {
    db.close();
  }
}

const tables = (file: string) => query(file, "select name from sqlite_master where type = 'table' order by name").map((r) => r.name);

/** What the records of a database pair hold once every first run ended: each migration once, the runs, their tasks. */
function records(name: string) {
  const main = `${name}.db`;
  const migrations = (table: string, file = main) => query(file, `select name from ${table} order by id`).map((r) => String(r.name).replace(/^Migration\d+_/, ""));
  return {
    outflow: migrations("outflow_migrations__outflow"),
    data_reduction: migrations("outflow_migrations__data_reduction"),
    side: migrations("outflow_migrations__side"),
    sideDb: migrations("outflow_migrations__side", `${name}-side.db`),
    runs: query(main, "select command, state, (select count(*) from task t where t.run_uuid = r.uuid and t.state = 'success') as tasks from run r order by command, args"),
  };
}

const FIRST_RUN = {
  outflow: ["run_records", "emitted_and_resubmission_of"],
  data_reduction: ["add_table_computation_result"],
  side: ["side_entry"],
  sideDb: ["side_archive"],
};

beforeAll(async () => {
  root = makeTutorialPipeline(SIDE_PLUGIN);
  await buildPipeline(root);
}, 120_000);
afterAll(removePipelines);

describe("first runs on a new SQLite file", () => {
  it("six runs released at once on new files all succeed; one of them created the tables, once", async () => {
    for (let round = 0; round < 3; round++) {
      const { name, args } = freshDatabases();
      const runs: Array<[string, string[]]> = Array.from({ length: 6 }, (_, i) => (i % 2 ? ["note", ["--value", String(i), ...args]] : ["compute_data", ["--multiplier", String(i + 2), ...args]]));
      const ended = await runAtOnce(root, runs);
      for (const e of ended) expect(e.code, `round ${round}: ${e.output}`).toBe(0);
      const created = ended.filter((e) => /new database "default" \(sqlite .*\): applied 4 migrations/.test(e.output));
      expect(created, `round ${round}`).toHaveLength(1);
      expect(ended.filter((e) => /new database "side" \(sqlite .*\): applied 1 migration\b/.test(e.output))).toHaveLength(1);
      expect(records(name)).toEqual({
        ...FIRST_RUN,
        runs: [
          ...[0, 1, 2].map(() => ({ command: "compute_data", state: "success", tasks: 3 })),
          ...[0, 1, 2].map(() => ({ command: "note", state: "success", tasks: 1 })),
        ],
      });
      expect(query(`${name}.db`, "select multiplier from computation_result order by multiplier")).toEqual([{ multiplier: 2 }, { multiplier: 4 }, { multiplier: 6 }]);
      expect(query(`${name}-side.db`, "select value from side_archive order by value")).toEqual([{ value: 1 }, { value: 3 }, { value: 5 }]);
    }
  }, 60_000);

  it("runs that wait for a slow creator all succeed", async () => {
    const { name, args } = freshDatabases();
    const runs: Array<[string, string[]]> = Array.from({ length: 4 }, (_, i) => ["note", ["--value", String(i), ...args]]);
    const ended = await runAtOnce(root, runs, { SIDE_SLOW: "side_entry", SIDE_SLOW_MS: "1500" });
    for (const e of ended) expect(e.code, e.output).toBe(0);
    expect(records(name)).toEqual({ ...FIRST_RUN, runs: [0, 1, 2, 3].map(() => ({ command: "note", state: "success", tasks: 1 })) });
  }, 30_000);

  it("a creator killed half-way leaves an empty file, which the next run creates", async () => {
    const { name, args } = freshDatabases();
    const marker = join(root, `${name}.creating`);
    const creator = startWatched(root, "note", ["--value", "1", ...args], { SIDE_SLOW: "side_entry", SIDE_MARKER: marker });
    await until(() => existsSync(marker));
    creator.child.kill("SIGKILL");
    await creator.closed;
    // outflow's and data_reduction's tables were made in the same transaction: nothing of it is left.
    expect(tables(`${name}.db`)).toEqual([]);
    const next = runBundle(root, "note", ["--value", "2", ...args]);
    expect(next.code, next.stderr).toBe(0);
    expect(next.stderr).toMatch(/new database "default" \(sqlite .*\): applied 4 migrations/);
    expect(records(name)).toEqual({ ...FIRST_RUN, runs: [{ command: "note", state: "success", tasks: 1 }] });
  }, 30_000);

  it("runs waiting for a creator that is killed take over: one of them creates the tables", async () => {
    const { name, args } = freshDatabases();
    const marker = join(root, `${name}.creating`);
    const creator = startWatched(root, "note", ["--value", "0", ...args], { SIDE_SLOW: "side_archive", SIDE_MARKER: marker });
    await until(() => existsSync(marker));
    // The creator has committed "default" and holds "side"'s write lock: the waiters wait on it.
    const waiters = runAtOnce(root, [1, 2, 3].map((i) => ["note", ["--value", String(i), ...args]]));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    creator.child.kill("SIGKILL");
    const ended = await waiters;
    for (const e of ended) expect(e.code, e.output).toBe(0);
    expect(ended.filter((e) => /new database "side" \(sqlite .*\): applied 1 migration\b/.test(e.output))).toHaveLength(1);
    const { runs, ...migrations } = records(name);
    expect(migrations).toEqual(FIRST_RUN);
    // The killed creator's run row was never written: it died before its run started.
    expect(runs).toEqual([1, 2, 3].map(() => ({ command: "note", state: "success", tasks: 1 })));
  }, 30_000);

  it("Ctrl-C of the creator lets it finish the tables and records the run cancelled; a second Ctrl-C leaves the file empty", async () => {
    const once = freshDatabases();
    const marker = join(root, `${once.name}.creating`);
    const creator = startWatched(root, "note", ["--value", "1", ...once.args], { SIDE_SLOW: "side_entry", SIDE_SLOW_MS: "1000", SIDE_MARKER: marker });
    await until(() => existsSync(marker));
    creator.child.kill("SIGINT");
    expect(await creator.closed, creator.stderr).toBe(130);
    expect(records(once.name)).toEqual({ ...FIRST_RUN, runs: [{ command: "note", state: "cancelled", tasks: 0 }] });
    expect(runBundle(root, "note", ["--value", "2", ...once.args]).code).toBe(0);

    const twice = freshDatabases();
    const marker2 = join(root, `${twice.name}.creating`);
    const impatient = startWatched(root, "note", ["--value", "1", ...twice.args], { SIDE_SLOW: "side_entry", SIDE_MARKER: marker2 });
    await until(() => existsSync(marker2));
    impatient.child.kill("SIGINT");
    await impatient.until("cancelling the run");
    impatient.child.kill("SIGINT");
    expect(await impatient.closed).toBe(130);
    expect(tables(`${twice.name}.db`)).toEqual([]);
    const next = runBundle(root, "note", ["--value", "2", ...twice.args]);
    expect(next.code, next.stderr).toBe(0);
    expect(records(twice.name)).toEqual({ ...FIRST_RUN, runs: [{ command: "note", state: "success", tasks: 1 }] });
  }, 30_000);

  it("three `db upgrade heads` released at once on new files: each migration applied once, every one exits 0", async () => {
    const { name, args } = freshDatabases();
    const ended = await runAtOnce(root, [1, 2, 3].map(() => ["manage", ["management", "db", "upgrade", "heads", ...args]]));
    for (const e of ended) expect(e.code, e.output).toBe(0);
    expect(ended.filter((e) => /outflow: applied Migration\d+_run_records/.test(e.output))).toHaveLength(1);
    expect(ended.filter((e) => /side: applied Migration\d+_side_archive/.test(e.output))).toHaveLength(1);
    expect(records(name)).toEqual({ ...FIRST_RUN, runs: [] });
  }, 30_000);

  it("a run that waits for a creator that hangs gives up after 10 s with one line", async () => {
    const { args, name } = freshDatabases();
    const marker = join(root, `${name}.creating`);
    const creator = startWatched(root, "note", ["--value", "1", ...args], { SIDE_SLOW: "side_entry", SIDE_MARKER: marker });
    await until(() => existsSync(marker));
    creator.child.kill("SIGSTOP");
    try {
      const started = Date.now();
      const waiter = runBundle(root, "note", ["--value", "2", ...args]);
      expect(Date.now() - started).toBeGreaterThanOrEqual(10_000);
      expect(waiter.code).toBe(1);
      expect(lines(waiter.stderr)).toEqual([
        expect.stringMatching(/^error: database "default" \(sqlite .*fresh\d+\.db\): another process has held its write lock for 10 s \(a first run still creating its tables, or a long write\); run again once it has ended, or stop it if it hangs$/),
      ]);
      expect(Number(readFileSync(marker, "utf8").trim())).toBe(creator.child.pid);
    } finally {
      creator.child.kill("SIGKILL");
      creator.child.kill("SIGCONT");
      await creator.closed;
    }
    expect(tables(`${name}.db`)).toEqual([]);
  }, 30_000);
});

async function until(condition: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
