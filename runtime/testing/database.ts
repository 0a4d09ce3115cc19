/**
 * A fresh database per test (outflow's PostgresCommandTestCase): a temporary SQLite file, or a new database
 * on the test PostgreSQL server; migrated with `management db upgrade heads`; dropped afterwards.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { EntityManager } from "@mikro-orm/core";
import type { DatabaseConfig } from "../config/schema.js";
import { testPostgres } from "./postgres.js";
import { loadTestPipeline, type TestPipeline } from "./pipeline.js";
import { overrideConfig } from "./config.js";

export interface TestDatabaseOptions {
  /** Default "sqlite". */
  dialect?: "sqlite" | "postgresql";
  /** Apply every migration (outflow's and the plugins') first. Default true. */
  migrate?: boolean;
  /** The pipeline root (default: the nearest outflow.config.ts up from the cwd). */
  root?: string;
}

export interface TestDatabase {
  dialect: "sqlite" | "postgresql";
  /** The `databases.default` entry that `runCommand` / `runTask` use with `{ db }`. */
  config: DatabaseConfig;
  /** Where it is, for messages: the SQLite file, or `postgresql://…/outflow_test_…`. */
  where: string;
  /** An EntityManager on it (with the pipeline's models), for arranging rows and asserting on them. */
  em(): Promise<EntityManager>;
  /** Closes connections and deletes the database. */
  drop(): Promise<void>;
}

interface Session {
  forkEm(): EntityManager;
  db(name: string): EntityManager;
  close(): Promise<void>;
}

/** Opens the pipeline's databases with `database` as default, as a run does (role user). */
export async function openSession(pipeline: TestPipeline, database: DatabaseConfig | undefined, overrides?: Record<string, unknown>): Promise<Session> {
  const { loadConfig } = await import("../config/load.js");
  const { DatabaseSession } = await import("../db/session.js");
  const base = overrideConfig(await pipeline.loadConfig(), overrides, database);
  const { config } = loadConfig({ base, baseName: pipeline.manifest.configModule ?? "outflow.config.ts", env: process.env, cwd: process.cwd() });
  const catalog = await pipeline.loadDb!();
  return DatabaseSession.open({ config, root: pipeline.root, catalog: catalog as never, role: "user" });
}

async function createPostgres(): Promise<{ config: DatabaseConfig; where: string; drop: () => Promise<void> }> {
  const server = await testPostgres();
  const { default: pg } = await import("pg");
  const name = `outflow_test_${randomBytes(6).toString("hex")}`;
  const admin = async <T>(fn: (client: InstanceType<typeof pg.Client>) => Promise<T>) => {
    const client = new pg.Client({ host: server.host, port: server.port, user: server.user, password: server.password, database: "postgres" });
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  };
  await admin((c) => c.query(`CREATE DATABASE "${name}"`));
  const user = { username: server.user, ...(server.password ? { password: server.password } : {}) };
  return {
    config: { dialect: "postgresql", address: `${server.host}:${server.port}`, database: name, user },
    where: `postgresql://${server.user}@${server.host}:${server.port}/${name}`,
    drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => undefined),
  };
}

/** Creates (and by default migrates) a fresh database. Call `drop()` when done, or use `testDatabase()`. */
export async function createTestDatabase(options: TestDatabaseOptions = {}): Promise<TestDatabase> {
  const dialect = options.dialect ?? "sqlite";
  if (dialect !== "sqlite" && dialect !== "postgresql") throw new Error(`outflow/testing: createTestDatabase: dialect must be "sqlite" or "postgresql", got ${JSON.stringify(dialect)}`);
  const pipeline = await loadTestPipeline(options.root);
  let made: { config: DatabaseConfig; where: string; drop: () => Promise<void> };
  if (dialect === "sqlite") {
    const dir = mkdtempSync(join(tmpdir(), "outflow-test-db-"));
    const path = join(dir, "outflow.db");
    made = { config: { dialect: "sqlite", path }, where: path, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  } else {
    made = await createPostgres();
  }
  let session: Promise<Session> | undefined;
  const db: TestDatabase = {
    dialect,
    config: made.config,
    where: made.where,
    em: async () => (await (session ??= openSession(pipeline, made.config))).forkEm(),
    drop: async () => {
      const open = session;
      session = undefined;
      if (open) await (await open).close().catch(() => {});
      await made.drop();
    },
  };
  if (options.migrate !== false) {
    const { runInProcess } = await import("./run-command.js");
    const run = await runInProcess({ pipeline, argv: ["management", "db", "upgrade", "heads"], database: made.config });
    if (run.exitCode !== 0) {
      await made.drop();
      throw new Error(`outflow/testing: migrating the test database (${made.where}) failed: ${run.stderr.trim() || run.stdout.trim()}`);
    }
  }
  return db;
}

/**
 * A vitest fixture: a fresh database for each test that uses it, dropped after the test.
 *
 *     const test = base.extend<{ db: TestDatabase }>({ db: testDatabase({ dialect: "postgresql" }) });
 *     test("compute_data", async ({ db }) => { ... });
 */
export function testDatabase(options: TestDatabaseOptions = {}) {
  // vitest reads the fixture's parameters: the first must be an object pattern.
  // eslint-disable-next-line no-empty-pattern
  return async ({}: object, use: (db: TestDatabase) => Promise<void>): Promise<void> => {
    const db = await createTestDatabase(options);
    try {
      await use(db);
    } finally {
      await db.drop();
    }
  };
}
