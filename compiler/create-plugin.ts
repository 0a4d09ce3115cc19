import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { Node, Project, SyntaxKind, type ObjectLiteralExpression } from "ts-morph";
import { CONFIG_FILE, pluginDir } from "./pipeline-files.js";
import { InitError } from "./init.js";
import * as templates from "./templates/plugin.js";

const SEGMENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Words that cannot name a `const`: the example command's export gets a suffix instead. */
const RESERVED = new Set(
  ("break case catch class const continue debugger default delete do else enum export extends false finally for function if import in " +
    "instanceof new null return super switch this throw true try typeof var void while with yield let static implements interface package " +
    "private protected public await arguments eval").split(" "),
);

/** Why a plugin name is invalid, or undefined when it is a dotted identifier (`astro.photometry`). */
export function pluginNameProblem(name: string): string | undefined {
  if (name === "") return "the name is empty";
  const segments = name.split(".");
  const bad = segments.find((s) => !SEGMENT.test(s));
  if (bad === undefined) return undefined;
  if (bad === "") return "it has an empty segment";
  if (/^[0-9]/.test(bad)) return `"${bad}" starts with a digit`;
  return `"${bad}" has characters other than letters, digits and _`;
}

export interface CreatePluginOptions {
  /** The pipeline root (holds outflow.config.ts). */
  root: string;
  name: string;
}

export interface CreatePluginResult {
  /** Plugin folder relative to the root: `plugins/astro/photometry`. */
  dir: string;
  /** Files written, relative to the root. */
  files: string[];
  /** CLI name of the example command. */
  command: string;
}

/** Finds the object literal of `export default defineConfig({...})` (or `export default {...}`). */
function configObject(project: Project, file: string): ObjectLiteralExpression | undefined {
  const source = project.addSourceFileAtPath(file);
  const assignment = source.getExportAssignment((e) => !e.isExportEquals());
  let expr: Node | undefined = assignment?.getExpression();
  for (let i = 0; expr && i < 10 && !Node.isObjectLiteralExpression(expr); i++) {
    if (Node.isAsExpression(expr) || Node.isSatisfiesExpression(expr) || Node.isParenthesizedExpression(expr)) expr = expr.getExpression();
    else if (Node.isCallExpression(expr)) expr = expr.getArguments()[0];
    else if (Node.isIdentifier(expr)) expr = source.getVariableDeclaration(expr.getText())?.getInitializer();
    else expr = undefined;
  }
  return expr && Node.isObjectLiteralExpression(expr) ? expr : undefined;
}

/**
 * Adds `name` to `plugins: [...]` of outflow.config.ts, keeping the rest of the file as written.
 * Returns the new text; throws InitError when it is already listed or the list is not a literal array.
 */
export function registerPlugin(configFile: string, name: string): string {
  const project = new Project({ useInMemoryFileSystem: false, skipAddingFilesFromTsConfig: true, compilerOptions: { allowJs: true } });
  const object = configObject(project, configFile);
  if (!object) throw new InitError(`${CONFIG_FILE}: cannot find \`export default defineConfig({ ... })\`; add "${name}" to its plugins list by hand`);
  const property = object.getProperty("plugins");
  if (!property) {
    object.insertPropertyAssignment(0, { name: "plugins", initializer: JSON.stringify([name]) });
  } else {
    const array = Node.isPropertyAssignment(property) ? property.getInitializer() : undefined;
    if (!array || !Node.isArrayLiteralExpression(array)) throw new InitError(`${CONFIG_FILE}: \`plugins\` is not a literal list; add "${name}" to it by hand`);
    for (const element of array.getElements()) {
      if (Node.isStringLiteral(element) || element.getKind() === SyntaxKind.NoSubstitutionTemplateLiteral) {
        if ((element as unknown as { getLiteralValue(): string }).getLiteralValue() === name) throw new InitError(`plugin "${name}" is already registered in ${CONFIG_FILE}`);
      }
    }
    array.addElement(JSON.stringify(name));
  }
  return object.getSourceFile().getFullText();
}

/** `outflow create plugin <name>`: writes the plugin folder and registers it in outflow.config.ts. */
export function createPlugin(opts: CreatePluginOptions): CreatePluginResult {
  const problem = pluginNameProblem(opts.name);
  if (problem) throw new InitError(`invalid plugin name ${JSON.stringify(opts.name)}: ${problem}; use dotted identifiers such as astro.photometry`);
  const configFile = join(opts.root, CONFIG_FILE);
  if (!existsSync(configFile)) throw new InitError(`no ${CONFIG_FILE} in ${opts.root}: run this inside a pipeline (create one with \`outflow init <dir>\`)`);
  const dir = pluginDir(opts.root, opts.name);
  const relDir = relative(opts.root, dir).split("\\").join("/");
  const configText = registerPlugin(configFile, opts.name);
  if (existsSync(dir)) throw new InitError(`${relDir}/ already exists; remove it or choose another name`);

  const short = opts.name.split(".").pop()!;
  const input: templates.PluginTemplateInput = { name: opts.name, short, commandExport: RESERVED.has(short) ? `${short}_command` : short };
  const files: Record<string, string> = {
    "tasks.ts": templates.tasksFile(input),
    "commands.ts": templates.commandsFile(input),
    "models/index.ts": templates.modelsIndex(input),
    "migrations/.gitkeep": "",
    [`test/${short}.test.ts`]: templates.pluginTest(input),
  };
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(join(dir, rel, ".."), { recursive: true });
    writeFileSync(join(dir, rel), text);
  }
  writeFileSync(configFile, configText);
  return { dir: relDir, files: Object.keys(files).map((f) => `${relDir}/${f}`), command: short };
}
