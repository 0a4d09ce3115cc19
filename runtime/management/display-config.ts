/**
 * `management display-config`: the effective configuration, one `key = value` line per setting with the
 * file it came from (or `default`), credentials masked.
 */
import { maskSecrets } from "../config/mask.js";
import type { BundleInput } from "../main.js";
import { managementConfig } from "./config.js";

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** Dotted path → value, for every leaf (arrays and empty objects are leaves). */
function leaves(value: Record<string, unknown>, prefix: string[] = []): Array<[string, unknown]> {
  return Object.entries(value).flatMap(([key, v]): Array<[string, unknown]> => {
    const path = [...prefix, key];
    return isObject(v) && Object.keys(v).length ? leaves(v, path) : [[path.join("."), v]];
  });
}

function origin(sources: Map<string, string>, dotted: string): string {
  const parts = dotted.split(".");
  for (let n = parts.length; n > 0; n--) {
    const found = sources.get(parts.slice(0, n).join("."));
    if (found !== undefined) return found;
  }
  return "default";
}

export function renderConfig(config: Record<string, unknown>, sources: Map<string, string>): string {
  const masked = maskSecrets(config);
  const rows = leaves(masked).map(([path, value]) => [`${path} = ${JSON.stringify(value) ?? "undefined"}`, origin(sources, path)] as const);
  const files = [...new Set([...sources.values()].filter((s) => s !== "default"))];
  const width = Math.min(72, Math.max(...rows.map((r) => r[0].length)));
  const lines = rows.map(([text, from]) => `${text.padEnd(width)}  # ${from}`);
  return `# configuration from: ${files.length ? files.join(", ") : "defaults only"} (credentials masked)\n${lines.join("\n")}\n`;
}

export async function displayConfig(input: BundleInput, values: Record<string, unknown>): Promise<number> {
  const { config, sources } = await managementConfig(input, values);
  process.stdout.write(renderConfig(config as Record<string, unknown>, sources));
  return 0;
}
