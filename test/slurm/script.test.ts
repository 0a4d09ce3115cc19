/** The pieces of the slurm backend that need no Slurm: quoting, directives, the generated script. */
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { commentText, directiveValue, shellQuote } from "../../runtime/backends/slurm/quote.js";
import { arraySlots, autoElementsPerTask, mapSubmission } from "../../runtime/backends/slurm/options.js";
import { cpusOf, parsePartitions } from "../../runtime/backends/slurm/cluster.js";
import { compactRanges, parseExitStatus, taskRange } from "../../runtime/backends/slurm/layout.js";
import { renderScript } from "../../runtime/backends/slurm/script.js";
import { keptEvents, mergeEvents } from "../../runtime/backends/slurm/kept.js";
import type { RecordedEvent } from "../../runtime/backends/events.js";

const nasty = [`it's`, `"dq"`, "$(touch /tmp/outflow-never)", "`id`", "a b\tc", "line\nbreak", "'\\''", "$HOME ${PATH}", ";|&<>*?[]{}~!#", ""];

describe("shell quoting", () => {
  it("gives bash back every value unchanged, executing nothing", () => {
    for (const value of nasty) {
      const r = spawnSync("bash", ["-c", `printf '%s' ${shellQuote(value)}`], { encoding: "utf8" });
      expect(r.stdout).toBe(value);
    }
  });

  it("writes plain directive values plainly and quotes the rest the way sbatch reads them", () => {
    expect(directiveValue("partition", "debug")).toBe("debug");
    expect(directiveValue("time", "1-00:00:00")).toBe("1-00:00:00");
    expect(directiveValue("comment", `a "b" # c\\`)).toBe(`"a \\"b\\" # c\\\\"`);
    expect(() => directiveValue("comment", "a\nb")).toThrow(/line break/);
  });

  it("keeps comments on one printable line", () => {
    expect(commentText("map(x)\n#SBATCH --evil")).toBe("map(x)?#SBATCH --evil");
  });
});

describe("sbatch directives of a map", () => {
  it("merges config < command < map, with the map's cpusPerTask and simultaneousTasks", () => {
    const s = mapSubmission(
      { partition: "cfg", time: "1:00:00", mem: "1G", extra: ["--exclusive"] },
      { partition: "cmd", qos: "high" },
      { outputName: "r", cpusPerTask: 4, simultaneousTasks: 10, slurm: { mem: "10G", cpus_per_task: 5, account: "astro", elementsPerTask: 3, nodelist: "n[1-2]" } },
    );
    expect(s.directives).toEqual(["--partition=cmd", "--time=1:00:00", "--mem=10G", "--qos=high", "--cpus-per-task=5", "--account=astro", "--nodelist=\"n[1-2]\"", "--exclusive"]);
    expect(s.simultaneous).toBe(10);
    expect(s.elementsPerTask).toBe(3);
  });

  it("refuses options outflow sets itself and values that cannot be written safely", () => {
    expect(() => mapSubmission({}, undefined, { outputName: "r", slurm: { array: "0-3" } })).toThrow(/array is set by outflow/);
    expect(() => mapSubmission({}, undefined, { outputName: "r", slurm: { output: "x" } })).toThrow(/output is set by outflow/);
    expect(() => mapSubmission({}, undefined, { outputName: "r", slurm: { extra: ["--job-name=x"] } })).toThrow(/job-name is set by outflow/);
    // Abbreviations and short forms sbatch reads as the same options.
    const refused = (slurm: Record<string, unknown>) => {
      try {
        mapSubmission({}, undefined, { outputName: "r", slurm });
      } catch (error) {
        return (error as Error).message;
      }
      return "accepted";
    };
    expect(refused({ arra: "1" })).toBe("slurm option arra (sbatch may read it as --array) is set by outflow and cannot be given");
    expect(refused({ jobNa: "x" })).toBe("slurm option job-na (sbatch may read it as --job-name) is set by outflow and cannot be given");
    expect(refused({ extra: ["-a1"] })).toBe('slurm extra argument "-a1" (sbatch may read it as --array) is set by outflow and cannot be given');
    expect(refused({ extra: ["-Jmyname"] })).toBe('slurm extra argument "-Jmyname" (sbatch may read it as --job-name) is set by outflow and cannot be given');
    expect(refused({ extra: ["--outp=x"] })).toBe('slurm extra argument "--outp=x" (sbatch may read it as --output) is set by outflow and cannot be given');
    expect(refused({ extra: ["-o", "x"] })).toBe('slurm extra argument "-o" (sbatch may read it as --output) is set by outflow and cannot be given');
    expect(refused({ extra: ["-Qa1"] })).toBe('slurm extra argument "-Qa1" (sbatch may read it as --array) is set by outflow and cannot be given');
    // Options that only look alike are kept.
    expect(mapSubmission({}, undefined, { outputName: "r", slurm: { exclusive: true, account: "a", extra: ["-c2", "--exclude=n1"] } }).directives).toEqual(["--exclusive", "--account=a", "-c2", "--exclude=n1"]);
    expect(() => mapSubmission({}, undefined, { outputName: "r", slurm: { comment: "a\n#SBATCH --x" } })).toThrow(/line break/);
    expect(() => mapSubmission({}, undefined, { outputName: "r", slurm: { "bad name": 1 } })).toThrow(/not an sbatch option name/);
    expect(() => mapSubmission({}, undefined, { outputName: "r", simultaneousTasks: 0 })).toThrow(/positive integer/);
  });
});

describe('elementsPerTask: "auto"', () => {
  const limits = { partitionCpus: 16, cpusPerTask: 1, maxArraySize: 1001 };
  it("counts the slots as min(%k, partition CPUs / cpusPerTask, MaxArraySize)", () => {
    expect(arraySlots(limits)).toBe(16);
    expect(arraySlots({ ...limits, cpusPerTask: 3 })).toBe(5);
    expect(arraySlots({ ...limits, cpusPerTask: 32 })).toBe(1);
    expect(arraySlots({ ...limits, simultaneous: 10 })).toBe(10);
    expect(arraySlots({ ...limits, simultaneous: 40 })).toBe(16);
    expect(arraySlots({ ...limits, maxArraySize: 4 })).toBe(4);
    expect(arraySlots({ ...limits, partitionCpus: undefined })).toBe(1001);
    expect(arraySlots({ ...limits, partitionCpus: undefined, simultaneous: 8 })).toBe(8);
  });

  it("packs the elements into one wave: ceil(N / slots) per array task", () => {
    expect(autoElementsPerTask(100, 16)).toBe(7); // 15 array tasks
    expect(autoElementsPerTask(96, 16)).toBe(6); // 16 array tasks
    expect(autoElementsPerTask(10, 16)).toBe(1);
    expect(autoElementsPerTask(1, 16)).toBe(1);
    expect(autoElementsPerTask(5000, 1001)).toBe(5);
    expect(autoElementsPerTask(8, 2)).toBe(4);
    expect(autoElementsPerTask(100, 16, 2)).toBe(4); // two waves: 25 array tasks
  });

  it("reads the partitions' CPUs from sinfo's %P|%C and finds the default one", () => {
    const p = parsePartitions("debug*|0/16/0/16\nbig|10/20/4/34\n");
    expect(p.default).toBe("debug");
    expect(cpusOf(p, undefined)).toBe(16);
    expect(cpusOf(p, "big")).toBe(30);
    expect(cpusOf(p, "debug,big")).toBe(46);
    expect(cpusOf(p, "nope")).toBeUndefined();
    expect(cpusOf(parsePartitions(""), undefined)).toBeUndefined();
  });

  it('takes "auto" from any layer, with the cpusPerTask and partition it divides by', () => {
    const s = mapSubmission({ partition: "big" }, { elementsPerTask: "auto" }, { outputName: "r", cpusPerTask: 2 });
    expect(s).toMatchObject({ elementsPerTask: "auto", cpusPerTask: 2, partition: "big" });
    expect(mapSubmission({}, undefined, { outputName: "r", slurm: { extra: ["--cpus-per-task=4", "--partition=x"] } })).toMatchObject({ elementsPerTask: 1, cpusPerTask: 4, partition: "x" });
    expect(() => mapSubmission({}, undefined, { outputName: "r", slurm: { elementsPerTask: "fast" } })).toThrow('slurm option elementsPerTask: expected a positive integer or "auto", got "fast"');
    expect(() => mapSubmission({}, undefined, { outputName: "r", slurm: { elementsPerTask: 0 } })).toThrow('elementsPerTask: expected a positive integer or "auto", got 0');
  });
});

describe("run directory helpers", () => {
  it("compacts task lists into --array ranges", () => {
    expect(compactRanges([0, 1, 2, 3, 7, 9, 10])).toBe("0-3,7,9-10");
    expect(compactRanges([2])).toBe("2");
  });

  it("reads the status line the script writes", () => {
    expect(parseExitStatus("exit=3 start=1.5 end=2,5 host=n1 job=12\n")).toEqual({ exit: 3, start: 1.5, end: 2.5, host: "n1", job: "12" });
    expect(parseExitStatus("garbage")).toBeUndefined();
  });

  it("splits elements into array tasks", () => {
    expect(taskRange(0, 5, 12)).toEqual([0, 5]);
    expect(taskRange(2, 5, 12)).toEqual([10, 12]);
  });

  it("renders a script whose shell part holds only quoted paths", () => {
    const script = renderScript({ jobName: "outflow-r1-map-1", array: "0-3%2", directives: ["--mem=1G"], mapDir: "/runs/it's here/map-1", node: "/usr/bin/node", bundle: "/p/dist/c.js", cwd: "/p", title: "map(r)", scriptName: "array-0.sh" });
    expect(script).toContain("#SBATCH --array=0-3%2\n#SBATCH --output=logs/%a.out\n#SBATCH --error=logs/%a.err\n#SBATCH --mem=1G\n");
    expect(script).toContain(`MAP_DIR='/runs/it'\\''s here/map-1'`);
    expect(spawnSync("bash", ["-n"], { input: script }).status).toBe(0);
  });
});

describe("merging a resubmitted packed task's records", () => {
  const ev = (id: number, parent: number | null, name: string, element?: number): RecordedEvent => ({ id, parent, name, plugin: "", element, inputs: [], outputs: [], startedAt: 0, state: "success" });
  it("keeps the kept elements' records with everything under them, and renumbers the new ones after them", () => {
    const earlier = [ev(1, null, "r[4]", 4), ev(2, 1, "T", 4), ev(3, null, "r[5]", 5), ev(4, 3, "T", 5), ev(5, null, "r[6]", 6), ev(6, 5, "T", 6)];
    const kept = keptEvents(earlier, new Set([4, 6]));
    expect(kept.map((e) => e.name + e.id)).toEqual(["r[4]1", "T2", "r[6]5", "T6"]);
    const merged = mergeEvents(kept, [ev(1, null, "r[5]", 5), ev(2, 1, "T", 5)]);
    expect(merged.map((e) => [e.id, e.parent, e.name])).toEqual([[1, null, "r[4]"], [2, 1, "T"], [5, null, "r[6]"], [6, 5, "T"], [7, null, "r[5]"], [8, 7, "T"]]);
  });
});

describe("the journal of a packed task", () => {
  it("gives back every whole record and ignores a torn last one (the task was killed mid-write)", async () => {
    const { appendFileSync, mkdtempSync, rmSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const { Journal, readJournal } = await import("../../runtime/backends/slurm/files.js");
    const dir = mkdtempSync(join(tmpdir(), "outflow-journal-"));
    try {
      const file = join(dir, "3.journal");
      expect(readJournal(file)).toEqual([]);
      const journal = new Journal(file);
      journal.append({ index: 4, value: new Float64Array([1.5]) });
      journal.append({ index: 5, value: "five" });
      journal.close();
      appendFileSync(file, Buffer.from([200, 0, 0, 0, 1, 2, 3]));
      expect(readJournal(file)).toEqual([{ index: 4, value: new Float64Array([1.5]) }, { index: 5, value: "five" }]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
