import { loadConfig, type LoadedConfig } from "../config/load.js";
import type { BundleInput } from "../main.js";

/** The pipeline config as a command sees it: outflow.config.ts ← `--config` / OUTFLOW_CONFIG_PATH. */
export async function managementConfig(input: BundleInput, values: Record<string, unknown>): Promise<LoadedConfig> {
  const base = await input.loadConfig();
  const file = (values.config as string | undefined) ?? process.env.OUTFLOW_CONFIG_PATH;
  return loadConfig({ base, baseName: input.manifest.configModule ?? "outflow.config.ts", file, env: process.env, cwd: process.cwd() });
}
