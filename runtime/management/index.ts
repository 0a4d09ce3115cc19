import type { CliNode } from "../cli/tree.js";
import type { BundleInput } from "../main.js";

/** The built-in `management` plugin: database, config display, shell. */
export function managementNode(input: BundleInput, root: string): CliNode {
  void input;
  void root;
  return { name: "management", path: ["management"], description: "Built-in commands: db, display-config, shell", args: {}, children: [], invokable: false };
}
