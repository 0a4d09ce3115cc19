/**
 * `management db …`: upgrade, downgrade, make-migrations, status. Each opens the databases it needs as
 * the admin role and prints one line per database and component.
 */
import { existsSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import type { OutflowConfig } from "../config/schema.js";
import type { BundleInput } from "../main.js";
import { componentMigrations, componentsIn, EMPTY_CATALOG, OUTFLOW, pluginModels, type DbCatalog } from "../db/catalog.js";
import { databaseStatus } from "../db/check.js";
import { openDatabase, type OpenDatabase, type Role } from "../db/connect.js";
import { outflowEntities } from "../db/entities.js";
import { DatabaseError } from "../db/errors.js";
import { makeMigration } from "../db/make-migration.js";
import { downgrade, grantUserRole, modelTables, upgrade } from "../db/migrate.js";
import { withSchemaLock } from "../db/schema-lock.js";
import { managementConfig } from "./config.js";

const out = (line: string) => process.stdout.write(line + "\n");

export function dbCommands(input: BundleInput, root: string) {
  const context = async (values: Record<string, unknown>) => {
    const { config } = await managementConfig(input, values);
    const catalog = ((await input.loadDb?.()) as DbCatalog | undefined) ?? EMPTY_CATALOG;
    const only = values.database as string | undefined;
    const names = Object.keys(config.databases);
    if (only !== undefined && !names.includes(only)) throw new DatabaseError(`--database ${only}: no such database in the config (databases: ${names.join(", ") || "none"})`);
    return { config, catalog, databases: only ? [only] : names };
  };

  async function withDatabase<T>(config: OutflowConfig, name: string, role: Role, fn: (db: OpenDatabase) => Promise<T>, entities: Parameters<typeof openDatabase>[0]["entities"] = []): Promise<T> {
    const db = await openDatabase({ name, config: config.databases[name], root, role, entities });
    try {
      return await fn(db);
    } finally {
      await db.orm.close(true).catch(() => {});
    }
  }

  function checkComponent(config: OutflowConfig, component: string): void {
    if (component !== OUTFLOW && !config.plugins.includes(component)) {
      throw new DatabaseError(`unknown plugin "${component}": the config lists ${config.plugins.length ? config.plugins.join(", ") : "no plugins"} (and "outflow" names outflow's own tables)`);
    }
  }

  return {
    /** `upgrade heads` | `upgrade outflow` | `upgrade <plugin>`. */
    async upgrade(target: string, values: Record<string, unknown>): Promise<number> {
      const { config, catalog, databases } = await context(values);
      if (target !== "heads") checkComponent(config, target);
      for (const name of databases) {
        const components = componentsIn(catalog, config.plugins, name).filter((c) => target === "heads" || c === target);
        if (!components.length) continue;
        await withDatabase(config, name, "admin", async (db) => {
          out(`database "${name}" (${db.where})`);
          // One upgrade at a time per database; on SQLite all of it is one transaction, said once committed.
          const said: string[] = [];
          let done = false;
          try {
            await withSchemaLock(db, async (migrators) => {
              for (const c of components) {
                if (!componentMigrations(catalog, c, name, db.dialect)?.length) {
                  said.push(`  ${c}: no ${db.dialect} migrations${c === OUTFLOW ? "" : ` (create them: outflow management db make-migrations --plugin ${c} --message "...")`}`);
                  continue;
                }
                const applied = await upgrade(db, catalog, c, migrators);
                said.push(...(applied.length ? applied.map((m) => `  ${c}: applied ${m}`) : [`  ${c}: up to date`]));
              }
            });
            done = true;
          } finally {
            if (done || db.dialect !== "sqlite") said.forEach(out);
            // On PostgreSQL each component's migrations commit on their own: what was committed before a
            // failure is granted too (a grant failing then does not hide the upgrade's own error).
            const grant = grantUserRole(db, config.databases[name], modelTables(catalog, config.plugins, name));
            const granted = done ? await grant : await grant.catch(() => undefined);
            if (granted) out(`  granted data access (select, insert, update, delete) on every table to role ${granted}`);
          }
        });
      }
      return 0;
    },

    /** `downgrade --plugin X`: one step back in every selected database where X has applied migrations. */
    async downgrade(values: Record<string, unknown>): Promise<number> {
      const { config, catalog, databases } = await context(values);
      const component = values.plugin as string;
      checkComponent(config, component);
      let any = false;
      for (const name of databases) {
        if (!componentsIn(catalog, config.plugins, name).includes(component)) continue;
        await withDatabase(config, name, "admin", async (db) => {
          // Under the schema lock, as an upgrade: one schema change at a time, on SQLite in one transaction.
          const reverted = await withSchemaLock(db, (migrators) => downgrade(db, catalog, component, migrators));
          if (reverted) any = true;
          out(`database "${name}" (${db.where})\n  ${component}: ${reverted ? `reverted ${reverted}` : "no applied migration to revert"}`);
          if (reverted) await grantUserRole(db, config.databases[name], modelTables(catalog, config.plugins, name));
        });
      }
      if (!any) out(`${component}: nothing was reverted`);
      return 0;
    },

    /** `make-migrations --plugin X --message "..."`: one migration per database X has models in. */
    async makeMigrations(values: Record<string, unknown>): Promise<number> {
      const { config, catalog, databases } = await context(values);
      const component = values.plugin as string;
      const message = String(values.message ?? "").trim();
      if (!message) throw new DatabaseError("--message must not be empty");
      checkComponent(config, component);
      const targets = migrationTargets(input, root, catalog, config, component).filter((t) => databases.includes(t.database));
      if (!targets.length) throw new DatabaseError(`plugin ${component} has no models${values.database ? ` in database "${values.database}"` : ""} (declare them with defineEntity in plugins/${component}/models/*.ts and export them)`);
      let written = 0;
      for (const t of targets) {
        await withDatabase(
          config,
          t.database,
          "admin",
          async (db) => {
            const dir = t.dir(db.dialect);
            const made = await makeMigration({ db, catalog, component, dir, message });
            if (!made.file) return out(`${component}: models match database "${t.database}" (${db.where}); no migration written`);
            written++;
            out(`${component}: wrote ${relative(root, made.file)} (${made.up.length} statement${made.up.length === 1 ? "" : "s"} up, ${made.down.length} down)`);
          },
          t.entities,
        );
      }
      if (written) out("Review the migration, rebuild (outflow build), then apply it: outflow management db upgrade heads");
      return 0;
    },

    async status(values: Record<string, unknown>): Promise<number> {
      const { config, catalog, databases } = await context(values);
      for (const name of databases) {
        await withDatabase(config, name, "user", async (db) => {
          out(`database "${name}" (${db.where})`);
          const statuses = await databaseStatus(db, catalog, config.plugins);
          if (!statuses.length) out("  (nothing to migrate)");
          const width = Math.max(0, ...statuses.map((s) => s.component.length));
          for (const s of statuses) {
            const extra = [s.pending.length ? `pending: ${s.pending.join(", ")}` : "", s.unknown.length ? `unknown to this build: ${s.unknown.join(", ")}` : ""].filter(Boolean).join("; ");
            out(`  ${s.component.padEnd(width)}  ${s.applied.length} applied, ${s.pending.length} pending${extra ? ` (${extra})` : ""}`);
          }
        });
      }
      return 0;
    },
  };
}

interface MigrationTarget {
  database: string;
  entities: Parameters<typeof openDatabase>[0]["entities"];
  dir: (dialect: string) => string;
}

/** Where a component's new migrations go, per database it has models in. */
function migrationTargets(input: BundleInput, root: string, catalog: DbCatalog, config: OutflowConfig, component: string): MigrationTarget[] {
  if (component === OUTFLOW) {
    // outflow's own migrations live in the outflow package: only its own checkout may write them.
    const pkg = join(root, "package.json");
    const name = existsSync(pkg) ? (JSON.parse(readFileSync(pkg, "utf8")) as { name?: string }).name : undefined;
    if (name !== "outflow") throw new DatabaseError(`outflow's own migrations are part of the outflow package; run make-migrations --plugin outflow in the outflow repository`);
    return [{ database: "default", entities: [...outflowEntities], dir: (dialect) => join(root, "migrations", dialect) }];
  }
  const plugin = input.manifest.plugins.find((p) => p.name === component);
  const dir = join(root, plugin?.dir ?? join("plugins", ...component.split(".")), "migrations");
  const byDatabase = new Map<string, MigrationTarget["entities"]>();
  for (const m of pluginModels(catalog, component)) {
    if (!config.databases[m.database]) throw new DatabaseError(`model ${m.entity.meta.className} (plugin ${component}) uses database "${m.database}", which is not in the config`);
    byDatabase.set(m.database, [...(byDatabase.get(m.database) ?? []), m.entity]);
  }
  return [...byDatabase].map(([database, entities]) => ({ database, entities, dir: (dialect) => (database === "default" ? join(dir, dialect) : join(dir, database, dialect)) }));
}
