/**
 * The databases of one process: every configured database opened as a MikroORM instance, with outflow's
 * own entities in "default" and each plugin model in the database it names. Tasks get a fresh
 * EntityManager fork each (`context.em`, `context.db(name)`).
 */
import type { EntityManager, EntitySchema } from "@mikro-orm/core";
import type { OutflowConfig } from "../config/schema.js";
import { currentScope, type Scope } from "../context.js";
import { allModels, RECORDS_DATABASE, type DbCatalog, type ModelInfo } from "./catalog.js";
import { openDatabase, type OpenDatabase, type Role } from "./connect.js";
import { outflowEntities } from "./entities.js";
import { DatabaseError } from "./errors.js";

export interface SessionOptions {
  config: OutflowConfig;
  root: string;
  catalog: DbCatalog;
  role: Role;
}

/** Which entities each configured database holds; an error for a model naming an unknown database. */
export function entitiesByDatabase(config: OutflowConfig, catalog: DbCatalog): Map<string, EntitySchema[]> {
  const names = Object.keys(config.databases);
  if (!names.includes(RECORDS_DATABASE)) {
    throw new DatabaseError(`the config has no database "${RECORDS_DATABASE}" (databases.${RECORDS_DATABASE}), which holds the run records; add one or run the command with db: false`);
  }
  const out = new Map<string, EntitySchema[]>(names.map((n) => [n, n === RECORDS_DATABASE ? [...outflowEntities] : []]));
  for (const model of allModels(catalog, config.plugins)) {
    const list = out.get(model.database);
    if (!list) throw new DatabaseError(unknownDatabase(model, names));
    list.push(model.entity);
  }
  return out;
}

function unknownDatabase(model: ModelInfo, names: string[]): string {
  return `model ${model.entity.meta.className} (plugin ${model.plugin}) uses database "${model.database}", which is not in the config (databases: ${names.join(", ")})`;
}

export class DatabaseSession {
  private readonly perTask = new WeakMap<Scope, Map<string, EntityManager>>();

  private constructor(readonly databases: Map<string, OpenDatabase>) {}

  /** Opens every configured database (in parallel); closes what opened if one fails. */
  static async open(opts: SessionOptions): Promise<DatabaseSession> {
    const entities = entitiesByDatabase(opts.config, opts.catalog);
    const settled = await Promise.allSettled(
      [...entities].map(([name, list]) => openDatabase({ name, config: opts.config.databases[name], root: opts.root, role: opts.role, entities: list })),
    );
    const opened = settled.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
    if (failed) {
      await Promise.all(opened.map((d) => d.orm.close(true).catch(() => {})));
      throw failed.reason;
    }
    return new DatabaseSession(new Map(opened.map((d) => [d.name, d])));
  }

  get records(): OpenDatabase {
    return this.databases.get(RECORDS_DATABASE)!;
  }

  get(name: string): OpenDatabase {
    const found = this.databases.get(name);
    if (!found) throw new Error(`context.db("${name}"): no database "${name}" in the config (databases: ${[...this.databases.keys()].join(", ")})`);
    return found;
  }

  /** A fresh EntityManager of the default database: one per task / map element. */
  readonly forkEm = (): EntityManager => this.records.orm.em.fork() as EntityManager;

  /** `context.db(name)`: one fork per task and database, so `persist` and `flush` see the same unit of work. */
  readonly db = (name: string): EntityManager => {
    const scope = currentScope();
    if (name === RECORDS_DATABASE && scope?.em) return scope.em;
    if (!scope) return this.get(name).orm.em.fork() as EntityManager;
    let forks = this.perTask.get(scope);
    if (!forks) this.perTask.set(scope, (forks = new Map()));
    let em = forks.get(name);
    if (!em) forks.set(name, (em = this.get(name).orm.em.fork() as EntityManager));
    return em;
  };

  async close(): Promise<void> {
    await Promise.all([...this.databases.values()].map((d) => d.orm.close(true).catch(() => {})));
  }
}
