/**
 * Where a command declares one of its args: `command({ args: { backend: ... } })` → the `backend` key,
 * for diagnostics about that arg (OF112). Falls back to the command's own site when the args are not an
 * object literal the compiler can see (built elsewhere, spread in).
 */
import { Node, type Project } from "ts-morph";
import type { Site } from "../contract/manifest.js";
import { callAt, objectLiteralOf, propertyNamed } from "./call-at.js";

export function argSite(project: Project, root: string, command: Site, arg: string): Site {
  const options = objectLiteralOf(callAt(project, root, command)?.getArguments()[0]);
  const property = options && propertyNamed(options, "args");
  const args = Node.isPropertyAssignment(property) ? objectLiteralOf(property.getInitializer()) : undefined;
  const key = args && propertyNamed(args, arg);
  if (!key) return command;
  const { line, column } = key.getSourceFile().getLineAndColumnAtPos(key.getStart());
  return { file: command.file, line, column };
}
