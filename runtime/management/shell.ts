import type { OutflowConfig } from "../config/schema.js";
import type { TaskRef } from "../api/task.js";

export interface ShellInput {
  config: OutflowConfig;
  /** Every task of the pipeline by export name (first wins on a clash) and by id. */
  tasks: Map<string, TaskRef>;
  /** The default database's EntityManager and a way to reach the others, when the pipeline has a database. */
  em?: unknown;
  db?: (name: string) => unknown;
  root: string;
}

/**
 * `management shell`: a Node REPL inside the pipeline context: `config`, `em` / `db(name)`, `tasks`
 * (call `tasks.Compute.fn(...)` to run a task body by hand) and `root`. Ends on EOF or `.exit`.
 */
export async function startShell(input: ShellInput): Promise<number> {
  const repl = await import("node:repl");
  const tasks: Record<string, TaskRef> = {};
  for (const [name, ref] of input.tasks) tasks[name] ??= ref;
  process.stdout.write(`outflow shell — pipeline at ${input.root}\nIn scope: config, tasks (${Object.keys(tasks).filter((k) => !k.includes("#")).join(", ") || "none"}), ${input.em ? "em, db(name), " : ""}root. EOF or .exit to leave.\n`);
  const server = repl.start({ prompt: "outflow> ", terminal: Boolean(process.stdin.isTTY), useGlobal: false, ignoreUndefined: true });
  Object.assign(server.context, { config: input.config, tasks, root: input.root, ...(input.em ? { em: input.em, db: input.db } : {}) });
  await new Promise<void>((resolve) => server.on("exit", () => resolve()));
  return 0;
}
