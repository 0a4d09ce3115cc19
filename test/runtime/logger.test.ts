import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { loggerNameFor } from "../../runtime/logging/format.js";
import { configureLogging, getLogger, logger } from "../../runtime/logging/logger.js";

const LOGGER_MODULE = fileURLToPath(new URL("../../runtime/logging/logger.ts", import.meta.url));
const LINE = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d),(\d{3}) - (\S+) - (\S+) - (DEBUG|INFO|WARNING|ERROR|CRITICAL) - (.*)$/s;

let lines: string[];
let dir: string;

beforeEach(() => {
  lines = [];
  dir = mkdtempSync(join(tmpdir(), "outflow-logger-"));
  vi.spyOn(process.stderr, "write").mockImplementation((chunk: unknown) => {
    lines.push(String(chunk));
    return true;
  });
});
afterEach(() => {
  configureLogging();
  vi.restoreAllMocks();
  rmSync(dir, { recursive: true, force: true });
});

/** The 1-based line of this test file that contains `marker` (after the marker's own definition). */
function lineOf(marker: string): number {
  const source = readFileSync(fileURLToPath(import.meta.url), "utf8").split("\n");
  const index = source.findIndex((text) => text.includes(marker) && !text.includes(`lineOf(`));
  expect(index).toBeGreaterThanOrEqual(0);
  return index + 1;
}

function parse(line: string) {
  const m = LINE.exec(line);
  if (!m) throw new Error(`not a log line: ${JSON.stringify(line)}`);
  const [, y, mo, d, h, mi, s, ms, name, site, level, message] = m;
  return { time: new Date(+y!, +mo! - 1, +d!, +h!, +mi!, +s!, +ms!), name, site, level, message };
}

describe("line format", () => {
  test("one line per record: local time with ms after a comma, name, file:line of the call, level, message", () => {
    const before = Date.now();
    logger.info("Result of the computation: 126"); // MARK-INFO-CALL
    expect(lines).toHaveLength(1);
    expect(lines[0]!.endsWith("\n")).toBe(true);
    const record = parse(lines[0]!.slice(0, -1));
    expect(record.name).toBe("test.runtime.logger.test");
    expect(record.site).toBe(`logger.test.ts:${lineOf("MARK-INFO-CALL")}`);
    expect(record.level).toBe("INFO");
    expect(record.message).toBe("Result of the computation: 126");
    // Local time: parsing the fields as local time gives back "now" (UTC fields would be off by the zone offset unless it is 0).
    expect(Math.abs(record.time.getTime() - before)).toBeLessThan(5000);
  });

  test("each method reports its own call line; warn is warning", () => {
    logger.warning("w"); // MARK-WARNING-CALL
    logger.warn("w2"); // MARK-WARN-ALIAS
    logger.error("e"); // MARK-ERROR
    logger.critical("c"); // MARK-CRITICAL
    const records = lines.map((l) => parse(l.trimEnd()));
    expect(records.map((r) => [r.level, r.site])).toEqual([
      ["WARNING", `logger.test.ts:${lineOf("MARK-WARNING-CALL")}`],
      ["WARNING", `logger.test.ts:${lineOf("MARK-WARN-ALIAS")}`],
      ["ERROR", `logger.test.ts:${lineOf("MARK-ERROR")}`],
      ["CRITICAL", `logger.test.ts:${lineOf("MARK-CRITICAL")}`],
    ]);
  });

  test("non-string values are formatted with util.inspect and joined by spaces", () => {
    logger.info("values:", { a: 1, b: [1, 2] }, 42, null);
    expect(parse(lines[0]!.trimEnd()).message).toBe("values: { a: 1, b: [ 1, 2 ] } 42 null");
    logger.error(new Error("bad thing"));
    expect(parse(lines[1]!.trimEnd()).message).toMatch(/^Error: bad thing\n\s+at .*logger\.test\.ts:\d+:\d+/);
  });

  test("getLogger: fixed name and '-' for the site", () => {
    getLogger("outflow.runtime").info("starting run");
    expect(parse(lines[0]!.trimEnd())).toMatchObject({ name: "outflow.runtime", site: "-", level: "INFO", message: "starting run" });
  });
});

describe("levels", () => {
  test("INFO by default: DEBUG is dropped", () => {
    logger.debug("hidden");
    logger.info("shown");
    expect(lines.map((l) => parse(l.trimEnd()).message)).toEqual(["shown"]);
  });

  test("the configured level filters lower levels", () => {
    configureLogging({ level: "ERROR" });
    logger.info("i");
    logger.warning("w");
    logger.error("e");
    logger.critical("c");
    getLogger("outflow.runtime").warning("w2");
    expect(lines.map((l) => parse(l.trimEnd()).message)).toEqual(["e", "c"]);
  });

  test("a disabled level does not capture a stack", () => {
    configureLogging({ level: "WARNING" });
    const capture = vi.spyOn(Error, "captureStackTrace");
    logger.info("off");
    logger.debug("off");
    expect(capture).not.toHaveBeenCalled();
    logger.warning("on");
    expect(capture).toHaveBeenCalledTimes(1);
    expect(lines).toHaveLength(1);
  });

  test("per-plugin levels apply to names starting with the plugin (by dotted segment)", () => {
    configureLogging({ level: "WARNING", plugins: { data_reduction: "DEBUG", "data_reduction.noisy": "ERROR" } });
    getLogger("data_reduction.tasks").debug("dr debug");
    getLogger("data_reduction").info("dr info");
    getLogger("data_reduction.noisy").warning("noisy warning");
    getLogger("data_reduction2.tasks").info("other plugin info");
    getLogger("other.tasks").info("other info");
    getLogger("other.tasks").warning("other warning");
    expect(lines.map((l) => parse(l.trimEnd()).message)).toEqual(["dr debug", "dr info", "other warning"]);
  });

  test("a plugin's own module logs under <plugin>.<module> and follows the plugin's level", async () => {
    const pluginDir = join(dir, "plugins", "demo");
    mkdirSync(pluginDir, { recursive: true });
    writeFileSync(
      join(pluginDir, "tasks.ts"),
      [
        `import { logger } from ${JSON.stringify(pathToFileURL(LOGGER_MODULE).href)};`,
        "",
        "export function work(n: number): void {",
        "  logger.debug(`debug ${n}`);",
        "  logger.info(`info ${n}`);",
        "}",
        "",
      ].join("\n"),
    );
    const mod = (await import(pathToFileURL(join(pluginDir, "tasks.ts")).href)) as { work(n: number): void };
    configureLogging({ level: "INFO", root: dir });
    mod.work(1);
    configureLogging({ level: "INFO", plugins: { demo: "DEBUG" }, root: dir });
    mod.work(2);
    const records = lines.map((l) => parse(l.trimEnd()));
    expect(records.map((r) => [r.name, r.site, r.message])).toEqual([
      ["demo.tasks", "tasks.ts:5", "info 1"],
      ["demo.tasks", "tasks.ts:4", "debug 2"],
      ["demo.tasks", "tasks.ts:5", "info 2"],
    ]);
  });

  test("level names are accepted in any case; an unknown level is rejected", () => {
    configureLogging({ level: "error", plugins: { demo: "debug" } });
    getLogger("demo.x").debug("shown");
    getLogger("other").warning("hidden");
    expect(lines.map((l) => parse(l.trimEnd()).message)).toEqual(["shown"]);
    expect(() => configureLogging({ level: "LOUD" })).toThrow('logging.level: expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got "LOUD"');
  });
});

describe("file output", () => {
  test("lines are appended to the configured file as well as stderr", () => {
    const file = join(dir, "logs", "run.log");
    writeFileSync(join(dir, "existing.log"), "old line\n");
    configureLogging({ level: "INFO", file });
    logger.info("to both");
    getLogger("outflow.runtime").error("framework");
    logger.debug("nowhere");
    const written = readFileSync(file, "utf8");
    expect(written).toBe(lines.join(""));
    expect(written.split("\n").filter(Boolean).map((l) => parse(l).message)).toEqual(["to both", "framework"]);

    configureLogging({ file: join(dir, "existing.log") });
    logger.info("appended");
    expect(readFileSync(join(dir, "existing.log"), "utf8")).toMatch(/^old line\n.* - INFO - appended\n$/);
    configureLogging();
    logger.info("stderr only");
    expect(readFileSync(join(dir, "existing.log"), "utf8")).not.toContain("stderr only");
  });
});

describe("loggerNameFor", () => {
  test("plugin modules, other modules, files outside the root", () => {
    expect(loggerNameFor("/p/plugins/data_reduction/tasks.ts", "/p")).toBe("data_reduction.tasks");
    expect(loggerNameFor("/p/plugins/data_reduction/sub/helpers.ts", "/p")).toBe("data_reduction.sub.helpers");
    expect(loggerNameFor("/p/plugins/astro/photometry/tasks.ts", "/p")).toBe("astro.photometry.tasks");
    expect(loggerNameFor("/p/test/fixtures/pipe/plugins/q/commands.ts", "/p")).toBe("q.commands");
    expect(loggerNameFor("/p/scripts/tools/report.ts", "/p")).toBe("scripts.tools.report");
    expect(loggerNameFor("/elsewhere/x/main.ts", "/p")).toBe("main");
    expect(loggerNameFor("/elsewhere/plugins/z/tasks.ts", "/p")).toBe("z.tasks");
    expect(loggerNameFor("scripts/run.ts", "/p")).toBe("scripts.run");
  });
});
