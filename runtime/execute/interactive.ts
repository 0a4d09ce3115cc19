import { context, currentScope, runInScope, type Scope } from "../context.js";
import type { REPLEval } from "node:repl";
import { ProcessExitInTask } from "./exit-guard.js";
import { pauseInput, pipedStdinDone } from "./piped-stdin.js";
import type { Execution, Outputs } from "./run-graph.js";

const BANNER = `>>> You are inside an outflow interactive task. The outputs of the previous tasks are in \`inputs\`.
>>> Edit them (inputs.x = ...): the changes are passed to the next task. \`context\` is the pipeline context.
>>> To continue the workflow, send EOF (Ctrl-D) or type .exit (piped in, the lines after it go to the next pause)
`;

/**
 * interactive() (the original's InteractiveTask): a Node REPL with the values flowing through in `inputs`;
 * what `inputs` holds when the REPL ends is passed on. Reads the process's stdin (a terminal or a pipe).
 */
export async function runInteractive(inputs: Record<string, unknown>, exec: Execution): Promise<Outputs> {
  const repl = await import("node:repl");
  process.stdout.write(BANNER);
  const values = { ...inputs };
  // A piped stdin that an earlier pause read to its end (or a closed one) has nothing more to give: a REPL
  // on it would wait forever. The values pass on unchanged.
  const piped = !process.stdin.isTTY;
  if (piped ? pipedStdinDone() : process.stdin.destroyed) {
    process.stdout.write("stdin is closed: the values pass on unchanged\nnow exiting the interactive task...\n");
    return values;
  }
  // What the user types runs in the pipeline context (`context.args`…): the REPL evaluates each line from
  // a stdin event, outside the context this function was called in, so each evaluation enters it again.
  const scope: Scope = { ...exec.scope, task: { id: "interactive()", name: "interactive()", plugin: "" } };
  // A pipe is read line by line for all the pauses of the run: this one gets the lines up to its `.exit`.
  let open = true;
  const input = piped ? pauseInput(() => open) : process.stdin;
  const server = repl.start({ prompt: "outflow> ", input, output: process.stdout, terminal: !piped, useGlobal: false, ignoreUndefined: true });
  server.context.inputs = values;
  server.context.context = context;
  const evaluate = server.eval;
  const inScope: REPLEval = (code, ctx, file, done) => runInScope(scope, () => evaluate.call(server, code, ctx, file, done));
  (server as unknown as { eval: REPLEval }).eval = inScope;
  // process.exit() typed at the prompt ends the pause and fails the task, so that the run is recorded
  // (it would end the process with the run still running).
  let exit: unknown;
  const realExit = process.exit;
  // Only what is typed at this prompt: a task running meanwhile on another branch reaches the guard as usual.
  process.exit = ((code?: number | string | null) => {
    if (currentScope() !== scope) return realExit.call(process, code as number | undefined);
    exit = new ProcessExitInTask(code);
    server.close();
  }) as typeof process.exit;
  return new Promise<Outputs>((resolve, reject) => {
    server.on("exit", () => {
      open = false;
      process.exit = realExit;
      process.stdout.write("now exiting the interactive task...\n");
      if (exit) return reject(exit);
      const edited = server.context.inputs;
      resolve(typeof edited === "object" && edited !== null ? (edited as Outputs) : values);
    });
  });
}
