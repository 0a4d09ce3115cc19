// `npm install` (prepare): make this package reachable by its own name, as a user's pipeline sees it:
// node_modules/.bin/outflow (so `npx outflow` runs this checkout) and node_modules/outflow (so
// `import "outflow"` resolves in tests and tools that do not read tsconfig paths).
import { existsSync, lstatSync, mkdirSync, rmSync, symlinkSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
function link(target, path) {
  mkdirSync(dirname(path), { recursive: true });
  if (existsSync(path) || lstatExists(path)) rmSync(path, { recursive: true, force: true });
  symlinkSync(relative(dirname(path), target), path);
}
function lstatExists(p) {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}
if (existsSync(join(root, "node_modules"))) {
  link(join(root, "bin/outflow.mjs"), join(root, "node_modules/.bin/outflow"));
  link(root, join(root, "node_modules/outflow"));
}
