import { afterAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../setup/postgres.js";
import { buildPipeline, lines, manage, removePipelines, runBundle } from "./fixture.js";
import { makeKindsPipeline } from "./model-drift.js";

// The user role gets data access to what `db upgrade` as the admin role made: also what a failed upgrade
// committed, and the tables of models in a schema of their own.
const cfg = ["--config", "instance.yml"];
afterAll(removePipelines);

const BROKEN = `import { Migration } from "@mikro-orm/migrations";

export class Migration20260101000000_broken extends Migration {
  override async up(): Promise<void> {
    this.addSql("select 1 / 0;");
  }
}
`;

const ARCHIVE = `import { defineEntity, p } from "outflow/models";

export const OldSample = defineEntity({
  name: "OldSample",
  tableName: "old_sample",
  schema: "archive",
  properties: { id: p.integer().primary().autoincrement(), label: p.string() },
});
`;

describe("PostgreSQL: upgrade grants the user role data access", () => {
  it("grants what a failed upgrade committed: the next run says the database is not up to date, in one line", async () => {
    const pg = await createTestDatabase();
    const root = await makeKindsPipeline({ "instance.yml": pg.configYaml(), "plugins/kinds/migrations/postgresql/Migration20260101000000_broken.ts": BROKEN });
    const up = manage(root, ["db", "upgrade", "heads", ...cfg], { allowFailure: true });
    expect(up.code).not.toBe(0);
    expect(up.stdout).toMatch(/outflow: applied Migration\d+_run_records/);
    expect(up.stderr).toContain("division by zero");
    const r = runBundle(root, "store_sample", cfg);
    expect(r.code).toBe(1);
    expect(lines(r.stderr)).toEqual([expect.stringMatching(/is not up to date: kinds: 1 of 1 migrations? not applied/)]);
  });

  it("grants usage on a model's own schema and data access to its table", async () => {
    const pg = await createTestDatabase();
    const root = await makeKindsPipeline({ "instance.yml": pg.configYaml(), "plugins/kinds/models/archive.ts": ARCHIVE });
    manage(root, ["db", "upgrade", "heads", ...cfg]);
    expect(manage(root, ["db", "make-migrations", "--plugin", "kinds", "--message", "add samples", ...cfg]).code).toBe(0);
    await buildPipeline(root);
    expect(manage(root, ["db", "upgrade", "heads", ...cfg]).stdout).toMatch(/kinds: applied Migration\d+_add_samples/);
    const r = runBundle(root, "store_sample", cfg);
    expect(r.code, r.stderr).toBe(0);
    const user = await pg.client(pg.user);
    try {
      await user.query("insert into archive.old_sample (label) values ('kept')");
      expect((await user.query("select label from archive.old_sample")).rows).toEqual([{ label: "kept" }]);
      await expect(user.query("drop table archive.old_sample")).rejects.toThrow(/must be owner/);
    } finally {
      await user.end();
    }
  });
});
