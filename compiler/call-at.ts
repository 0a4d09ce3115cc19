/**
 * From a recorded site back to the source: the call written there (`Sleep(`, `map(`, `command(`) and the
 * object literals its arguments are, so that a diagnostic can point at the property it is about.
 */
import { join } from "node:path";
import { Node, SyntaxKind, type CallExpression, type ObjectLiteralElementLike, type ObjectLiteralExpression, type Project } from "ts-morph";
import type { Site } from "../contract/manifest.js";

/** The call expression at a recorded site, when the compiler has that file and the position is in it. */
export function callAt(project: Project, root: string, site: Site): CallExpression | undefined {
  const file = site.file ? project.getSourceFile(join(root, site.file)) : undefined;
  if (!file || site.line < 1) return undefined;
  let pos: number;
  try {
    pos = file.compilerNode.getPositionOfLineAndCharacter(site.line - 1, site.column - 1);
  } catch {
    return undefined;
  }
  return file.getDescendantAtPos(pos)?.getFirstAncestorByKind(SyntaxKind.CallExpression);
}

/** The object literal an expression is: directly, through `as`/`satisfies`/parentheses, or a `const` in scope. */
export function objectLiteralOf(value: Node | undefined): ObjectLiteralExpression | undefined {
  for (let depth = 0; value && depth < 10; depth++) {
    if (Node.isObjectLiteralExpression(value)) return value;
    if (Node.isAsExpression(value) || Node.isSatisfiesExpression(value) || Node.isParenthesizedExpression(value)) value = value.getExpression();
    else if (Node.isIdentifier(value)) {
      const decl = value.getDefinitionNodes()[0];
      value = Node.isVariableDeclaration(decl) ? decl.getInitializer() : undefined;
    } else return undefined;
  }
  return undefined;
}

/** A property of an object literal by its name as written (`backend`, `"backend"`), not through a spread. */
export function propertyNamed(object: ObjectLiteralExpression, name: string): ObjectLiteralElementLike | undefined {
  return object.getProperties().find((p) => (Node.isPropertyAssignment(p) || Node.isShorthandPropertyAssignment(p) || Node.isMethodDeclaration(p)) && nameOf(p.getNameNode()) === name);
}

function nameOf(node: Node): string | undefined {
  if (Node.isIdentifier(node) || Node.isPrivateIdentifier(node)) return node.getText();
  if (Node.isStringLiteral(node) || Node.isNoSubstitutionTemplateLiteral(node)) return node.getLiteralValue();
  return undefined;
}
