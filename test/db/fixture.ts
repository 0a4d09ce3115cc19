/**
 * Fixture pipelines for the database tests, in temp folders: the tutorial's data_reduction plugin
 * (copied from this repo, with its models and migrations) plus an `extras` plugin whose commands fail,
 * sleep or map. Built with the real compiler; run through the real bundles.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { build } from "../../compiler/build.js";
import { fixtureTsconfig } from "../helpers/pipeline-fixture.js";

export const repoRoot = fileURLToPath(new URL("../..", import.meta.url)).replace(/\/$/, "");

export const EXTRAS_TASKS = `import { appendFileSync } from "node:fs";
import { task, context, logger, exitPipeline, type IterateOn } from "outflow";

export const Items = task(function Items(): { items: number[] } {
  return { items: [1, 2, 3] };
});

export const Boom = task(function Boom(items: number[]): void {
  throw new Error(\`boom: \${items.length} detectors on fire\`);
});

export const After = task(function After(): void {
  logger.info("never printed");
});

export const Nap = task(async function Nap(): Promise<{ napped: number }> {
  const seconds = Number(context.args.seconds);
  logger.info("napping");
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  return { napped: seconds };
});

export const Square = task(function Square(item: IterateOn<"items", number>): { square: number } {
  if (item === Number(context.args.failAt)) throw new Error(\`element \${item} refused\`);
  if (item === Number(context.args.crashAt)) process.exit(7);
  return { square: item * item };
});

export const Total = task(function Total(squares: number[]): void {
  logger.info(\`total \${squares.reduce((a, b) => a + b, 0)}\`);
});

// Element 1 finishes at once, the others sleep: a run to interrupt in the middle of a map.
export const SlowSquare = task(async function SlowSquare(item: IterateOn<"items", number>): Promise<{ square: number }> {
  logger.info(\`element \${item} started\`);
  if (item !== 1) await new Promise((resolve) => setTimeout(resolve, 30_000));
  return { square: item * item };
});

export const Numbers = task(function Numbers(): { numbers: number[] } {
  return { numbers: Array.from({ length: Number(context.args.count) }, (_, i) => i) };
});
// 2 ms of work per element; element 200 says when it starts.
export const Busy = task(function Busy(n: IterateOn<"numbers", number>): { busy: number } {
  if (n === 200) logger.info("element 200 started");
  const end = Date.now() + 2;
  while (Date.now() < end);
  return { busy: n };
});
// Instant elements (a fine map, whose batches a worker gets queued back to back); crashAt kills the worker.
export const Fragile = task(function Fragile(n: IterateOn<"numbers", number>): { kept: number } {
  if (n === Number(context.args.crashAt)) process.exit(7);
  return { kept: n };
});
// Element \`at\` returns a function (typed unknown), which cannot leave a worker; with --throw it throws a string.
export const Unsendable = task(function Unsendable(n: IterateOn<"numbers", number>): { value: unknown } {
  // Every 100th element says it ran, in --log (written at once: a worker's log lines may not outlive it).
  if (context.args.log && n % 100 === 0) appendFileSync(String(context.args.log), n + "\\n");
  if (n !== Number(context.args.at)) return { value: n };
  if (context.args.throw) throw "not an Error";
  return { value: () => n };
});
// Leaves behind a timer that throws (or, with --rejects, a promise nobody awaits), and returns at once.
export const Stray = task(function Stray(): void {
  if (context.args.rejects) void Promise.reject(new Error("nobody awaited this"));
  else setTimeout(() => { throw new Error("late failure"); }, 100);
});
// Waits for a timer whose callback throws before it resolves: nothing is left to keep the process alive.
export const StrayAwait = task(async function StrayAwait(): Promise<void> {
  await new Promise<void>((resolve) => setTimeout(() => { JSON.parse("{"); resolve(); }, 10));
});
// A quick synchronous task (an infinite loop of it is interrupted by Ctrl-C); says once that it runs.
let laps = 0;
export const Lap = task(function Lap(numbers: number[]): { numbers: number[] } {
  if (laps++ === 1000) logger.info("lapping");
  return { numbers };
});
// Element \`at\` ends the run early (successfully) with exitPipeline().
export const Stopper = task(function Stopper(n: IterateOn<"numbers", number>): { busy: number } {
  if (n === Number(context.args.at)) exitPipeline(\`element \${n} says stop\`);
  return { busy: n };
});
export const Received = task(function Received(busy: unknown[]): void {
  logger.info(\`received \${busy.length}\`);
});
// \`ms\` of synchronous work per element, saying when each starts: Ctrl-C must stop the map after the element in flight.
export const Spin = task(function Spin(n: IterateOn<"numbers", number>): { spun: number } {
  logger.info(\`element \${n} started\`);
  const end = Date.now() + Number(context.args.ms);
  while (Date.now() < end);
  return { spun: n };
});
export const Done = task(function Done(busy: number[]): void {
  logger.info(\`done \${busy.length}\`);
});

export const Hello = task(function Hello(): void {
  logger.info("hello without a database");
});
`;

export const EXTRAS_COMMANDS = `import { command, map, ifThenElse, loop } from "outflow";
import { Items, Boom, After, Nap, Square, SlowSquare, Total, Numbers, Busy, Fragile, Unsendable, Received, Stopper, Lap, Stray, StrayAwait, Spin, Done, Hello } from "./tasks.js";

export const explode = command({
  description: "Fails in its second task",
  setup() {
    Items().pipe(Boom()).pipe(After());
  },
});

export const nap = command({
  description: "Sleeps",
  args: { seconds: { type: "number", required: true } },
  setup() {
    Nap();
  },
});

export const squares = command({
  description: "Maps Square over [1, 2, 3]",
  args: { failAt: { type: "integer", default: 0 }, crashAt: { type: "integer", default: 0 } },
  setup() {
    Items().pipe(map({ outputName: "squares" }, () => { Square(); })).pipe(Total());
  },
});

export const slow_squares = command({
  description: "Maps SlowSquare over [1, 2, 3]",
  setup() {
    Items().pipe(map({ outputName: "squares" }, () => { SlowSquare(); })).pipe(Total());
  },
});

export const busy = command({
  description: "Maps Busy (2 ms) over count numbers",
  args: { count: { type: "integer", default: 3000 } },
  setup() {
    Numbers().pipe(map({ outputName: "busy" }, () => { Busy(); })).pipe(Done());
  },
});

export const fragile = command({
  description: "Maps Fragile (instant) over count numbers",
  args: { count: { type: "integer", default: 3000 }, crashAt: { type: "integer", default: -1 } },
  setup() {
    Numbers().pipe(map({ outputName: "busy" }, () => { Fragile(); })).pipe(Done());
  },
});

export const unsendable = command({
  description: "Maps Unsendable over count numbers",
  args: { count: { type: "integer", default: 3000 }, at: { type: "integer", default: -1 }, throw: { type: "boolean", default: false }, log: { type: "string", default: "" } },
  setup() {
    Numbers().pipe(map({ outputName: "busy" }, () => { Unsendable(); })).pipe(Received());
  },
});

export const stop_in_map = command({
  description: "Maps Stopper over count numbers: element \`at\` calls exitPipeline()",
  args: { count: { type: "integer", default: 5 }, at: { type: "integer", default: -1 } },
  setup() {
    Numbers().pipe(map({ outputName: "busy" }, () => { Stopper(); })).pipe(Done());
  },
});

export const skip_branches = command({
  description: "A map and a loop on the branch not taken (count > 100 takes it)",
  args: { count: { type: "integer", default: 3 } },
  setup() {
    const [ifNode, thenNode, elseNode] = ifThenElse((inputs) => (inputs.numbers as number[]).length > 100);
    Numbers().pipe(ifNode);
    thenNode.pipe(map({ outputName: "busy" }, () => { Busy(); })).pipe(Done());
    thenNode.pipe(loop({ iterations: 2 }, () => { Hello(); }));
    elseNode.pipe(Hello());
  },
});

export const twice = command({
  description: "Hello three times: after a Nap (a parallel branch), on the then branch, after After on the else branch (count > 100 takes then)",
  args: { seconds: { type: "number", default: 0.5 }, count: { type: "integer", default: 3 } },
  setup() {
    Nap().pipe(Hello());
    const [ifNode, thenNode, elseNode] = ifThenElse((inputs) => (inputs.numbers as number[]).length > 100);
    Numbers().pipe(ifNode);
    thenNode.pipe(Hello());
    elseNode.pipe(After()).pipe(Hello());
  },
});

export const twice_loops = command({
  description: "Two loops: one after a Nap (once), one on a parallel branch (twice)",
  args: { seconds: { type: "number", default: 0.5 }, count: { type: "integer", default: 3 } },
  setup() {
    Nap().pipe(loop({ iterations: 1 }, () => { Hello(); }));
    Numbers().pipe(loop({ iterations: 2 }, () => { Hello(); }));
  },
});

export const skip_in_elements = command({
  description: "A branch inside each element: even ones run Hello, odd ones a loop of Hello",
  args: { count: { type: "integer", default: 3 } },
  setup() {
    Numbers().pipe(map({ outputName: "busy" }, () => {
      const [ifNode, thenNode, elseNode] = ifThenElse((inputs) => (inputs.busy as number) % 2 === 0);
      Busy().pipe(ifNode);
      thenNode.pipe(Hello());
      elseNode.pipe(loop({ iterations: 1 }, () => { Hello(); }));
    }));
  },
});

export const stray = command({
  description: "A task whose timer throws after it returned, while the next task sleeps",
  args: { seconds: { type: "number", default: 30 }, rejects: { type: "boolean", default: false } },
  setup() {
    Stray().pipe(Nap());
  },
});

export const stray_await = command({
  description: "A task whose awaited timer throws",
  db: false,
  setup() {
    StrayAwait();
  },
});

export const laps = command({
  description: "An infinite loop of a quick task",
  args: { count: { type: "integer", default: 3 } },
  setup() {
    Numbers().pipe(loop({ infinite: true }, () => { Lap(); }));
  },
});

export const spin = command({
  description: "Maps Spin (ms of synchronous work) over count numbers",
  args: { count: { type: "integer", default: 10 }, ms: { type: "integer", default: 1000 } },
  setup() {
    Numbers().pipe(map({ outputName: "busy" }, () => { Spin(); })).pipe(Done());
  },
});

export const spin_untracked = command({
  description: "spin without run records",
  args: { count: { type: "integer", default: 10 }, ms: { type: "integer", default: 1000 } },
  db: false,
  setup() {
    Numbers().pipe(map({ outputName: "busy" }, () => { Spin(); })).pipe(Done());
  },
});

export const hello = command({
  description: "Untracked",
  db: false,
  setup() {
    Hello();
  },
});
`;

const CONFIG = `import { defineConfig } from "outflow";

export default defineConfig({
  plugins: ["data_reduction", "extras"],
});
`;


const roots: string[] = [];

/** A pipeline root in a temp folder: the tutorial's data_reduction plugin, `extras`, and `files` on top. */
/**
 * The tutorial pipeline with one more plugin (its model file `models/<plugin>.ts`, tasks and commands; no
 * migration of it yet), listed after data_reduction and extras, built.
 */
export async function makePluginPipeline(plugin: string, parts: { model: string; tasks: string; commands: string }, files: Record<string, string> = {}): Promise<string> {
  const root = makeTutorialPipeline({
    "outflow.config.ts": `import { defineConfig } from "outflow";\n\nexport default defineConfig({\n  plugins: ["data_reduction", "extras", ${JSON.stringify(plugin)}],\n});\n`,
    [`plugins/${plugin}/models/${plugin}.ts`]: parts.model,
    [`plugins/${plugin}/tasks.ts`]: parts.tasks,
    [`plugins/${plugin}/commands.ts`]: parts.commands,
    ...files,
  });
  await buildPipeline(root);
  return root;
}

export function makeTutorialPipeline(files: Record<string, string> = {}): string {
  const root = mkdtempSync(join(tmpdir(), "outflow-db-"));
  roots.push(root);
  cpSync(join(repoRoot, "plugins/data_reduction"), join(root, "plugins/data_reduction"), { recursive: true });
  const all: Record<string, string> = {
    "outflow.config.ts": CONFIG,
    "tsconfig.json": fixtureTsconfig(),
    "plugins/extras/tasks.ts": EXTRAS_TASKS,
    "plugins/extras/commands.ts": EXTRAS_COMMANDS,
    ...files,
  };
  for (const [rel, text] of Object.entries(all)) {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), text);
  }
  // Entry-wise symlinks: the build keeps a cache in <root>/node_modules/.cache, which must not be shared.
  mkdirSync(join(root, "node_modules"));
  for (const name of readdirSync(join(repoRoot, "node_modules"))) {
    if (name !== ".cache") symlinkSync(join(repoRoot, "node_modules", name), join(root, "node_modules", name), "dir");
  }
  return root;
}

export async function buildPipeline(root: string): Promise<void> {
  const result = await build({ root, outflowRoot: repoRoot });
  if (!result.ok) throw new Error(`build failed:\n${result.diagnostics.map((d) => `${d.site.file}:${d.site.line}:${d.site.column} ${d.code} ${d.message}`).join("\n")}`);
}

export function removePipelines(): void {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
}

export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

const baseEnv = () => ({ PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", NO_COLOR: "1" });

/** `node dist/<bundle>.js ...args` in the pipeline root. */
export function runBundle(root: string, bundle: string, args: string[], env: Record<string, string> = {}): Ran {
  const r = spawnSync(process.execPath, [join(root, "dist", `${bundle}.js`), ...args], { cwd: root, encoding: "utf8", env: { ...baseEnv(), ...env }, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `node dist/manage.js management ...args`; throws with the output when it fails (unless `allowFailure`). */
export function manage(root: string, args: string[], opts: { env?: Record<string, string>; allowFailure?: boolean } = {}): Ran {
  const r = runBundle(root, "manage", ["management", ...args], opts.env);
  if (r.code !== 0 && !opts.allowFailure) throw new Error(`manage ${args.join(" ")} exited ${r.code}:\n${r.stdout}${r.stderr}`);
  return r;
}

/** Starts a bundle without waiting (for signals). */
export function startBundle(root: string, bundle: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, [join(root, "dist", `${bundle}.js`), ...args], { cwd: root, env: { ...baseEnv(), ...env }, stdio: ["ignore", "pipe", "pipe"] });
}

/** A bundle started in the background (to signal it): its stderr so far, a wait for a text on it, its exit code. */
export interface Watched {
  child: ChildProcess;
  readonly stderr: string;
  /** Resolves once stderr contains `text`; rejects after 20 s with what it printed. */
  until(text: string): Promise<void>;
  /** The exit code, once the process closed its output. */
  closed: Promise<number | null>;
}

export function startWatched(root: string, bundle: string, args: string[], env: Record<string, string> = {}): Watched {
  const child = startBundle(root, bundle, args, env);
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  const closed = new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
  const until = (text: string) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!stderr.includes(text)) return;
        clearTimeout(timer);
        child.stderr!.off("data", check);
        resolve();
      };
      const timer = setTimeout(() => {
        child.stderr!.off("data", check);
        reject(new Error(`${JSON.stringify(text)} never appeared on stderr: ${stderr}`));
      }, 20_000);
      child.stderr!.on("data", check);
      check();
    });
  return { child, get stderr() { return stderr; }, until, closed };
}

/** Read access to a pipeline's SQLite database. */
export function openSqlite(file: string): Database.Database {
  return new Database(file, { readonly: true, fileMustExist: true });
}

/** Non-empty lines of some output. */
export function lines(text: string): string[] {
  return text.split("\n").filter((l) => l.trim() !== "");
}
