/**
 * The compiler checks every graph that setup() builds with the other values of the booleans and enums it
 * reads, not only the graph of the defaults: a wiring mistake on the `--calibrate` path is a compile error
 * named by the args that build it, not a TaskValueError after the upstream tasks ran.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Diagnostic } from "../../contract/diagnostic.js";
import { checkPipeline, locate, makePipeline, removePipelines } from "../helpers/pipeline-fixture.js";

afterAll(removePipelines);

const TASKS = `import { task } from "outflow";

export const Seed = task(function Seed(): { value: number } {
  return { value: 1 };
});
export const UseNumber = task(function UseNumber(value: number): void {});
export const UseText = task(function UseText(value: string): void {});
export const NeedsLabel = task(function NeedsLabel(label: string): void {});
export const Slow = task(function Slow(value: number): { value: number } {
  return { value };
});
`;

const COMMANDS = `import { command } from "outflow";
import { Seed, UseNumber, UseText, NeedsLabel, Slow } from "./tasks.js";

export const calibrated = command({
  args: { calibrate: { type: "boolean" } },
  setup({ args }) {
    if (args.calibrate) Seed().pipe(UseText());
    else Seed().pipe(UseNumber());
  },
});

export const by_mode = command({
  args: { mode: { type: "enum", options: ["fast", "full", "audit"], default: "fast" } },
  setup({ args }) {
    const seed = Seed();
    if (args.mode === "audit") seed.pipe(NeedsLabel());
    else seed.pipe(UseNumber());
  },
});

export const nested = command({
  args: { extra: { type: "boolean" }, kind: { type: "enum", options: ["plain", "text"] } },
  setup({ args }) {
    const seed = Seed().pipe(Slow());
    if (!args.extra) return;
    if (args.kind === "text") seed.pipe(UseText());
  },
});

export const both = command({
  args: { a: { type: "boolean" }, b: { type: "boolean", default: true } },
  setup({ args }) {
    if (args.a && !args.b) Seed().pipe(UseText());
    else Seed().pipe(UseNumber());
  },
});

export const refuses = command({
  args: { unsafe: { type: "boolean" } },
  setup({ args }) {
    if (args.unsafe) throw new Error("--unsafe is not supported yet");
    Seed().pipe(UseNumber());
  },
});

export const self_pipe = command({
  args: { debug: { type: "boolean" } },
  setup({ args }) {
    const seed = Seed();
    if (args.debug) seed.pipe(seed);
    seed.pipe(UseNumber());
  },
});

export const self_pipe_verbose = command({
  args: { debug: { type: "boolean" }, verbose: { type: "boolean" } },
  setup({ args }) {
    const seed = Seed();
    if (args.verbose) Seed().pipe(UseNumber());
    if (args.debug) seed.pipe(seed);
    seed.pipe(UseNumber());
  },
});

export const wrong_default = command({
  args: { calibrate: { type: "boolean" } },
  setup({ args }) {
    Seed().pipe(UseText());
    if (args.calibrate) Seed().pipe(UseNumber());
  },
});
`;

const at = (command: string, snippet: string) => ({ file: "plugins/p/commands.ts", ...locate(COMMANDS, snippet, `export const ${command} = command(`) });
const of = (diagnostics: Diagnostic[], command: string, snippet: string) => {
  const site = at(command, snippet);
  return diagnostics.filter((d) => d.site.file === site.file && d.site.line === site.line);
};

describe("graphs that boolean and enum args build", () => {
  let diagnostics: Diagnostic[];
  beforeAll(async () => {
    diagnostics = await checkPipeline(makePipeline({ "plugins/p/tasks.ts": TASKS, "plugins/p/commands.ts": COMMANDS }));
  }, 120_000);

  it("a type mismatch only --calibrate builds is an error at its pipe, named by the flag", () => {
    const found = of(diagnostics, "calibrated", "Seed().pipe(UseText())");
    expect(found.map((d) => d.code)).toEqual(["OF102"]);
    expect(found[0].message).toMatch(/UseText/);
    expect(found[0].message).toMatch(/\(in the graph setup\(\) builds with --calibrate\)$/);
  });

  it("an enum option other than the default is checked, and named as written on the command line", () => {
    const found = of(diagnostics, "by_mode", "seed.pipe(NeedsLabel())");
    expect(found.map((d) => d.code)).toEqual(["OF101"]);
    expect(found[0].message).toMatch(/label/);
    expect(found[0].message).toMatch(/\(in the graph setup\(\) builds with --mode audit\)$/);
  });

  it("an arg that setup() reads only under another is varied too, in combination", () => {
    const found = of(diagnostics, "nested", "seed.pipe(UseText())");
    expect(found.map((d) => d.code)).toEqual(["OF102"]);
    expect(found[0].message).toMatch(/\(in the graph setup\(\) builds with --extra --kind text\)$/);
  });

  it("a combination of two booleans is checked, a default of true varied to --no-<flag>", () => {
    const found = of(diagnostics, "both", "Seed().pipe(UseText())");
    expect(found.map((d) => d.code)).toEqual(["OF102"]);
    expect(found[0].message).toMatch(/\(in the graph setup\(\) builds with --a --no-b\)$/);
  });

  it("a combination that setup() refuses on purpose (its own throw) is not an error of the build", () => {
    expect(diagnostics.filter((d) => d.message.includes("refuses") || d.message.includes("--unsafe"))).toEqual([]);
  });

  it("outflow refusing a call only a flag makes (a GraphError) is an error at that call, named by the flag", () => {
    const found = of(diagnostics, "self_pipe", "seed.pipe(seed)");
    expect(found.map((d) => `${d.code} ${d.message}`)).toEqual(["OF100 setup() of command self_pipe threw with --debug: a node cannot be piped into itself"]);
  });

  it("a refused call that several combinations make is one OF100, named by the fewest args that make it", () => {
    const found = of(diagnostics, "self_pipe_verbose", "seed.pipe(seed)");
    expect(found.map((d) => `${d.code} ${d.message}`)).toEqual(["OF100 setup() of command self_pipe_verbose threw with --debug: a node cannot be piped into itself"]);
  });

  it("a problem of the default graph is reported once, without a variant's label", () => {
    const found = of(diagnostics, "wrong_default", "Seed().pipe(UseText())");
    expect(found.map((d) => d.code)).toEqual(["OF102"]);
    expect(found[0].message).not.toMatch(/in the graph setup\(\) builds/);
  });

  it("nothing else is reported", () => {
    expect(diagnostics).toHaveLength(7);
  });
});

describe("a setup() that never returns with one flag", () => {
  it("is named with that flag once (the combinations that hold it are not tried), and the default graph is still checked", async () => {
    const commands = `import { command } from "outflow";
import { Seed, UseNumber, UseText } from "./tasks.js";

export const spins = command({
  args: { other: { type: "boolean" }, forever: { type: "boolean" } },
  setup({ args }) {
    if (args.other) Seed().pipe(UseNumber());
    while (args.forever) {}
    Seed().pipe(UseText());
  },
});
`;
    const previous = process.env.OUTFLOW_RECORD_TIMEOUT_MS;
    process.env.OUTFLOW_RECORD_TIMEOUT_MS = "1500";
    try {
      const found = await checkPipeline(makePipeline({ "plugins/p/tasks.ts": TASKS, "plugins/p/commands.ts": commands }));
      const lines = found.map((d) => `${d.code} ${d.message}`);
      expect(lines).toContainEqual(expect.stringMatching(/^OF100 setup\(\) of command spins with --forever did not return within 1.5 s/));
      expect(lines).toContainEqual(expect.stringMatching(/^OF102 .*UseText/));
      expect(found).toHaveLength(2);
    } finally {
      if (previous === undefined) delete process.env.OUTFLOW_RECORD_TIMEOUT_MS;
      else process.env.OUTFLOW_RECORD_TIMEOUT_MS = previous;
    }
  }, 120_000);
});
