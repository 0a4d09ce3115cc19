import type { ArgSpec } from "../../contract/manifest.js";
import { flagName } from "./args.js";

export interface HelpInput {
  usage: string;
  description: string;
  args: Record<string, ArgSpec>;
  globals?: Record<string, ArgSpec>;
  subcommands: { name: string; description: string }[];
}

function optionLine(name: string, spec: ArgSpec): [string, string] {
  const hint = spec.type === "boolean" ? "" : spec.type === "enum" ? `=<${spec.options?.join("|")}>` : `=<${spec.type === "integer" ? "int" : spec.type}>`;
  const aliases = (spec.alias ?? []).map((a) => `-${a}, `).join("");
  const notes = [spec.required ? "(required)" : "", spec.default !== undefined ? `(default: ${spec.default})` : ""].filter(Boolean).join(" ");
  return [`${aliases}--${flagName(name)}${hint}`, [spec.description ?? "", notes].filter(Boolean).join(" ")];
}

function table(rows: [string, string][]): string {
  const width = Math.max(...rows.map((r) => r[0].length));
  return rows.map(([a, b]) => `  ${a.padEnd(width)}  ${b}`.trimEnd()).join("\n");
}

/** Plain-text help, the same on a TTY and in a pipe. */
export function renderHelp(input: HelpInput): string {
  const parts = [input.description ? `${input.description}\n` : "", `Usage: ${input.usage}${input.subcommands.length ? " <command>" : ""}${Object.keys(input.args).length || input.globals ? " [options]" : ""}`];
  if (input.subcommands.length) parts.push(`\nCommands:\n${table(input.subcommands.map((s) => [s.name, s.description]))}`);
  const own = Object.entries(input.args).map(([n, s]) => optionLine(n, s));
  if (own.length) parts.push(`\nOptions:\n${table(own)}`);
  const globals = Object.entries(input.globals ?? {}).map(([n, s]) => optionLine(n, s));
  globals.push(["-h, --help", "Show this help"]);
  parts.push(`\n${own.length ? "Common options" : "Options"}:\n${table(globals)}`);
  return parts.join("\n") + "\n";
}
