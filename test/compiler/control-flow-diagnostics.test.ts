/**
 * The compiler on control flow (loop, ifThenElse, merge, interactive) and on calls of outflow's own API that
 * cannot work: each diagnostic at the user's file:line:col, in the words of the node kind the user wrote,
 * and nothing that only follows from a setup() cut short. Then the runtime's re-check of the same calls with
 * real args, in a real build.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Diagnostic } from "../../contract/diagnostic.js";
import { buildPipeline, checkPipeline, commandLines, diagnosticsOfCommand, locate, makePipeline, removePipelines } from "../helpers/pipeline-fixture.js";
import { runBundle } from "../helpers/run-bundle.js";
import type { GraphSpec, TaskSpec } from "../../contract/manifest.js";
import { planGraph } from "../../runtime/graph/plan.js";

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

export const cut_body = command({
  setup() {
    Seed().pipe(loop({ iterations: 2 }, () => {
      const first = Step();
      const second = Step();
      throw new Error("cut short");
      first.pipe(second);
    })).pipe(UseNumber());
  },
});

export const cut_second_body = command({
  setup() {
    Seed().pipe(loop({ iterations: 2 }, () => {
      Step();
      Step();
    }));
    Seed().pipe(loop({ iterations: 2 }, () => {
      const first = Step();
      const second = Step();
      throw new Error("cut again");
      first.pipe(second);
    }));
  },
});

export const loop_first_in_map = command({
  setup() {
    Many().pipe(map({ outputName: "looped" }, () => {
      loop({ iterations: 2 }, () => {
        Each();
      });
    }));
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
const linesOf = (name: string) => commandLines(COMMANDS, name);

const show = (list: Diagnostic[]) => list.map((d) => `  ${d.code} ${d.site.file}:${d.site.line}:${d.site.column} ${d.message}`).join("\n");

describe("control flow and outflow's API in setup(): diagnostics", () => {
  let diagnostics: Diagnostic[];
  beforeAll(async () => {
    diagnostics = await checkPipeline(makePipeline({ "plugins/p/tasks.ts": TASKS, "plugins/p/commands.ts": COMMANDS }));
  });
  /** Every diagnostic of one command: exactly one is expected of each. */
  const only = (name: string): Diagnostic => {
    const found = diagnosticsOfCommand(diagnostics, COMMANDS, name);
    expect(found, `${name}; all diagnostics:\n${show(diagnostics)}`).toHaveLength(1);
    return found[0];
  };

  it("an IterateOn task first in a loop() that is first in a map() body: the map has nothing to iterate, and the OF101 says why", () => {
    const found = diagnosticsOfCommand(diagnostics, COMMANDS, "loop_first_in_map");
    expect(found.map((d) => d.code).sort()).toEqual(["OF101", "OF109"]);
    expect(found.find((d) => d.code === "OF101")?.message).toMatch(/IterateOn only takes effect in the first task of a map\(\) body, not of a loop\(\) body: in a map, put the task that takes the element before the loop\(\)\)$/);
  });

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
    // Two tasks that look terminal only because the throw came before the pipe between them: no OF104.
    expect(only("cut_body")).toEqual({ code: "OF100", message: "setup() of command cut_body threw: cut short", site: inCommand("cut_body", "new Error") });
  });

  it("a body recorded whole before setup() threw in another one keeps its OF104 for two terminal tasks returning one name", () => {
    const [from, to] = linesOf("cut_second_body");
    expect(diagnostics.filter((d) => d.site.line >= from && d.site.line < to)).toEqual([
      {
        code: "OF104",
        message: 'Output "value" of loop() is ambiguous: the body\'s terminal tasks Step (number) and Step (number) both return it; rename one output, or pipe one task into the other',
        site: inCommand("cut_second_body", "loop("),
      },
      { code: "OF100", message: "setup() of command cut_second_body threw: cut again", site: inCommand("cut_second_body", "new Error") },
    ]);
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
    // Relative to the pipeline root, as the build gives it.
    expect(r.stderr).toBe(`error: plugins/p/commands.ts:${at.line}:${at.column} - setup() of counted failed: loop(): iterations must be a whole number >= 0, got -1\n`);
    expect(r.output).not.toMatch(/runtime\/api|runtime\/graph|\n\s+at /);
  });
});

/**
 * Graph mistakes that ran (or failed) silently before: two providers of one name into a node that passes
 * values on by name, a node below both sides of an if node with no merge(), two terminal tasks of a body
 * returning the same name, a merge() whose branches always both run, a body task that is not first
 * wanting a value of the map's, and follow-on diagnostics of a task already refused.
 */
const BRANCH_TASKS = `import { task, Skipped, type IterateOn, type SkippedValue } from "outflow";

export const GenA = task(function GenA(): { xs: number[] } {
  return { xs: [1] };
});
export const GenB = task(function GenB(): { xs: number[] } {
  return { xs: [2] };
});
export const Double = task(function Double(x: IterateOn<"xs", number>): { y: number } {
  return { y: x * 2 };
});
export const Again = task(function Again(x: IterateOn<"xs", number>): { y: number } {
  return { y: x };
});
export const Factor = task(function Factor(): { factor: number } {
  return { factor: 3 };
});
export const Mul = task(function Mul(y: number, factor: number): { z: number } {
  return { z: y * factor };
});
export const ShowNums = task(function ShowNums(ys: number[]): void {});
export const ShowAny = task(function ShowAny(ys: unknown): void {});
export const SeedA = task(function SeedA(): { value: number } {
  return { value: 1 };
});
export const SeedB = task(function SeedB(): { value: number } {
  return { value: 100 };
});
export const Elem = task(function Elem(x: IterateOn<"xs", number>): { value: number } {
  return { value: x };
});
export const Big = task(function Big(value: number): { big: string } {
  return { big: "big" };
});
export const AlsoBig = task(function AlsoBig(value: number): { big: string } {
  return { big: "also" };
});
export const Small = task(function Small(value: number): { small: string } {
  return { small: "small" };
});
export const Maybe = task(function Maybe(value: number): { big: string } | SkippedValue {
  return value > 1 ? Skipped : { big: "maybe" };
});
export const Last = task(function Last(big?: string, small?: string): void {});
export const After = task(function After(): void {});
export const Plus = task(function Plus(value: number): { value: number } {
  return { value: value + 1 };
});
export const Minus = task(function Minus(value: number): { value: number } {
  return { value: value - 1 };
});
export const ShowValue = task(function ShowValue(value: number): void {});
export const WithXs = task(function WithXs(value: number): { xs: number[] } {
  return { xs: [value] };
});
export const WithFactor = task(function WithFactor(value: number): { factor: number } {
  return { factor: value };
});
export const Without = task(function Without(value: number): { other: number } {
  return { other: value };
});
export const Scale = task(function Scale(x: IterateOn<"xs", number>, factor: number): { y: number } {
  return { y: x * factor };
});
export const UseFactor = task(function UseFactor(factor: number): void {});
export const NotAnObject = task(function NotAnObject(): { xs: number[] } | undefined {
  return { xs: [1] };
});
export const Destructured = task(function Destructured({ x }: { x: IterateOn<"xs", number> }): { y: number } {
  return { y: x };
});
`;

const BRANCH_COMMANDS = `import { command, loop, ifThenElse, merge, interactive, map } from "outflow";
import * as T from "./tasks.js";

export const amb_map = command({
  setup() {
    const m = map({ outputName: "ys" }, () => {
      T.Double();
    });
    T.GenA().pipe(m);
    T.GenB().pipe(m);
    m.pipe(T.ShowNums());
  },
});

export const amb_unread = command({
  setup() {
    const m = map({ outputName: "ys" }, () => {
      T.Double();
    });
    T.GenA().pipe(m);
    T.SeedA().pipe(m);
    T.SeedB().pipe(m);
    m.pipe(T.ShowNums());
  },
});

export const amb_if = command({
  setup() {
    const [ifNode, thenNode, elseNode] = ifThenElse((inputs) => (inputs.value as number) > 10);
    T.SeedA().pipe(ifNode);
    T.SeedB().pipe(ifNode);
    const join = merge();
    thenNode.pipe(T.Big()).pipe(join);
    elseNode.pipe(T.Small()).pipe(join);
    join.pipe(T.Last());
  },
});

export const amb_interactive = command({
  setup() {
    const pause = interactive();
    T.SeedA().pipe(pause);
    T.SeedB().pipe(pause);
    pause.pipe(T.Big());
  },
});

export const amb_loop = command({
  setup() {
    const body = loop({ iterations: 2 }, () => {
      T.Plus();
    });
    T.SeedA().pipe(body);
    T.SeedB().pipe(body);
  },
});

export const no_merge = command({
  setup() {
    const [ifNode, thenNode, elseNode] = ifThenElse((inputs) => (inputs.value as number) > 10);
    T.SeedA().pipe(ifNode);
    const last = T.Last();
    thenNode.pipe(T.Big()).pipe(last);
    elseNode.pipe(T.Small()).pipe(last);
    last.pipe(T.After());
  },
});

export const loop_two_terms = command({
  setup() {
    T.SeedA().pipe(loop({ iterations: 1 }, () => {
      T.Plus();
      T.Minus();
    })).pipe(T.ShowValue());
  },
});

export const map_two_terms = command({
  setup() {
    T.GenA().pipe(map({ outputName: "ys" }, () => {
      T.Double();
      T.Again();
    })).pipe(T.ShowNums());
  },
});

export const terms_per_branch = command({
  setup() {
    T.GenA().pipe(map({ outputName: "ys" }, () => {
      const [ifNode, thenNode, elseNode] = ifThenElse((inputs) => (inputs.value as number) > 10);
      T.Elem().pipe(ifNode);
      thenNode.pipe(T.Big());
      elseNode.pipe(T.AlsoBig());
    })).pipe(T.ShowAny());
  },
});

export const merge_live = command({
  setup() {
    const join = merge();
    T.SeedA().pipe(T.Big()).pipe(join);
    T.SeedA().pipe(T.Small()).pipe(join);
    join.pipe(T.Last());
  },
});

export const merge_maybe = command({
  setup() {
    const join = merge();
    const seed = T.SeedA();
    seed.pipe(T.Maybe()).pipe(join);
    seed.pipe(T.Small()).pipe(join);
    join.pipe(T.Last());
  },
});

export const merge_target = command({
  setup() {
    const [ifNode, thenNode, elseNode] = ifThenElse((inputs) => (inputs.value as number) > 10);
    const join = merge();
    T.SeedA().pipe(ifNode);
    thenNode.pipe(T.WithXs()).pipe(join);
    elseNode.pipe(T.Without()).pipe(join);
    join.pipe(map({ outputName: "ys" }, () => {
      T.Double();
    })).pipe(T.ShowNums());
  },
});

export const merge_pass = command({
  setup() {
    const [ifNode, thenNode, elseNode] = ifThenElse((inputs) => (inputs.value as number) > 10);
    const join = merge();
    T.SeedA().pipe(ifNode);
    thenNode.pipe(T.WithFactor()).pipe(join);
    elseNode.pipe(T.Without()).pipe(join);
    const m = map({ outputName: "ys" }, () => {
      T.Scale();
    });
    join.pipe(m);
    T.GenA().pipe(m);
    m.pipe(T.ShowNums());
    join.pipe(loop({ iterations: 1 }, () => {
      T.UseFactor();
    }));
  },
});

export const merge_joined = command({
  setup() {
    const outer = merge();
    const inner = merge();
    const [ifNode, thenNode, elseNode] = ifThenElse((inputs) => (inputs.value as number) > 10);
    const seed = T.SeedA();
    seed.pipe(ifNode);
    thenNode.pipe(T.Big()).pipe(inner);
    elseNode.pipe(T.AlsoBig()).pipe(inner);
    inner.pipe(outer);
    seed.pipe(T.Small()).pipe(outer);
    outer.pipe(T.Last());
  },
});

export const deep_pass = command({
  setup() {
    const m = map({ outputName: "ys" }, () => {
      T.Double().pipe(T.Mul());
    });
    T.GenA().pipe(m);
    T.Factor().pipe(m);
    m.pipe(T.ShowAny());
  },
});

export const refused_upstream = command({
  setup() {
    T.NotAnObject().pipe(T.ShowNums());
    T.GenA().pipe(map({ outputName: "ys" }, () => {
      T.Destructured();
    })).pipe(T.ShowNums());
  },
});
`;

describe("graph checks of names, branches and merges", () => {
  let diagnostics: Diagnostic[];
  beforeAll(async () => {
    diagnostics = await checkPipeline(makePipeline({ "plugins/p/tasks.ts": BRANCH_TASKS, "plugins/p/commands.ts": BRANCH_COMMANDS }));
  }, 120_000);
  const at = (name: string, snippet: string): Loc => ({ file: "plugins/p/commands.ts", ...locate(BRANCH_COMMANDS, snippet, `export const ${name} = command(`) });
  const of = (name: string): Diagnostic[] => diagnosticsOfCommand(diagnostics, BRANCH_COMMANDS, name);
  const only = (name: string): Diagnostic => {
    const found = of(name);
    expect(found, `${name}; all diagnostics:\n${show(diagnostics)}`).toHaveLength(1);
    return found[0];
  };

  it("OF104 for a name two parents give a map, an if node, interactive() or a loop, at that node", () => {
    expect(only("amb_map")).toEqual({ code: "OF104", message: 'Input "xs" of map(ys) is ambiguous: provided by GenA (number[]) and GenB (number[]); rename one output', site: at("amb_map", "map(") });
    expect(only("amb_if")).toEqual({ code: "OF104", message: 'Input "value" of ifThenElse() is ambiguous: provided by SeedA (number) and SeedB (number); rename one output', site: at("amb_if", "ifThenElse(") });
    expect(only("amb_interactive")).toEqual({ code: "OF104", message: 'Input "value" of interactive() is ambiguous: provided by SeedA (number) and SeedB (number); rename one output', site: at("amb_interactive", "interactive(") });
    expect(only("amb_loop")).toEqual({ code: "OF104", message: 'Input "value" of loop() is ambiguous: provided by SeedA (number) and SeedB (number); rename one output', site: at("amb_loop", "loop(") });
  });

  it("a name two parents give a map whose body never reads it is not ambiguous", () => {
    expect(of("amb_unread"), show(diagnostics)).toEqual([]);
  });

  it("OF115 at a node below both the then and the else side of an if node, not again below it", () => {
    expect(only("no_merge")).toEqual({
      code: "OF115",
      message: "Task Last is downstream of both the then branch (Big) and the else branch (Small) of one ifThenElse(), so it never runs: join the branches with merge() and pipe the merge() into it",
      site: at("no_merge", "Last()"),
    });
  });

  it("OF104 at a loop() or map() whose body has two terminal tasks returning the same name; none when they are on the two sides of an if", () => {
    expect(only("loop_two_terms")).toEqual({
      code: "OF104",
      message: 'Output "value" of loop() is ambiguous: the body\'s terminal tasks Plus (number) and Minus (number) both return it; rename one output, or pipe one task into the other',
      site: at("loop_two_terms", "loop("),
    });
    expect(only("map_two_terms")).toEqual({
      code: "OF104",
      message: 'Output "y" of map(ys) is ambiguous: the body\'s terminal tasks Double (number) and Again (number) both return it; rename one output, or pipe one task into the other',
      site: at("map_two_terms", "map("),
    });
    expect(of("terms_per_branch"), show(diagnostics)).toEqual([]);
  });

  it("OF115 at a merge() whose branches always both run; a branch after a task that may return Skipped is fine", () => {
    expect(only("merge_live")).toEqual({
      code: "OF115",
      message: "merge() joins branches that always both run: Big and Small (none is on an ifThenElse() branch or after a task that may return Skipped), so it would always fail: exactly one branch may run",
      site: at("merge_live", "merge()"),
    });
    expect(of("merge_maybe"), show(diagnostics)).toEqual([]);
  });

  it("OF101 for a map's target or a value passed through to a body, that a merge() gets from only some branches (it would be undefined there)", () => {
    expect(only("merge_target")).toEqual({
      code: "OF101",
      message: 'IterateOn target "xs" of map(ys) comes from a merge() that gets it only from some branches; Without does not provide it',
      site: at("merge_target", "map("),
    });
    expect(of("merge_pass")).toEqual([
      {
        code: "OF101",
        message: 'Task Scale needs input "factor", which map(ys) passes through from a merge() that gets it only from some branches; Without does not provide it',
        site: at("merge_pass", "Scale()"),
      },
      {
        code: "OF101",
        message: 'Task UseFactor needs input "factor", which loop() passes through from a merge() that gets it only from some branches; Without does not provide it',
        site: at("merge_pass", "UseFactor()"),
      },
    ]);
  });

  it("OF115 at a merge() of an always-running branch and a merge() of the then and else side of one if node (that merge() always gives)", () => {
    expect(only("merge_joined")).toEqual({
      code: "OF115",
      message: "merge() joins branches that always both run: merge() and Small (none is on an ifThenElse() branch or after a task that may return Skipped), so it would always fail: exactly one branch may run",
      site: at("merge_joined", "merge()"),
    });
  });

  it("OF101 of a map's value wanted by a body task that is not first says where the map's values go", () => {
    expect(only("deep_pass")).toEqual({
      code: "OF101",
      message: 'Task Mul needs input "factor" (number) but nothing provides it; upstream Double provides: y; "factor" flows into map(ys), but only the first tasks of its body receive what flows into it: pipe it on from a first task',
      site: at("deep_pass", "Mul()"),
    });
  });

  it("a task refused at its definition (OF121) gets no follow-on diagnostics where it is used", () => {
    expect(of("refused_upstream"), show(diagnostics)).toEqual([]);
    expect(diagnostics.filter((d) => d.site.file === "plugins/p/tasks.ts").map((d) => d.code)).toEqual(["OF121", "OF121"]);
  });
});

describe("planGraph on a merge() after tasks, by what the manifest says of Skipped", () => {
  const site = { file: "plugins/p/commands.ts", line: 1, column: 1 };
  const spec = (name: string, skippable?: boolean): TaskSpec => ({
    id: `plugins/p/tasks.ts#${name}`,
    name,
    plugin: "p",
    module: "plugins/p/tasks.ts",
    site,
    async: false,
    inputs: name === "Seed" ? [] : [{ name: "value", type: "number", optional: false, hasDefault: false }],
    outputs: [{ name: name === "Seed" ? "value" : "label", type: name === "Seed" ? "number" : "string", optional: false }],
    ...(skippable === undefined ? {} : { skippable }),
  });
  // Seed → Big → merge(), Seed → Small → merge()
  const graph: GraphSpec = {
    nodes: [
      { id: 0, kind: "task", task: "plugins/p/tasks.ts#Seed", site },
      { id: 1, kind: "task", task: "plugins/p/tasks.ts#Big", site },
      { id: 2, kind: "task", task: "plugins/p/tasks.ts#Small", site },
      { id: 3, kind: "merge", site: { ...site, line: 7 } },
    ],
    edges: [
      { from: 0, to: 1, site },
      { from: 0, to: 2, site },
      { from: 1, to: 3, site },
      { from: 2, to: 3, site },
    ],
  };
  const table = (small?: boolean) => Object.fromEntries([spec("Seed", false), spec("Big", false), spec("Small", small)].map((t) => [t.id, t]));

  it("refuses it when no branch can be skipped (the runtime's re-check too)", () => {
    expect(planGraph(graph, table(false)).diagnostics).toEqual([
      { code: "OF115", message: "merge() joins branches that always both run: Big and Small (none is on an ifThenElse() branch or after a task that may return Skipped), so it would always fail: exactly one branch may run", site: { ...site, line: 7 } },
    ]);
  });

  it("accepts it when one branch may return Skipped, or the manifest does not say", () => {
    expect(planGraph(graph, table(true)).diagnostics).toEqual([]);
    expect(planGraph(graph, table(undefined)).diagnostics).toEqual([]);
  });
});
