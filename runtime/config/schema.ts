/**
 * The pipeline configuration: its zod/mini schema and its types. Known sections are strict (a typo is
 * an error); any other top-level key is kept as a user field, as in the original outflow.
 * `defineConfig()` lives in define.ts, so pipeline code that imports "outflow" does not build this schema.
 */
import * as z from "zod/mini";

export const LOG_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];

const logLevel = z.enum(LOG_LEVELS);

/** A database login: `{ username, password? }`. */
const credentials = z.strictObject({
  username: z.string().check(z.minLength(1)),
  password: z.optional(z.string()),
});

const sqliteDatabase = z.strictObject({
  dialect: z.literal("sqlite"),
  /** Database file, relative to the pipeline root unless absolute. */
  path: z._default(z.string().check(z.minLength(1)), "outflow.db"),
});

const postgresqlDatabase = z.strictObject({
  dialect: z.literal("postgresql"),
  /** `host` or `host:port`. */
  address: z.string().check(z.minLength(1)),
  database: z.string().check(z.minLength(1)),
  /** The role that reads and writes data. */
  user: credentials,
  /** The role that runs DDL and migrations (defaults to `user`). */
  admin: z.optional(credentials),
});

const database = z.discriminatedUnion("dialect", [sqliteDatabase, postgresqlDatabase]);

const DEFAULT_DATABASES = { default: { dialect: "sqlite", path: "outflow.db" } } as const;

export const configSchema = z.looseObject({
  plugins: z._default(z.array(z.string().check(z.minLength(1))), () => []),
  databases: z.prefault(z.record(z.string(), database), () => structuredClone(DEFAULT_DATABASES)),
  backend: z._default(z.enum(["sequential", "threads", "slurm"]), "sequential"),
  threads: z.prefault(z.strictObject({ workers: z.optional(z.int().check(z.positive())) }), () => ({})),
  logging: z.prefault(
    z.strictObject({
      level: z._default(logLevel, "INFO"),
      /** Per-plugin (or any logger-name prefix) levels, e.g. `{ data_reduction: "DEBUG" }`. */
      plugins: z._default(z.record(z.string(), logLevel), () => ({})),
      /** Also append log lines to this file. */
      file: z.optional(z.string().check(z.minLength(1))),
    }),
    () => ({}),
  ),
  /** Defaults for sbatch directives; `map({...})` options and the CLI override them. */
  slurm: z.prefault(
    z.strictObject({
      partition: z.optional(z.string()),
      account: z.optional(z.string()),
      qos: z.optional(z.string()),
      time: z.optional(z.string()),
      mem: z.optional(z.string()),
      cpusPerTask: z.optional(z.int().check(z.positive())),
      /** Map elements per array task: a number, or "auto" (about one array task per slot; see the README). */
      elementsPerTask: z.optional(z.custom<number | "auto">((v) => v === "auto" || (Number.isInteger(v) && (v as number) >= 1), { error: 'expected a positive integer or "auto"' })),
      /** Extra raw `#SBATCH` arguments, e.g. `["--exclusive"]`. */
      extra: z.optional(z.array(z.string())),
    }),
    () => ({}),
  ),
});

/** The validated configuration, defaults applied. User fields are kept as `unknown`. */
export type OutflowConfig = z.output<typeof configSchema>;
/** What a user writes in `outflow.config.ts` or a per-instance file. */
export type OutflowConfigInput = z.input<typeof configSchema>;
export type DatabaseConfig = OutflowConfig["databases"][string];
export type SqliteDatabaseConfig = Extract<DatabaseConfig, { dialect: "sqlite" }>;
export type PostgresqlDatabaseConfig = Extract<DatabaseConfig, { dialect: "postgresql" }>;
export type LoggingConfig = OutflowConfig["logging"];
export type SlurmConfig = OutflowConfig["slurm"];
