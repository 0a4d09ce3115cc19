import type { OutflowConfigInput } from "./schema.js";

/** Typed identity for `outflow.config.ts`: `export default defineConfig({ plugins: [...] })`. */
export function defineConfig(config: OutflowConfigInput): OutflowConfigInput {
  return config;
}
