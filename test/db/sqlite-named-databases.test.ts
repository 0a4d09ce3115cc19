import { readdirSync } from "node:fs";
import { join } from "node:path";
import { defineEntity, p } from "@mikro-orm/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { entitiesByDatabase } from "../../runtime/db/session.js";
import { configSchema } from "../../runtime/config/schema.js";
import { buildPipeline, lines, makeTutorialPipeline, manage, openSqlite, removePipelines, runBundle } from "./fixture.js";

const ARCHIVE_MODEL = `import { defineEntity, p } from "@mikro-orm/core";

/** Every model of this module lives in the "archive" database. */
export const database = "archive";

export const ArchivedValue = defineEntity({
  name: "ArchivedValue",
  tableName: "archived_value",
  properties: {
    id: p.integer().primary().autoincrement(),
    value: p.integer(),
  },
});
`;

const ARCHIVE_TASKS = `import { task, context, logger } from "outflow";
import { ArchivedValue } from "./models/archived_value.js";

export const Archive = task(async function Archive(): Promise<{ count: number }> {
  const em = context.db("archive");
  em.create(ArchivedValue, { value: Number(context.args.value) });
  await em.flush();
  const count = await context.db("archive").count(ArchivedValue);
  logger.info(\`archived, \${count} values in the archive\`);
  return { count };
});
`;

const ARCHIVE_COMMANDS = `import { command } from "outflow";
import { Archive } from "./tasks.js";

export const archive_it = command({
  args: { value: { type: "integer", required: true } },
  setup() {
    Archive();
  },
});
`;

const CONFIG = `import { defineConfig } from "outflow";

export default defineConfig({
  plugins: ["data_reduction", "extras", "archive"],
  databases: {
    default: { dialect: "sqlite", path: "outflow.db" },
    archive: { dialect: "sqlite", path: "data/archive.db" },
  },
});
`;

let root: string;

beforeAll(async () => {
  root = makeTutorialPipeline({
    "outflow.config.ts": CONFIG,
    "plugins/archive/models/archived_value.ts": ARCHIVE_MODEL,
    "plugins/archive/tasks.ts": ARCHIVE_TASKS,
    "plugins/archive/commands.ts": ARCHIVE_COMMANDS,
  });
  await buildPipeline(root);
});
afterAll(removePipelines);

describe("several named databases", () => {
  it("a model names its database; its migrations go to migrations/<database>/<dialect>/", async () => {
    const made = manage(root, ["db", "make-migrations", "--plugin", "archive", "--message", "Archive table"]);
    expect(made.stdout).toMatch(/wrote plugins\/archive\/migrations\/archive\/sqlite\/Migration\d+_archive_table\.ts/);
    expect(readdirSync(join(root, "plugins/archive/migrations/archive/sqlite")).some((f) => f.endsWith("_archive_table.ts"))).toBe(true);
    await buildPipeline(root);

    // Both databases are new and empty: the first run creates and migrates each of them.
    const first = runBundle(root, "archive_it", ["--value", "7"]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/new database "archive" \(sqlite .*data\/archive\.db\): applied 1 migration\b/);
    expect(first.stderr).toMatch(/new database "default" \(sqlite .*outflow\.db\): applied 3 migrations/);
    const up = manage(root, ["db", "upgrade", "heads"]);
    expect(up.stdout).toMatch(/database "archive" \(sqlite .*data\/archive\.db\)\n  archive: up to date/);

    const second = runBundle(root, "archive_it", ["--value", "8"]);
    expect(second.code, second.stderr).toBe(0);
    const archive = openSqlite(join(root, "data/archive.db"));
    const main = openSqlite(join(root, "outflow.db"));
    try {
      expect(archive.prepare("select value from archived_value order by id").all()).toEqual([{ value: 7 }, { value: 8 }]);
      expect(archive.prepare("select name from sqlite_master where name = 'run'").all()).toEqual([]);
      expect(main.prepare("select name from sqlite_master where name = 'archived_value'").all()).toEqual([]);
      expect(main.prepare("select state from run where command = 'archive_it'").all()).toEqual([{ state: "success" }, { state: "success" }]);
    } finally {
      archive.close();
      main.close();
    }
  });

  it("a model naming a database missing from the config is one clear error", () => {
    const Orphan = defineEntity({ name: "Orphan", properties: { id: p.integer().primary() } });
    const config = configSchema.parse({ plugins: ["lost"] });
    expect(() => entitiesByDatabase(config, { outflow: { migrations: {} }, plugins: { lost: { models: [{ database: "nowhere", Orphan }], migrations: {} } } })).toThrow(
      'model Orphan (plugin lost) uses database "nowhere", which is not in the config (databases: default)',
    );
  });
});
