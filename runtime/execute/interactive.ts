import { context, runInScope } from "../context.js";
import type { Execution, Outputs } from "./run-graph.js";

const BANNER = `>>> You are inside an outflow interactive task. The outputs of the previous tasks are in \`inputs\`.
>>> Edit them (inputs.x = ...): the changes are passed to the next task. \`context\` is the pipeline context.
>>> To continue the workflow, send EOF (Ctrl-D) or type .exit
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
  if (process.stdin.readableEnded || process.stdin.destroyed) {
    process.stdout.write("stdin is closed: the values pass on unchanged\nnow exiting the interactive task...\n");
    return values;
  }
  return runInScope({ ...exec.scope }, () => {
    const server = repl.start({ prompt: "outflow> ", input: process.stdin, output: process.stdout, terminal: Boolean(process.stdin.isTTY), useGlobal: false, ignoreUndefined: true });
    server.context.inputs = values;
    server.context.context = context;
    return new Promise<Outputs>((resolve) => {
      server.on("exit", () => {
        process.stdout.write("now exiting the interactive task...\n");
        const edited = server.context.inputs;
        resolve(typeof edited === "object" && edited !== null ? (edited as Outputs) : values);
      });
    });
  });
}
