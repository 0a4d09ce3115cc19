import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../setup/postgres.js";
import { buildPipeline, lines, makeTutorialPipeline, removePipelines } from "./fixture.js";
import { runAtOnce } from "./first-runs.js";

let root: string;
let pg: TestDatabase;
const cfg = ["--config", "instance.yml"];

const sql = <T = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> => pg.rows<T>(text, params);

const publicTables = async () => (await sql<{ tablename: string }>("select tablename from pg_tables where schemaname = 'public' order by tablename")).map((t) => t.tablename);

beforeAll(async () => {
  pg = await createTestDatabase();
  root = makeTutorialPipeline({ "instance.yml": pg.configYaml() });
  await buildPipeline(root);
}, 120_000);
afterAll(removePipelines);

describe("first runs at once on a new PostgreSQL database", () => {
  it("six runs released at once on an empty database each stop with the same one line, and create nothing", async () => {
    const ended = await runAtOnce(root, Array.from({ length: 6 }, (_, i) => ["compute_data", ["--multiplier", String(i + 2), ...cfg]]));
    for (const e of ended) {
      expect(e.code, e.output).toBe(1);
      expect(lines(e.output)).toEqual([
        `error: database "default" (postgresql://${pg.user.username}@${pg.address}/${pg.database}) is not up to date (outflow's tables do not exist yet): outflow: 2 of 2 migrations not applied, data_reduction: 1 of 1 migration not applied; run \`outflow management db upgrade heads\``,
      ]);
    }
    expect(await publicTables()).toEqual([]);
  }, 60_000);

  it("five `db upgrade heads` released at once (3 rounds, each on a new database): the migrations are applied once, every one exits 0", async () => {
    for (let round = 0; round < 3; round++) {
      // The last round upgrades the database the other tests use.
      const db = round < 2 ? await createTestDatabase() : pg;
      writeFileSync(join(root, `round${round}.yml`), db.configYaml());
      const ended = await runAtOnce(root, Array.from({ length: 5 }, () => ["manage", ["management", "db", "upgrade", "heads", "--config", `round${round}.yml`]]));
      for (const e of ended) expect(e.code, `round ${round}: ${e.output}`).toBe(0);
      expect(ended.filter((e) => /outflow: applied Migration\d+_run_records/.test(e.output))).toHaveLength(1);
      expect(ended.filter((e) => /outflow: up to date/.test(e.output))).toHaveLength(4);
      const applied = await db.rows<{ name: string }>("select name from outflow_migrations__outflow order by id");
      expect(applied.map((m) => m.name.replace(/^Migration\d+_/, ""))).toEqual(["run_records", "emitted_and_resubmission_of"]);
      expect(await db.rows("select count(*)::int as n from outflow_migrations__data_reduction")).toEqual([{ n: 1 }]);
    }
  }, 60_000);

  it("six runs released at once on the upgraded database all succeed: six runs with their tasks, one configuration row", async () => {
    const ended = await runAtOnce(root, Array.from({ length: 6 }, (_, i) => ["compute_data", ["--multiplier", String(i + 2), ...cfg]]));
    for (const e of ended) expect(e.code, e.output).toBe(0);
    const runs = await sql<{ state: string; tasks: number }>(
      "select state, (select count(*)::int from task t where t.run_uuid = r.uuid and t.state = 'success') as tasks from run r order by args",
    );
    expect(runs).toEqual(Array.from({ length: 6 }, () => ({ state: "success", tasks: 3 })));
    expect(await sql("select multiplier from computation_result order by multiplier")).toEqual([2, 3, 4, 5, 6, 7].map((multiplier) => ({ multiplier })));
    expect(await sql("select count(*)::int as n from configuration")).toEqual([{ n: 1 }]);
  }, 60_000);
});
