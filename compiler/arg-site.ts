/**
 * Where a command declares one of its args: `command({ args: { backend: ... } })` → the `backend` key,
 * for diagnostics about that arg (OF112). Falls back to the command's own site when the args are not an
 * object literal the compiler can see (built elsewhere, spread in).
 */
import { join } from "node:path";
import { Node, SyntaxKind, type ObjectLiteralExpression, type Project } from "ts-morph";
import type { Site } from "../contract/manifest.js";

export function argSite(project: Project, root: string, command: Site, arg: string): Site {
  const file = project.getSourceFile(join(root, command.file));
  if (!file) return command;
  let pos: number;
  try {
    pos = file.compilerNode.getPositionOfLineAndCharacter(command.line - 1, command.column - 1);
  } catch {
    return command;
  }
  const call = file.getDescendantAtPos(pos)?.getFirstAncestorByKind(SyntaxKind.CallExpression);
  const options = call?.getArguments()[0];
  const args = Node.isObjectLiteralExpression(options) ? objectAt(options.getProperty("args")) : undefined;
  const key = args?.getProperties().find((p) => (Node.isPropertyAssignment(p) || Node.isShorthandPropertyAssignment(p) || Node.isMethodDeclaration(p)) && nameOf(p.getNameNode()) === arg);
  if (!key) return command;
  const { line, column } = file.getLineAndColumnAtPos(key.getStart());
  return { file: command.file, line, column };
}

/** The object literal a property's value is (directly, or through a `const` in the same file). */
function objectAt(property: Node | undefined): ObjectLiteralExpression | undefined {
  if (!property || !Node.isPropertyAssignment(property)) return undefined;
  let value: Node | undefined = property.getInitializer();
  if (Node.isIdentifier(value)) {
    const decl = value.getDefinitionNodes()[0];
    value = Node.isVariableDeclaration(decl) ? decl.getInitializer() : undefined;
  }
  while (value && (Node.isAsExpression(value) || Node.isSatisfiesExpression(value) || Node.isParenthesizedExpression(value))) value = value.getExpression();
  return Node.isObjectLiteralExpression(value) ? value : undefined;
}

function nameOf(node: Node): string | undefined {
  if (Node.isIdentifier(node) || Node.isPrivateIdentifier(node)) return node.getText();
  if (Node.isStringLiteral(node) || Node.isNoSubstitutionTemplateLiteral(node)) return node.getLiteralValue();
  return undefined;
}
