/**
 * First runs on a new database, for the SQLite and PostgreSQL tests: several processes of a built
 * pipeline's tracked commands released at the same moment, and a `side` plugin whose migrations can be
 * made slow (to kill or interrupt the run that creates the tables while it does).
 */
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startBundle } from "./fixture.js";

/** Waits (before the bundle loads) until the file OUTFLOW_TEST_GO names exists. */
const BARRIER = `import { existsSync } from "node:fs";
const go = process.env.OUTFLOW_TEST_GO;
while (go && !existsSync(go)) await new Promise((resolve) => setTimeout(resolve, 2));
`;

/** SIDE_SLOW names a table: its migration says so in SIDE_MARKER (the pid), then sleeps SIDE_SLOW_MS. */
function slowable(table: string): string {
  return `  const env = process.env;
    if (env.SIDE_SLOW === "${table}") {
      if (env.SIDE_MARKER) appendFileSync(env.SIDE_MARKER, process.pid + "\\n");
      await new Promise((resolve) => setTimeout(resolve, Number(env.SIDE_SLOW_MS ?? 30000)));
    }`;
}

function migration(name: string, table: string): string {
  return `import { appendFileSync } from "node:fs";
import { Migration } from "outflow/migrations";

export class ${name} extends Migration {
  override async up(): Promise<void> {
  ${slowable(table)}
    this.addSql("create table \`${table}\` (\`id\` integer not null primary key autoincrement, \`value\` integer not null);");
  }

  override async down(): Promise<void> {
    this.addSql("drop table if exists \`${table}\`;");
  }
}
`;
}

const entity = (name: string, table: string, database?: string) => `import { defineEntity, p } from "outflow/models";
${database ? `\nexport const database = "${database}";\n` : ""}
export const ${name} = defineEntity({
  name: "${name}",
  tableName: "${table}",
  properties: { id: p.integer().primary().autoincrement(), value: p.integer() },
});
`;

/**
 * The `side` plugin: a model in "default" (side_entry) and one in the named database "side"
 * (side_archive), each with its SQLite migration; `note --value v` writes one row of each.
 */
export const SIDE_PLUGIN: Record<string, string> = {
  "plugins/side/models/entry.ts": entity("SideEntry", "side_entry"),
  "plugins/side/models/archive.ts": entity("SideArchive", "side_archive", "side"),
  "plugins/side/migrations/sqlite/Migration20261201120000_side_entry.ts": migration("Migration20261201120000_side_entry", "side_entry"),
  "plugins/side/migrations/side/sqlite/Migration20261201120001_side_archive.ts": migration("Migration20261201120001_side_archive", "side_archive"),
  "plugins/side/tasks.ts": `import { task, context } from "outflow";
import { SideEntry } from "./models/entry.js";
import { SideArchive } from "./models/archive.js";

export const Note = task(async function Note(): Promise<void> {
  const value = Number(context.args.value);
  context.em.create(SideEntry, { value });
  await context.em.flush();
  const side = context.db("side");
  side.create(SideArchive, { value });
  await side.flush();
});
`,
  "plugins/side/commands.ts": `import { command } from "outflow";
import { Note } from "./tasks.js";

export const note = command({
  args: { value: { type: "integer", required: true } },
  setup() {
    Note();
  },
});
`,
  "outflow.config.ts": `import { defineConfig } from "outflow";

export default defineConfig({
  plugins: ["data_reduction", "extras", "side"],
  databases: {
    default: { dialect: "sqlite", path: "outflow.db" },
    side: { dialect: "sqlite", path: "side.db" },
  },
});
`,
};

/** A config file giving both SQLite databases new names; returns the `--config` args. */
export function freshSqliteConfig(root: string, name: string): string[] {
  writeFileSync(join(root, `${name}.yml`), `databases:\n  default: { dialect: sqlite, path: ${name}.db }\n  side: { dialect: sqlite, path: ${name}-side.db }\n`);
  return ["--config", `${name}.yml`];
}

export interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

/**
 * Starts one process per entry of `runs` (bundle and args), each held before it loads its bundle, then
 * releases them all at once; resolves when every one has ended.
 */
export async function runAtOnce(root: string, runs: Array<[string, string[]]>, env: Record<string, string> = {}): Promise<Ended[]> {
  const barrier = join(root, "barrier.mjs");
  if (!existsSync(barrier)) writeFileSync(barrier, BARRIER);
  const go = join(root, `go-${process.hrtime.bigint()}`);
  const ended = runs.map(([bundle, args]) => {
    const child = startBundle(root, bundle, args, { NODE_OPTIONS: `--import=${barrier}`, OUTFLOW_TEST_GO: go, ...env });
    let output = "";
    child.stdout!.on("data", (d) => (output += d));
    child.stderr!.on("data", (d) => (output += d));
    return new Promise<Ended>((resolve) => child.on("close", (code, signal) => resolve({ code, signal, output })));
  });
  // Every process has started node and waits at the barrier (about 100 ms each on two cores).
  await new Promise((resolve) => setTimeout(resolve, 150 * runs.length));
  writeFileSync(go, "");
  return Promise.all(ended);
}
