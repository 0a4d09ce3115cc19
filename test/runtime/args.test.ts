import { describe, expect, it } from "vitest";
import { normaliseArgv, parseCommandArgs, UsageError } from "../../runtime/cli/args.js";

const specs = {
  fail_at: { type: "number" as const },
  dryRun: { type: "boolean" as const },
  count: { type: "integer" as const, default: 2 },
  mode: { type: "enum" as const, options: ["fast", "slow"], required: true },
};

describe("command-line args", () => {
  it("accepts snake_case args as --fail_at and --fail-at, camelCase as --dry-run", () => {
    expect(parseCommandArgs(["--fail_at", "3", "--mode", "fast"], specs)).toEqual({ fail_at: 3, count: 2, mode: "fast" });
    expect(parseCommandArgs(["--fail-at=-1.5", "--dry-run", "--mode", "slow"], specs)).toEqual({ fail_at: -1.5, dryRun: true, count: 2, mode: "slow" });
  });

  it("rejects bad input with one message naming the argument", () => {
    const message = (argv: string[]) => {
      try {
        parseCommandArgs(argv, specs);
      } catch (e) {
        expect(e).toBeInstanceOf(UsageError);
        return (e as Error).message;
      }
      return "no error";
    };
    expect(message([])).toBe("missing required argument --mode");
    expect(message(["--mode", "fast", "--count", "2.5"])).toBe('--count must be an integer, got "2.5"');
    expect(message(["--mode", "medium"])).toBe('--mode must be one of fast, slow, got "medium"');
    expect(message(["--mode", "fast", "--fail_at"])).toBe("--fail_at needs a value");
    expect(message(["--mode", "fast", "--bogus", "1"])).toBe("unknown option --bogus");
    expect(message(["--mode", "fast", "stray"])).toBe('unexpected argument "stray"');
  });

  it("reads -ll as --log-level", () => {
    expect(normaliseArgv(["-ll", "DEBUG", "-ll=INFO"])).toEqual(["--log-level", "DEBUG", "--log-level=INFO"]);
  });
});
