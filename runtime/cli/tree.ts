import type { ArgSpec, CommandSpec, Manifest } from "../../contract/manifest.js";

/** One node of the CLI: a pipeline command from the manifest, or a built-in (management) command. */
export interface CliNode {
  name: string;
  path: string[];
  description: string;
  args: Record<string, ArgSpec>;
  children: CliNode[];
  /** The pipeline command this node runs (undefined for groups and built-ins). */
  command?: CommandSpec;
  /** A built-in's implementation; returns the exit code. */
  builtin?: (args: Record<string, unknown>) => Promise<number>;
  invokable: boolean;
}

export function commandNode(manifest: Manifest, spec: CommandSpec): CliNode {
  const children = manifest.commands.filter((c) => c.path.length === spec.path.length + 1 && spec.path.every((p, i) => c.path[i] === p));
  return {
    name: spec.name,
    path: spec.path,
    description: spec.description,
    args: spec.args,
    children: children.map((c) => commandNode(manifest, c)),
    command: spec,
    invokable: spec.invokable,
  };
}

/** Descends into subcommands named at the front of argv; returns the node and the remaining argv. */
export function selectNode(root: CliNode, argv: string[]): { node: CliNode; rest: string[] } {
  let node = root;
  let i = 0;
  while (i < argv.length) {
    const child = node.children.find((c) => c.name === argv[i]);
    if (!child) break;
    node = child;
    i++;
  }
  return { node, rest: argv.slice(i) };
}
