/**
 * A map gives each element to the `IterateOn` input of its body's first task. When what the map passes
 * through to its body also has a value of that input's name (the map's upstream gives `{ items, item }`
 * and the first task is `Each(item: IterateOn<"items", number>)`), two providers give one input: OF104 at
 * the task, naming both, as for two parents (not the element taken and the other value dropped). Also through nested maps;
 * the target array itself is no second provider, and a name that never reaches the task (an outer map's
 * element, a pass-through the task does not take, a loop body, which gets no element) is not reported.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Diagnostic } from "../../contract/diagnostic.js";
import { buildPipeline, checkPipeline, diagnosticsOfCommand, locate, makePipeline, removePipelines } from "../helpers/pipeline-fixture.js";
import { runBundle } from "../helpers/run-bundle.js";

afterAll(removePipelines);

const TASKS = `import { task, type IterateOn } from "outflow";

export const GenItem = task(function GenItem(): { items: number[]; item: number } {
  return { items: [1, 2], item: 100 };
});
export const GenItems = task(function GenItems(): { items: number[] } {
  return { items: [1, 2] };
});
export const GenRows = task(function GenRows(): { rows: number[][]; items: number[]; item: number } {
  return { rows: [[1], [2]], items: [3, 4], item: 100 };
});
export const GenRowsOnly = task(function GenRowsOnly(): { rows: number[][] } {
  return { rows: [[1, 2], [3]] };
});
export const Row = task(function Row(row: IterateOn<"rows", number[]>): { n: number } {
  return { n: row.length };
});
export const RowItems = task(function RowItems(row: IterateOn<"rows", number[]>): { items: number[]; item: number } {
  return { items: row, item: 100 };
});
export const Spread = task(function Spread(item: IterateOn<"items", number>): { others: number[] } {
  return { others: [item, item * 10] };
});
export const Each = task(function Each(item: IterateOn<"items", number>): { y: number } {
  return { y: item * 2 };
});
export const EachOther = task(function EachOther(item: IterateOn<"others", number>): { y: number } {
  return { y: item + 1 };
});
export const EachItems = task(function EachItems(items: IterateOn<"items", number>): { y: number } {
  return { y: items * 3 };
});
export const EachX = task(function EachX(x: IterateOn<"items", number>): { y: number } {
  return { y: x * 5 };
});
export const UseItem = task(function UseItem(item: number): { z: number } {
  console.log("ITEM " + item);
  return { z: item };
});
export const Show = task(function Show(ys: unknown): void {
  console.log("YS " + JSON.stringify(ys));
});
`;

const HEADER = `import { command, loop, map } from "outflow";
import * as T from "./tasks.js";
`;

/** Two providers of the IterateOn input's name. */
const AMBIGUOUS = `${HEADER}
export const element_and_upstream = command({
  setup() {
    T.GenItem().pipe(map({ outputName: "ys" }, () => {
      T.Each();
    }));
  },
});

export const nested_pass_through = command({
  setup() {
    T.GenRows().pipe(map({ outputName: "ys" }, () => {
      T.Row();
      map({ outputName: "zs" }, () => {
        T.Each();
      });
    }));
  },
});

export const nested_from_body_task = command({
  setup() {
    T.GenRowsOnly().pipe(map({ outputName: "ys" }, () => {
      T.RowItems().pipe(map({ outputName: "zs" }, () => {
        T.Each();
      }));
    }));
  },
});

`;

/** No second provider: these build, and run with the values meant. */
const VALID = `${HEADER}
export const target_as_input = command({
  db: false,
  setup() {
    T.GenItem().pipe(map({ outputName: "ys" }, () => {
      T.EachItems();
    })).pipe(T.Show());
  },
});

export const not_taken = command({
  db: false,
  setup() {
    T.GenItem().pipe(map({ outputName: "ys" }, () => {
      T.EachX();
    })).pipe(T.Show());
  },
});

export const outer_element_name = command({
  db: false,
  setup() {
    T.GenItems().pipe(map({ outputName: "ys" }, () => {
      T.Spread().pipe(map({ outputName: "zs" }, () => {
        T.EachOther();
      }));
    })).pipe(T.Show());
  },
});

export const loop_in_map = command({
  db: false,
  setup() {
    T.GenItem().pipe(map({ outputName: "ys" }, () => {
      T.EachX();
      loop({ iterations: 1 }, () => {
        T.UseItem();
      });
    })).pipe(T.Show());
  },
});

export const by_arg = command({
  args: { level: { type: "integer", default: 1 } },
  db: false,
  setup({ args }) {
    // A number arg: the compiler records the graph with its default only.
    (args.level > 1 ? T.GenItem() : T.GenItems()).pipe(map({ outputName: "ys" }, () => {
      T.Each();
    })).pipe(T.Show());
  },
});
`;

const show = (list: Diagnostic[]) => list.map((d) => `  ${d.code} ${d.site.file}:${d.site.line}:${d.site.column} ${d.message}`).join("\n");
const RENAME = "; rename the output or the input";
const message = (also: string) => `Input "item" of task Each is ambiguous: ${also}${RENAME}`;

describe("a map's element and a value the map passes through, given to one input of a body's first task: OF104 at the task", () => {
  let diagnostics: Diagnostic[];
  beforeAll(async () => {
    diagnostics = await checkPipeline(makePipeline({ "plugins/p/tasks.ts": TASKS, "plugins/p/commands.ts": AMBIGUOUS }));
  }, 120_000);
  const of = (name: string): Diagnostic[] => diagnosticsOfCommand(diagnostics, AMBIGUOUS, name);
  const ambiguous = (name: string, also: string): Diagnostic => ({
    code: "OF104",
    message: message(also),
    site: { file: "plugins/p/commands.ts", ...locate(AMBIGUOUS, "Each(", `export const ${name} = command(`) },
  });

  it("the map's upstream gives the element's name too: one diagnostic naming the element and the task the other value comes from", () => {
    expect(of("element_and_upstream"), show(diagnostics)).toEqual([
      ambiguous("element_and_upstream", 'given each element of "items" by map(ys) and also passed through to the body by map(ys) from GenItem (number)'),
    ]);
  });

  it("through nested maps: what the outer map passes on into the inner one, and what a task of the outer body gives the inner map", () => {
    expect(of("nested_pass_through"), show(diagnostics)).toEqual([
      ambiguous("nested_pass_through", 'given each element of "items" by map(zs) and also passed through to the body by map(zs) from GenRows (number)'),
    ]);
    expect(of("nested_from_body_task"), show(diagnostics)).toEqual([
      ambiguous("nested_from_body_task", 'given each element of "items" by map(zs) and also passed through to the body by map(zs) from RowItems (number)'),
    ]);
  });

  it("nothing else is reported", () => {
    expect(diagnostics, show(diagnostics)).toHaveLength(3);
  });
});

describe("no second provider: the target array named like the input, a pass-through the task does not take, an outer map's element, a loop body in a map", () => {
  let root: string;
  beforeAll(async () => {
    root = makePipeline({ "plugins/p/tasks.ts": TASKS, "plugins/p/commands.ts": VALID });
    const built = await buildPipeline(root);
    expect(built.diagnostics.map((d) => `${d.code} ${d.site.file}:${d.site.line}:${d.site.column} ${d.message}`)).toEqual([]);
  }, 120_000);
  const run = (name: string, args: string[] = []) => {
    const r = runBundle(root, name, args);
    expect(r.code, r.output).toBe(0);
    return r.stdout;
  };

  it("they build and run with the values meant", () => {
    expect(run("target_as_input")).toContain("YS [3,6]");
    expect(run("not_taken")).toContain("YS [5,10]");
    expect(run("outer_element_name")).toContain("YS [[2,11],[3,21]]");
    const loopInMap = run("loop_in_map");
    expect(loopInMap).toContain("ITEM 100");
    expect(loopInMap).toContain('YS [{"y":5,"z":100},{"y":10,"z":100}]');
  });

  it("the default args build the map under GenItems: the elements", () => {
    expect(run("by_arg")).toContain("YS [2,4]");
  });

  it("at run time, --level 2 builds the map under GenItem, which gives item too: OF104 at the task, one line, before anything runs, no stack", () => {
    const r = runBundle(root, "by_arg", ["--level", "2"]);
    expect(r.code, r.output).toBe(1);
    const call = locate(VALID, "Each(", "export const by_arg");
    expect(r.stderr.split("\n")[0]).toBe(
      `plugins/p/commands.ts:${call.line}:${call.column} - error OF104: ${message('given each element of "items" by map(ys) and also passed through to the body by map(ys) from GenItem (number)')}`,
    );
    expect(r.stderr).toContain("error: the graph of by_arg built with these args is invalid (1 problem)");
    expect(r.output).not.toContain("YS");
    expect(r.output).not.toMatch(/runtime\/api|runtime\/graph|\n\s+at /);
  });
});
