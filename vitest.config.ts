import { defineConfig } from "vitest/config";
import { fileURLToPath } from "node:url";

export default defineConfig({
  resolve: {
    alias: {
      "outflow/testing": fileURLToPath(new URL("./runtime/testing/index.ts", import.meta.url)),
      "outflow/models": fileURLToPath(new URL("./runtime/models.ts", import.meta.url)),
      "outflow/migrations": fileURLToPath(new URL("./runtime/migrations.ts", import.meta.url)),
      "outflow/start": fileURLToPath(new URL("./runtime/start.ts", import.meta.url)),
      outflow: fileURLToPath(new URL("./runtime/index.ts", import.meta.url)),
    },
  },
  test: {
    include: ["test/**/*.test.ts"],
    // Hands out a folder for the throwaway PostgreSQL cluster (started lazily by the first test that needs it).
    globalSetup: ["test/setup/postgres.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
  },
});
