/**
 * The compiler on control flow (loop, ifThenElse, merge, interactive) and on calls of outflow's own API that
 * cannot work: each diagnostic at the user's file:line:col, in the words of the node kind the user wrote,
 * and nothing that only follows from a setup() cut short. Then the runtime's re-check of the same calls with
 * real args, in a real build.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Diagnostic } from "../../contract/diagnostic.js";
import { buildPipeline, checkPipeline, locate, makePipeline, removePipelines } from "../helpers/pipeline-fixture.js";
import { runBundle } from "../helpers/run-bundle.js";

afterAll(removePipelines);

const TASKS = `import { task, type IterateOn } from "outflow";

export const Seed = task(function Seed(): { value: number } {
  return { value: 1 };
});
export const Text = task(function Text(): { value: string } {
  return { value: "x" };
});
export const Big = task(function Big(value: number): { label: string } {
  return { label: "big" };
});
export const NumLabel = task(function NumLabel(value: number): { label: number } {
  return { label: value };
});
export const Step = task(function Step(value: number): { value: number } {
  return { value };
});
export const Last = task(function Last(label: string): void {});
export const UseNumber = task(function UseNumber(value: number): void {});
export const Many = task(function Many(): { items: number[] } {
  return { items: [1, 2] };
});
export const Each = task(function Each(item: IterateOn<"items", number>): { doubled: number } {
  return { doubled: item * 2 };
});
`;

const COMMANDS = `import { command, loop, ifThenElse, merge, interactive, map, pipe } from "outflow";
import { Seed, Text, Big, NumLabel, Step, Last, UseNumber, Many, Each } from "./tasks.js";

export const into_then = command({
  setup() {
    const [ifNode, thenNode] = ifThenElse(() => true);
    Seed().pipe(ifNode);
    Seed().pipe(thenNode);
    thenNode.pipe(Big());
  },
});

export const into_else = command({
  setup() {
    const [ifNode, , elseNode] = ifThenElse(() => true);
    ifNode.pipe(elseNode);
    pipe(Seed(), elseNode, Big());
  },
});

export const merge_number_second = command({
  setup() {
    const [ifNode, thenNode, elseNode] = ifThenElse(() => true);
    const join = merge();
    Seed().pipe(ifNode);
    thenNode.pipe(Big()).pipe(join);
    elseNode.pipe(NumLabel()).pipe(join);
    join.pipe(Last());
  },
});

export const merge_number_first = command({
  setup() {
    const [ifNode, thenNode, elseNode] = ifThenElse(() => true);
    const join = merge();
    Seed().pipe(ifNode);
    elseNode.pipe(NumLabel()).pipe(join);
    thenNode.pipe(Big()).pipe(join);
    join.pipe(Last());
  },
});

export const merge_one_branch = command({
  setup() {
    const [ifNode, thenNode, elseNode] = ifThenElse(() => true);
    const join = merge();
    Seed().pipe(ifNode);
    thenNode.pipe(Big()).pipe(join);
    elseNode.pipe(Step()).pipe(join);
    join.pipe(Last());
  },
});

export const through_then = command({
  setup() {
    const [ifNode, thenNode] = ifThenElse(() => true);
    Text().pipe(ifNode);
    thenNode.pipe(UseNumber());
  },
});

export const through_interactive = command({
  setup() {
    Text().pipe(interactive()).pipe(UseNumber());
  },
});

export const through_loop = command({
  setup() {
    Text().pipe(loop({ iterations: 2 }, () => {
      UseNumber();
    }));
  },
});

export const out_of_loop = command({
  setup() {
    const outside = UseNumber();
    Seed().pipe(loop({ iterations: 2 }, () => {
      Step().pipe(outside);
    }));
  },
});

export const throwing_body = command({
  setup() {
    Seed().pipe(loop({ iterations: 2 }, () => {
      Step();
      throw new Error("no body today");
    })).pipe(UseNumber());
  },
});

export const negative_iterations = command({
  setup() {
    Seed().pipe(loop({ iterations: -1 }, () => {
      Step();
    }));
  },
});

export const loop_both_ways = command({
  setup() {
    Seed().pipe(loop({ iterations: 2, infinite: true } as any, () => {
      Step();
    }));
  },
});

export const loop_without_options = command({
  setup() {
    Seed().pipe(loop({} as any, () => {
      Step();
    }));
  },
});

export const loop_without_body = command({
  setup() {
    Seed().pipe(loop({ iterations: 2 }));
  },
});

export const condition_not_function = command({
  setup() {
    ifThenElse(42 as any);
  },
});

export const map_without_body = command({
  setup() {
    Many().pipe(map({ outputName: "nothing" }));
  },
});

export const merge_with_branches = command({
  setup() {
    const a = Seed();
    (merge as any)(a, Seed());
  },
});

export const counts_from_values = command({
  args: { n: { type: "integer", default: 0 } },
  setup({ args }) {
    Many().pipe(map({ outputName: "none_at_once", simultaneousTasks: args.n }, () => {
      Each();
    }));
    const options = { outputName: "no_cpu", cpusPerTask: Math.floor(0.5) };
    Many().pipe(map({ ...options }, () => {
      Each();
    }));
  },
});
`;

type Loc = { file: string; line: number; column: number };
const inCommand = (name: string, snippet: string): Loc => ({ file: "plugins/p/commands.ts", ...locate(COMMANDS, snippet, `export const ${name} = command(`) });
/** Lines of one command's declaration. */
function linesOf(name: string): [number, number] {
  const from = locate(COMMANDS, `export const ${name} = command(`).line;
  const next = COMMANDS.indexOf("\nexport const ", COMMANDS.indexOf(`export const ${name} = command(`) + 1);
  return [from, next < 0 ? Infinity : COMMANDS.slice(0, next).split("\n").length];
}

const show = (list: Diagnostic[]) => list.map((d) => `  ${d.code} ${d.site.file}:${d.site.line}:${d.site.column} ${d.message}`).join("\n");

describe("control flow and outflow's API in setup(): diagnostics", () => {
  let diagnostics: Diagnostic[];
  beforeAll(async () => {
    diagnostics = await checkPipeline(makePipeline({ "plugins/p/tasks.ts": TASKS, "plugins/p/commands.ts": COMMANDS }));
  });
  /** Every diagnostic of one command: exactly one is expected of each. */
  const only = (name: string): Diagnostic => {
    const [from, to] = linesOf(name);
    const found = diagnostics.filter((d) => d.site.file === "plugins/p/commands.ts" && d.site.line >= from && d.site.line < to);
    expect(found, `${name}; all diagnostics:\n${show(diagnostics)}`).toHaveLength(1);
    return found[0];
  };

  it("piping a task into a then or else node is refused at that pipe (the runtime's then/else passes on only its if node's values)", () => {
    expect(only("into_then")).toEqual({
      code: "OF100",
      message: "setup() of command into_then threw: pipe() into ifThenElse().then: only its own if node feeds it; pipe the values into the if node instead (const [ifNode, thenNode, elseNode] = ifThenElse(...); x.pipe(ifNode))",
      site: inCommand("into_then", "pipe(thenNode)"),
    });
    // Piping the if node into its own branch again is what ifThenElse() did already: not refused.
    const intoElse = only("into_else");
    expect(intoElse.site).toEqual(inCommand("into_else", "pipe(Seed(), elseNode"));
    expect(intoElse.message).toContain("pipe() into ifThenElse().else: only its own if node feeds it");
  });

  it("merge() provides the union of its branches' types, whichever branch is piped first", () => {
    for (const name of ["merge_number_second", "merge_number_first"]) {
      expect(only(name)).toEqual({
        code: "OF102",
        message: 'Type mismatch on input "label" of task Last: merge() provides string | number (number from NumLabel), Last expects string',
        site: inCommand(name, "Last()"),
      });
    }
  });

  it("OF101 of a name only one merge() branch provides: in good grammar", () => {
    expect(only("merge_one_branch").message).toBe('Task Last needs input "label" but merge() gets it only from some branches; Step does not provide it');
  });

  it("names the node a value comes through as written: ifThenElse().then, interactive(), loop()", () => {
    expect(only("through_then").message).toBe('Type mismatch on input "value" of task UseNumber: ifThenElse().then provides string, UseNumber expects number');
    expect(only("through_interactive").message).toBe('Type mismatch on input "value" of task UseNumber: interactive() provides string, UseNumber expects number');
    expect(only("through_loop")).toEqual({
      code: "OF102",
      message: 'Type mismatch on input "value" of task UseNumber: loop() passes through string, UseNumber expects number',
      site: inCommand("through_loop", "UseNumber()"),
    });
  });

  it("piping out of a loop() body names the loop, and nothing follows from the body cut short", () => {
    expect(only("out_of_loop")).toEqual({
      code: "OF100",
      message: "setup() of command out_of_loop threw: pipe() connects nodes of different workflows (from the body of loop() into the command's workflow): a body's tasks are piped only to each other; pipe into the loop() node, and onward from it",
      site: inCommand("out_of_loop", "pipe(outside)"),
    });
  });

  it("a body that throws: the OF100 at the throw, not 'the loop() upstream provides: no outputs'", () => {
    expect(only("throwing_body")).toEqual({ code: "OF100", message: "setup() of command throwing_body threw: no body today", site: inCommand("throwing_body", "new Error") });
  });

  it("a call of loop(), ifThenElse(), map() or merge() that cannot work: OF100 at the user's call, saying how it is called", () => {
    const refused = (name: string, call: string, message: string) => expect(only(name)).toEqual({ code: "OF100", message: `setup() of command ${name} threw: ${message}`, site: inCommand(name, call) });
    refused("negative_iterations", "loop(", "loop(): iterations must be a whole number >= 0, got -1");
    refused("loop_without_options", "loop(", "loop() takes { iterations: n } or { infinite: true } as its options, got {}");
    refused("loop_both_ways", "loop(", "loop() takes either { iterations: n } or { infinite: true }, not both: got {\"iterations\":2,\"infinite\":true}");
    refused("loop_without_body", "loop(", "loop() takes a function that builds its body, as in loop({ iterations: 3 }, () => { Step(); }); got undefined");
    refused("condition_not_function", "ifThenElse(", "ifThenElse() takes a condition function, as in ifThenElse((inputs) => (inputs.value as number) > 10); got 42");
    refused("map_without_body", "map(", 'map() takes a function that builds its body, as in map({ outputName: "results" }, () => { Compute(); }); got undefined');
    refused("merge_with_branches", "merge as any", "merge() takes no arguments: pipe each branch into it (const join = merge(); a.pipe(join); b.pipe(join))");
  });

  it("OF113 for counts computed when setup() runs (an arg's default, an expression), at the option, or at the map( when not written there", () => {
    const [from, to] = linesOf("counts_from_values");
    const found = diagnostics.filter((d) => d.site.line >= from && d.site.line < to);
    expect(found).toEqual([
      { code: "OF113", message: "map(none_at_once): simultaneousTasks must be a positive integer, got 0", site: inCommand("counts_from_values", "simultaneousTasks: args.n") },
      { code: "OF113", message: "map(no_cpu): cpusPerTask must be a positive integer, got 0", site: inCommand("counts_from_values", "map({ ...options }") },
    ]);
  });

  it("never a position inside outflow", () => {
    expect(diagnostics.filter((d) => d.site.file !== "plugins/p/commands.ts"), show(diagnostics)).toEqual([]);
  });
});

describe("an error thrown inside outflow, called from a pipeline module", () => {
  it("OF100 at the first frame in the pipeline's sources: the user's call", async () => {
    const tasks = `import { task } from "outflow";\n\nexport const Seed = task(function Seed(): { value: number } {\n  return { value: 1 };\n});\nexport const NotATask = task(42 as never);\n`;
    const commands = `import { command } from "outflow";\nimport { Seed } from "./tasks.js";\n\nexport const one = command({ setup() { Seed(); } });\n`;
    const diagnostics = await checkPipeline(makePipeline({ "plugins/p/tasks.ts": tasks, "plugins/p/commands.ts": commands }));
    // Besides OF121 (the compiler reads the call): the import threw, and its frame in the pipeline is the call.
    expect(diagnostics.map((d) => d.code)).toEqual(["OF121", "OF100"]);
    expect(diagnostics[1]).toEqual({ code: "OF100", message: "Importing the pipeline modules failed: task() takes a function", site: { file: "plugins/p/tasks.ts", ...locate(tasks, "task(42") } });
  });
});

describe("the same calls with real args, at run time", () => {
  const commands = `import { command, loop, map } from "outflow";
import { Seed, Step, UseNumber, Many, Each } from "./tasks.js";

export const counted = command({
  args: { n: { type: "integer", required: true }, times: { type: "integer", required: true } },
  db: false,
  setup({ args }) {
    if (args.times > 100) throw new RangeError("times is too large for this pipeline");
    Many().pipe(map({ outputName: "doubled", simultaneousTasks: args.n, cpusPerTask: args.n }, () => {
      Each();
    }));
    Seed().pipe(loop({ iterations: args.times }, () => {
      Step();
    })).pipe(UseNumber());
  },
});
`;
  let root: string;
  beforeAll(async () => {
    root = makePipeline({ "plugins/p/tasks.ts": TASKS, "plugins/p/commands.ts": commands });
    // Required number args are recorded at build time with a placeholder every count option takes.
    expect((await buildPipeline(root)).diagnostics).toEqual([]);
  }, 120_000);

  it("runs with counts that work", () => {
    const r = runBundle(root, "counted", ["--n", "2", "--times", "1"]);
    expect(r.code, r.output).toBe(0);
  });

  it("a count of 0 from the command line: OF113 at the map( call, before anything runs", () => {
    const r = runBundle(root, "counted", ["--n", "0", "--times", "1"]);
    expect(r.code, r.output).toBe(1);
    const at = locate(commands, "map(");
    expect(r.stderr).toContain(`plugins/p/commands.ts:${at.line}:${at.column} - error OF113: map(doubled): simultaneousTasks must be a positive integer, got 0`);
    expect(r.stderr).toContain("error OF113: map(doubled): cpusPerTask must be a positive integer, got 0");
    expect(r.output).not.toMatch(/runtime\/api|runtime\/graph|\n\s+at /);
  });

  it("an exception setup() throws with these args: the place in the user's code that threw it, one line, no stack", () => {
    const r = runBundle(root, "counted", ["--n", "1", "--times", "500"]);
    expect(r.code, r.output).toBe(1);
    const at = locate(commands, "new RangeError");
    expect(r.stderr).toBe(`error: plugins/p/commands.ts:${at.line}:${at.column} - setup() of counted failed: RangeError: times is too large for this pipeline\n`);
  });

  it("loop iterations of -1 from the command line: at the loop( call, one line, no stack", () => {
    const r = runBundle(root, "counted", ["--n", "1", "--times", "-1"]);
    expect(r.code, r.output).toBe(1);
    const at = locate(commands, "loop(");
    expect(r.stderr).toContain(`plugins/p/commands.ts:${at.line}:${at.column} - setup() of counted failed: loop(): iterations must be a whole number >= 0, got -1`);
    expect(r.output).not.toMatch(/runtime\/api|runtime\/graph|\n\s+at /);
  });
});
