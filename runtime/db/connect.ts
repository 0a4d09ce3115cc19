/**
 * Opens one configured database as a MikroORM instance. The drivers are imported lazily (PostgreSQL's
 * only when a PostgreSQL database is configured). MikroORM is initialised by hand rather than with
 * `MikroORM.init`, which would read `.env` / `MIKRO_ORM_*` from the environment and re-check package
 * versions: a stray `.env` in a Slurm job's folder must not change where the records go.
 */
import { isAbsolute, resolve } from "node:path";
import type { EntitySchema, MikroORM, Options } from "@mikro-orm/core";
import type { Database as SqliteHandle } from "better-sqlite3";
import type { DatabaseConfig } from "../config/schema.js";
import { maskString } from "../config/mask.js";
import { getLogger } from "../logging/logger.js";
import type { Dialect } from "./catalog.js";
import { DatabaseError, driverReason } from "./errors.js";

/** `admin` runs migrations (DDL); `user` reads and writes data. */
export type Role = "user" | "admin";

/** SQLite waits this long for a lock held by another process before "database is locked". */
export const SQLITE_BUSY_TIMEOUT_MS = 10_000;
const PG_CONNECT_TIMEOUT_MS = 5_000;

export interface OpenOptions {
  name: string;
  config: DatabaseConfig;
  /** The pipeline root: a relative SQLite path resolves against it. */
  root: string;
  role: Role;
  entities: EntitySchema[];
  /** More MikroORM options (migrations, schemaGenerator…). */
  extra?: Partial<Options>;
}

export interface OpenDatabase {
  name: string;
  dialect: Dialect;
  orm: MikroORM;
  /** How messages name it, no password: `sqlite /abs/outflow.db`, `postgresql://user@host:5432/db`. */
  where: string;
  /** The login this connection uses (PostgreSQL). */
  login?: string;
}

/**
 * The better-sqlite3 handle under a SQLite database's ORM: knex keeps exactly one connection, so what
 * runs on it and what the ORM runs share one connection, and one transaction when one is open.
 */
export async function sqliteHandle(db: OpenDatabase): Promise<SqliteHandle> {
  const pool = connectionPool<SqliteHandle>(db);
  const raw = await pool.acquireConnection();
  await pool.releaseConnection(raw);
  return raw;
}

/** The knex pool under a database's ORM: its driver's connections (better-sqlite3 handles, pg clients). */
export function connectionPool<C>(db: OpenDatabase): { acquireConnection(): Promise<C>; releaseConnection(c: C): Promise<void> } {
  return (db.orm.em.getConnection() as unknown as { getKnex(): { client: never } }).getKnex().client;
}

export function sqliteFile(config: Extract<DatabaseConfig, { dialect: "sqlite" }>, root: string): string {
  return config.path === ":memory:" || isAbsolute(config.path) ? config.path : resolve(root, config.path);
}

/** `host`, `host:port`, `[v6]:port`, or a socket directory (`/run/postgresql`). */
export function parseAddress(address: string): { host: string; port?: number } {
  if (address.startsWith("/")) return { host: address };
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(address);
  if (v6) return { host: v6[1], port: v6[2] ? Number(v6[2]) : undefined };
  const m = /^([^:]+):(\d+)$/.exec(address);
  return m ? { host: m[1], port: Number(m[2]) } : { host: address };
}

function login(config: Extract<DatabaseConfig, { dialect: "postgresql" }>, role: Role) {
  return role === "admin" ? (config.admin ?? config.user) : config.user;
}

export function describeDatabase(config: DatabaseConfig, root: string, role: Role = "user"): string {
  if (config.dialect === "sqlite") return `sqlite ${sqliteFile(config, root)}`;
  const { host, port } = parseAddress(config.address);
  const hostPart = host.includes(":") ? `[${host}]` : host;
  return `postgresql://${login(config, role).username}@${hostPart}${port ? `:${port}` : ""}/${config.database}`;
}

function sqliteOptions(config: Extract<DatabaseConfig, { dialect: "sqlite" }>, root: string): Partial<Options> {
  return {
    dbName: sqliteFile(config, root),
    pool: {
      // Every connection knex opens: WAL (readers never block the writer), a busy timeout so concurrent
      // runs wait for the lock instead of failing, and NORMAL sync (durable at checkpoints; safe in WAL).
      afterCreate(conn: { pragma(sql: string): unknown }, done: (err: Error | null, conn: unknown) => void) {
        try {
          conn.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
          conn.pragma("journal_mode = WAL");
          conn.pragma("synchronous = NORMAL");
          done(null, conn);
        } catch (error) {
          done(error as Error, conn);
        }
      },
    } as never,
  };
}

function postgresqlOptions(config: Extract<DatabaseConfig, { dialect: "postgresql" }>, role: Role): Partial<Options> {
  const { host, port } = parseAddress(config.address);
  const who = login(config, role);
  return {
    dbName: config.database,
    host,
    port,
    user: who.username,
    password: who.password,
    pool: { min: 0, max: 4, idleTimeoutMillis: 10_000 } as never,
    driverOptions: { acquireConnectionTimeout: PG_CONNECT_TIMEOUT_MS * 2, connection: { connectionTimeoutMillis: PG_CONNECT_TIMEOUT_MS, application_name: "outflow" } },
  };
}

async function driverFor(dialect: Dialect) {
  if (dialect === "sqlite") return (await import("@mikro-orm/better-sqlite")).BetterSqliteDriver;
  return (await import("@mikro-orm/postgresql")).PostgreSqlDriver;
}

/** Opens and checks the connection (`select 1`). Failure: a DatabaseError naming the database. */
export async function openDatabase(opts: OpenOptions): Promise<OpenDatabase> {
  const { MikroORM } = await import("@mikro-orm/core");
  const dialect = opts.config.dialect;
  const where = describeDatabase(opts.config, opts.root, opts.role);
  const log = getLogger("outflow.db");
  const base: Options = {
    driver: (await driverFor(dialect)) as never,
    entities: opts.entities,
    baseDir: opts.root,
    discovery: { warnWhenNoEntities: false },
    metadataCache: { enabled: false },
    ensureDatabase: false,
    allowGlobalContext: false,
    debug: false,
    colors: false,
    logger: (message: string) => log.debug(maskString(message)),
    ...(dialect === "sqlite" ? sqliteOptions(opts.config as never, opts.root) : postgresqlOptions(opts.config as never, opts.role)),
    ...opts.extra,
  };
  let orm: MikroORM;
  try {
    orm = new MikroORM(base);
    await orm.discoverEntities();
    (orm as unknown as { driver: { getPlatform(): { init(o: unknown): void } } }).driver.getPlatform().init(orm);
  } catch (error) {
    throw new DatabaseError(`database "${opts.name}": invalid models: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`);
  }
  try {
    await orm.connect();
    await orm.em.getConnection().execute("select 1");
  } catch (error) {
    await orm.close(true).catch(() => {});
    throw new DatabaseError(`cannot connect to database "${opts.name}" (${where}): ${driverReason(error)}`);
  }
  return { name: opts.name, dialect, orm, where, login: opts.config.dialect === "postgresql" ? login(opts.config, opts.role).username : undefined };
}
