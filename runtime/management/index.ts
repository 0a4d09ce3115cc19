/**
 * The built-in `management` plugin of every `dist/manage.js`: `db upgrade|downgrade|make-migrations|status`
 * and `display-config`. Building the tree is cheap; each command imports its implementation (and
 * MikroORM) only when it runs, so `--help` stays fast.
 */
import type { ArgSpec } from "../../contract/manifest.js";
import type { CliNode } from "../cli/tree.js";
import type { BundleInput } from "../main.js";

const configOption: ArgSpec = { type: "string", description: "Per-instance config file (.yml/.yaml/.json); also OUTFLOW_CONFIG_PATH" };
const databaseOption: ArgSpec = { type: "string", description: "Only this database (a name under `databases`); default: every database" };

function leaf(path: string[], description: string, args: Record<string, ArgSpec>, run: (values: Record<string, unknown>) => Promise<number>): CliNode {
  return { name: path[path.length - 1], path, description, args, children: [], builtin: run, invokable: true };
}

function group(path: string[], description: string, children: CliNode[]): CliNode {
  return { name: path[path.length - 1], path, description, args: {}, children, invokable: false };
}

export function managementNode(input: BundleInput, root: string): CliNode {
  const db = async () => (await import("./db.js")).dbCommands(input, root);
  const plugins = input.manifest.plugins.map((p) => p.name);
  const upgradeTarget = (name: string, description: string) =>
    leaf(["management", "db", "upgrade", name], description, { config: configOption, database: databaseOption }, async (v) => (await db()).upgrade(name, v));
  return group(["management"], "Built-in commands: db, display-config, shell", [
    group(["management", "db"], "Database migrations", [
      group(["management", "db", "upgrade"], "Apply migrations (as the admin role)", [
        upgradeTarget("heads", "Apply every pending migration: outflow's own tables, then every plugin's"),
        upgradeTarget("outflow", "Apply outflow's own migrations (the run records)"),
        ...plugins.map((p) => upgradeTarget(p, `Apply the migrations of plugin ${p}`)),
      ]),
      leaf(
        ["management", "db", "downgrade"],
        "Revert the last applied migration of one plugin (or of outflow)",
        { plugin: { type: "string", required: true, description: `Plugin name, or "outflow"` }, config: configOption, database: databaseOption },
        async (v) => (await db()).downgrade(v),
      ),
      leaf(
        ["management", "db", "make-migrations"],
        "Diff a plugin's models against the database and write a new migration into plugins/<plugin>/migrations/",
        {
          plugin: { type: "string", required: true, description: "Plugin name" },
          message: { type: "string", required: true, description: "What the migration does, e.g. \"Add table 'computation_result'\"" },
          config: configOption,
          database: databaseOption,
        },
        async (v) => (await db()).makeMigrations(v),
      ),
      leaf(["management", "db", "status"], "Applied and pending migrations of every database", { config: configOption, database: databaseOption }, async (v) => (await db()).status(v)),
    ]),
    leaf(["management", "shell"], "A Node REPL inside the pipeline context: config, tasks, em / db(name)", { config: configOption }, async (v) => (await import("./open-shell.js")).openShell(input, root, v)),
    leaf(["management", "display-config"], "Print the effective configuration (credentials masked) and where each value comes from", { config: configOption }, async (v) =>
      (await import("./display-config.js")).displayConfig(input, v),
    ),
  ]);
}
