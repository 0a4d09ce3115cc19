/**
 * A constant bound at the call (`OverA({ a: 5 })`) is one provider of that input: when a value of the same
 * name also reaches the task (a parent's output, also passed on by an if, then, else, merge() or
 * interactive() node; a loop's outputs; in a body's first task, the map's element or what the map or loop
 * passes through), the input is ambiguous (OF104), as with two parents giving it. Checked at build time,
 * and again at run time on the graph built with the real args. What does not reach the task, and a
 * default, are no provider: their cases build and run in valid-pipelines.test.ts (`bound_alongside`).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Diagnostic } from "../../contract/diagnostic.js";
import { buildPipeline, checkPipeline, diagnosticsOfCommand, locate, makePipeline, removePipelines } from "../helpers/pipeline-fixture.js";
import { runBundle } from "../helpers/run-bundle.js";

afterAll(removePipelines);

const TASKS = `import { task, type IterateOn } from "outflow";

export const Src = task(function Src(): { a: number } {
  return { a: 1 };
});
export const SrcB = task(function SrcB(): { a: number } {
  return { a: 2 };
});
export const OverA = task(function OverA(a: number): void {
  console.log("A " + a);
});
export const Seed = task(function Seed(): { value: number } {
  return { value: 1 };
});
export const Step = task(function Step(value: number): { value: number } {
  return { value };
});
export const UseValue = task(function UseValue(value: number): void {});
export const Big = task(function Big(value: number): { label: string } {
  return { label: "big" };
});
export const Small = task(function Small(value: number): { label: string } {
  return { label: "small" };
});
export const TakeLabel = task(function TakeLabel(label: string): void {});
export const Gen = task(function Gen(): { xs: number[]; factor: number } {
  return { xs: [1, 2], factor: 2 };
});
export const Double = task(function Double(x: IterateOn<"xs", number>): { y: number } {
  return { y: 2 * x };
});
export const GenX = task(function GenX(): { xs: number[]; x: number } {
  return { xs: [1, 2], x: 7 };
});
export const EachRow = task(function EachRow(row: IterateOn<"rows", number>): { z: number } {
  return { z: row };
});
export const Scale = task(function Scale(x: IterateOn<"xs", number>, factor: number): { y: number } {
  return { y: x * factor };
});
`;

const COMMANDS = `import { command, loop, ifThenElse, merge, interactive, map } from "outflow";
import * as T from "./tasks.js";

export const direct = command({
  setup() {
    T.Src().pipe(T.OverA({ a: 5 }));
  },
});

export const two_parents = command({
  setup() {
    const over = T.OverA({ a: 5 });
    T.Src().pipe(over);
    T.SrcB().pipe(over);
  },
});

export const through_then = command({
  setup() {
    const [ifNode, thenNode] = ifThenElse(() => true);
    T.Src().pipe(ifNode);
    thenNode.pipe(T.OverA({ a: 5 }));
  },
});

export const through_merge = command({
  setup() {
    const [ifNode, thenNode, elseNode] = ifThenElse((inputs) => (inputs.value as number) > 0);
    const join = merge();
    T.Seed().pipe(ifNode);
    thenNode.pipe(T.Big()).pipe(join);
    elseNode.pipe(T.Small()).pipe(join);
    join.pipe(T.TakeLabel({ label: "fixed" }));
  },
});

export const through_interactive = command({
  setup() {
    T.Src().pipe(interactive()).pipe(T.OverA({ a: 5 }));
  },
});

export const after_loop = command({
  setup() {
    T.Seed().pipe(loop({ iterations: 2 }, () => {
      T.Step();
    })).pipe(T.UseValue({ value: 5 }));
  },
});

export const loop_pass_through = command({
  setup() {
    T.Seed().pipe(loop({ iterations: 2 }, () => {
      T.Step({ value: 5 });
    }));
  },
});

export const map_pass_through = command({
  setup() {
    T.Gen().pipe(map({ outputName: "ys" }, () => {
      T.Scale({ factor: 3 });
    }));
  },
});

export const map_element = command({
  setup() {
    T.Gen().pipe(map({ outputName: "ys" }, () => {
      T.Double({ x: 3 });
    }));
  },
});

export const map_element_bound_and_passed = command({
  setup() {
    T.GenX().pipe(map({ outputName: "ys" }, () => {
      T.Double({ x: 3 });
    }));
  },
});

export const map_element_beside_bound = command({
  setup() {
    T.Gen().pipe(map({ outputName: "ys" }, () => {
      T.Double();
      T.EachRow({ row: 5 });
    }));
  },
});

export const map_elements_all_bound = command({
  setup() {
    T.Gen().pipe(map({ outputName: "ys" }, () => {
      T.Double({ x: 3 });
      T.EachRow({ row: 5 });
    }));
  },
});

export const map_in_loop = command({
  setup() {
    T.Gen().pipe(loop({ iterations: 1 }, () => {
      map({ outputName: "ys" }, () => {
        T.Scale({ factor: 3 });
      });
    }));
  },
});
`;

type Loc = { file: string; line: number; column: number };
const show = (list: Diagnostic[]) => list.map((d) => `  ${d.code} ${d.site.file}:${d.site.line}:${d.site.column} ${d.message}`).join("\n");
const UNBIND = "; do not bind it to take the upstream value, or rename the output or the input";
const ELEMENT = (target: string) => `given each element of "${target}" by map(ys)`;
const TAKES_ELEMENT = "; do not bind it (the first task of a map() body takes the element in its IterateOn input)";

describe("a bound input that a value reaching the task also provides: OF104 at the call", () => {
  let diagnostics: Diagnostic[];
  beforeAll(async () => {
    diagnostics = await checkPipeline(makePipeline({ "plugins/p/tasks.ts": TASKS, "plugins/p/commands.ts": COMMANDS }));
  }, 120_000);
  const at = (name: string, snippet: string): Loc => ({ file: "plugins/p/commands.ts", ...locate(COMMANDS, snippet, `export const ${name} = command(`) });
  /** Every diagnostic of one command. */
  const of = (name: string): Diagnostic[] => diagnosticsOfCommand(diagnostics, COMMANDS, name);
  const ambiguous = (name: string, task: string, input: string, also: string, snippet = `${task}(`): Diagnostic => ({
    code: "OF104",
    message: `Input "${input}" of task ${task} is ambiguous: bound at the call and also ${also}`,
    site: at(name, snippet),
  });

  it("a direct upstream task gives the bound name", () => {
    expect(of("direct")).toEqual([ambiguous("direct", "OverA", "a", `provided by Src (number)${UNBIND}`)]);
  });

  it("two upstream tasks give the bound name: one diagnostic naming both (and not a second OF104 for the two)", () => {
    expect(of("two_parents")).toEqual([ambiguous("two_parents", "OverA", "a", `provided by Src (number) and SrcB (number)${UNBIND}`)]);
  });

  it("a value an if node, merge() or interactive() passes on reaches the task: named by the task it comes from and the node it comes through", () => {
    expect(of("through_then")).toEqual([ambiguous("through_then", "OverA", "a", `provided by Src (number) through ifThenElse().then${UNBIND}`)]);
    expect(of("through_merge")).toEqual([ambiguous("through_merge", "TakeLabel", "label", `provided by Big or Small (string) through merge()${UNBIND}`)]);
    expect(of("through_interactive")).toEqual([ambiguous("through_interactive", "OverA", "a", `provided by Src (number) through interactive()${UNBIND}`)]);
  });

  it("a loop's outputs reach the task after it", () => {
    expect(of("after_loop")).toEqual([ambiguous("after_loop", "UseValue", "value", `provided by loop() (number)${UNBIND}`)]);
  });

  it("in a body's first task: what the loop or map passes through, named with the task it comes from, also through a loop around the map", () => {
    expect(of("loop_pass_through")).toEqual([ambiguous("loop_pass_through", "Step", "value", `passed through to the body by loop() from Seed (number)${UNBIND}`, "Step({")]);
    expect(of("map_pass_through")).toEqual([ambiguous("map_pass_through", "Scale", "factor", `passed through to the body by map(ys) from Gen (number)${UNBIND}`)]);
    expect(of("map_in_loop")).toEqual([ambiguous("map_in_loop", "Scale", "factor", `passed through to the body by map(ys) from Gen (number)${UNBIND}`)]);
  });

  it("the map's element, in the IterateOn input of a body's first task: OF104, not 'the map has nothing to iterate'", () => {
    expect(of("map_element")).toEqual([ambiguous("map_element", "Double", "x", `${ELEMENT("xs")}${TAKES_ELEMENT}`)]);
  });

  it("the element and a value of the same name the map passes through: the one OF104 names both", () => {
    expect(of("map_element_bound_and_passed")).toEqual([
      ambiguous("map_element_bound_and_passed", "Double", "x", `${ELEMENT("xs")} and passed through to the body by map(ys) from GenX (number)${TAKES_ELEMENT}`),
    ]);
  });

  it("a bound IterateOn input beside an unbound one of another target: only the OF104 at the bound one, no 'conflicting targets' (the map iterates the unbound one's)", () => {
    expect(of("map_element_beside_bound"), show(diagnostics)).toEqual([ambiguous("map_element_beside_bound", "EachRow", "row", `${ELEMENT("rows")}${TAKES_ELEMENT}`)]);
  });

  it("every IterateOn input of the first tasks bound, to different targets: their OF104s, no 'conflicting targets' as well", () => {
    expect(of("map_elements_all_bound"), show(diagnostics)).toEqual([
      ambiguous("map_elements_all_bound", "Double", "x", `${ELEMENT("xs")}${TAKES_ELEMENT}`),
      ambiguous("map_elements_all_bound", "EachRow", "row", `${ELEMENT("rows")}${TAKES_ELEMENT}`),
    ]);
  });

  it("nothing else is reported", () => {
    expect(diagnostics.filter((d) => d.code !== "OF104"), show(diagnostics)).toEqual([]);
    expect(diagnostics).toHaveLength(14);
  });
});

describe("the same at run time, on a graph built with the real args", () => {
  const commands = `import { command } from "outflow";
import * as T from "./tasks.js";

export const by_arg = command({
  args: { level: { type: "integer", default: 1 } },
  db: false,
  setup({ args }) {
    // A number arg: the compiler records the graph with its default only.
    T.Src().pipe(args.level > 1 ? T.OverA({ a: 5 }) : T.OverA());
  },
});
`;
  let root: string;
  beforeAll(async () => {
    root = makePipeline({ "plugins/p/tasks.ts": TASKS, "plugins/p/commands.ts": commands });
    expect((await buildPipeline(root)).diagnostics).toEqual([]);
  }, 120_000);

  it("runs with the default args: the upstream value", () => {
    const r = runBundle(root, "by_arg", []);
    expect(r.code, r.output).toBe(0);
    expect(r.stdout).toContain("A 1");
  });

  it("--level 2 binds the name Src gives: OF104 at the call, one line, before anything runs, no stack", () => {
    const r = runBundle(root, "by_arg", ["--level", "2"]);
    expect(r.code, r.output).toBe(1);
    const call = locate(commands, "OverA({");
    const [head] = r.stderr.split("\n");
    expect(head).toBe(`plugins/p/commands.ts:${call.line}:${call.column} - error OF104: Input "a" of task OverA is ambiguous: bound at the call and also provided by Src (number)${UNBIND}`);
    expect(r.stderr).toContain("error: the graph of by_arg built with these args is invalid (1 problem)");
    expect(r.output).not.toContain("A 5");
    expect(r.output).not.toMatch(/runtime\/api|runtime\/graph|\n\s+at /);
  });
});
