/**
 * The files `outflow init` writes: a pipeline skeleton that installs, builds and tests out of the box.
 * Each template is a function of the few values that vary, returning the file's text.
 */

export interface PipelineTemplateInput {
  /** npm package name of the pipeline (from the folder name). */
  packageName: string;
  /** How package.json depends on outflow: `file:/abs/outflow` or `^0.1.0`. */
  outflowSpec: string;
  /** Exact versions of the dev tools, taken from outflow's own package.json so the npm cache serves them. */
  devVersions: { vitest: string; typescript: string; typesNode: string };
}

export function packageJson(input: PipelineTemplateInput): string {
  const pkg = {
    name: input.packageName,
    version: "0.1.0",
    private: true,
    type: "module",
    scripts: {
      build: "outflow build",
      check: "outflow build --check",
      test: "vitest run",
      typecheck: "tsc --noEmit",
    },
    dependencies: { outflow: input.outflowSpec },
    devDependencies: {
      "@types/node": input.devVersions.typesNode,
      typescript: input.devVersions.typescript,
      vitest: input.devVersions.vitest,
    },
  };
  return JSON.stringify(pkg, null, 2) + "\n";
}

export function tsconfigJson(): string {
  const config = {
    compilerOptions: {
      target: "ES2022",
      module: "ESNext",
      moduleResolution: "bundler",
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      esModuleInterop: true,
      resolveJsonModule: true,
      isolatedModules: true,
      allowImportingTsExtensions: true,
      lib: ["ES2023"],
      types: ["node"],
    },
    include: ["plugins", "test", "outflow.config.ts", "vitest.config.ts"],
    exclude: ["node_modules", "dist", "generated"],
  };
  return JSON.stringify(config, null, 2) + "\n";
}

export function outflowConfig(): string {
  return `import { defineConfig } from "outflow";

export default defineConfig({
  // Plugin folders under plugins/ (\`a.b\` is plugins/a/b/). \`npx outflow create plugin <name>\` adds one here.
  plugins: [],
  // The run records (and your models) go to this SQLite file; PostgreSQL: { dialect: "postgresql", address, database, user }.
  databases: { default: { dialect: "sqlite", path: "outflow.db" } },
  backend: "sequential",
  logging: { level: "INFO" },
});
`;
}

export function vitestConfig(): string {
  return `import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "plugins/**/*.test.ts"],
    // The first test that runs a task compiles the pipeline (a few seconds, then cached).
    testTimeout: 60_000,
    hookTimeout: 60_000,
    passWithNoTests: true,
  },
});
`;
}

export function gitignore(): string {
  return ["node_modules/", "dist/", "generated/", "*.db*", "*.log", ""].join("\n");
}

export function readme(input: { title: string }): string {
  return `# ${input.title}

A data-reduction pipeline built with [outflow](https://www.npmjs.com/package/outflow).

\`\`\`sh
npm install
npx outflow create plugin my_plugin     # a plugin folder with an example task, command and test
npx outflow build                       # check every command graph, write generated/ and dist/
node dist/my_plugin.js                  # run a command ("node dist/manage.js --help" lists them all)
npm test                                # vitest, with the helpers of outflow/testing
\`\`\`

- \`outflow.config.ts\`: the plugins this pipeline uses, its databases, backend and logging.
- \`plugins/\`: one folder per plugin: \`tasks.ts\`, \`commands.ts\`, \`models/\`, \`migrations/\`, \`test/\`.
- \`test/\`: pipeline-wide tests.
- \`dist/\`: what \`outflow build\` ships: one self-contained bundle per command, plus \`manage.js\`.
`;
}

export function testReadme(): string {
  return `Pipeline-wide tests (vitest). Plugin tests live in \`plugins/<plugin>/test/\`. Helpers: \`outflow/testing\`.\n`;
}
