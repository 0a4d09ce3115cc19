/**
 * The files `outflow create plugin <name>` writes into `plugins/<a>/<b>/`: an example task pair, a
 * command named after the plugin, an empty models/ and migrations/, and a vitest test of both.
 */

export interface PluginTemplateInput {
  /** The dotted name as listed in outflow.config.ts: `astro.photometry`. */
  name: string;
  /** Its last segment: `photometry`. The example command's CLI name. */
  short: string;
  /** A valid identifier for the command's export (`photometry`, or `photometry_command` for a reserved word). */
  commandExport: string;
}

export function tasksFile(input: PluginTemplateInput): string {
  return `import { task, logger } from "outflow";

/**
 * A task is a plain typed function: its parameters are its inputs, the keys of the object it returns
 * are its outputs. \`outflow build\` checks that every input is provided by an upstream output.
 */
export const MakeGreeting = task(function MakeGreeting(): { greeting: string } {
  return { greeting: "Hello from ${input.short}" };
});

export const PrintGreeting = task(function PrintGreeting(greeting: string): void {
  logger.info(greeting);
});
`;
}

export function commandsFile(input: PluginTemplateInput): string {
  return `import { command } from "outflow";
import { MakeGreeting, PrintGreeting } from "./tasks.js";

/** \`node dist/${input.short}.js\`: an example command of the ${input.name} plugin. */
export const ${input.commandExport} = command({
  name: "${input.short}",
  description: "Example command of the ${input.name} plugin",
  // Untracked: runs without a database. Remove this line once \`npx outflow build && node dist/manage.js
  // management db upgrade heads\` has created the database, and every run is recorded.
  db: false,
  setup() {
    MakeGreeting().pipe(PrintGreeting());
  },
});
`;
}

export function modelsIndex(input: PluginTemplateInput): string {
  return `// Models of the ${input.name} plugin: each exported entity is a table in the database.
// Uncomment and adapt, then \`node dist/manage.js management db make-migrations --plugin ${input.name}\`.
//
// import { defineEntity, p } from "outflow/models";
//
// export const MyTable = defineEntity({
//   name: "MyTable",
//   properties: {
//     id: p.integer().primary().autoincrement(),
//     myColumn: p.integer().unique(),
//   },
// });

export {};
`;
}

export function pluginTest(input: PluginTemplateInput): string {
  return `import { describe, expect, it } from "vitest";
import { runCommand, runTask } from "outflow/testing";
import { MakeGreeting } from "../tasks.js";

describe("${input.name}", () => {
  it("MakeGreeting returns the greeting", async () => {
    const outputs = await runTask(MakeGreeting, {});
    expect(outputs).toEqual({ greeting: "Hello from ${input.short}" });
  });

  it("the ${input.short} command logs it", async () => {
    const run = await runCommand(["${input.short}"]);
    expect(run.exitCode).toBe(0);
    expect(run.stderr).toContain("Hello from ${input.short}");
  });
});
`;
}
