import { AsyncLocalStorage } from "node:async_hooks";
import type { EntityManager } from "@mikro-orm/core";
import type { OutflowConfig } from "./config/schema.js";

/** What a running task can reach through `context`. */
export interface Scope {
  args: Record<string, unknown>;
  config: OutflowConfig;
  run: RunInfo;
  task?: { id: string; name: string; plugin: string; element?: number };
  /** EntityManager fork for this task (or map element); absent for untracked commands. */
  em?: EntityManager;
  db?: (name: string) => EntityManager;
}

export interface RunInfo {
  /** The run record's uuid, or null when the command is untracked (`db: false`). */
  id: string | null;
  command: string[];
  backend: string;
  /** The pipeline root (relative paths in config resolve against it). */
  root: string;
}

const storage = new AsyncLocalStorage<Scope>();

export function runInScope<T>(scope: Scope, fn: () => T): T {
  return storage.run(scope, fn);
}

export function currentScope(): Scope | undefined {
  return storage.getStore();
}

function scope(what: string): Scope {
  const s = storage.getStore();
  if (!s) throw new Error(`context.${what} is only available while a command runs (inside a task)`);
  return s;
}

/** The pipeline context of the running task: args, config, database session, run and task identity. */
export const context = {
  get args(): Record<string, unknown> {
    return scope("args").args;
  },
  get config(): OutflowConfig {
    return scope("config").config;
  },
  get run(): RunInfo {
    return scope("run").run;
  },
  get task(): Scope["task"] {
    return scope("task").task;
  },
  /** The default database's EntityManager, forked for this task. */
  get em(): EntityManager {
    const s = scope("em");
    if (!s.em) throw new Error("context.em: this command runs without a database (db: false)");
    return s.em;
  },
  /** The EntityManager of another named database from the config. */
  db(name: string): EntityManager {
    const s = scope("db");
    if (!s.db) throw new Error(`context.db("${name}"): this command runs without a database (db: false)`);
    return s.db(name);
  },
};
