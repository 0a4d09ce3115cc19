import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { ConfigError, loadConfig } from "../../runtime/config/load.js";
import { maskSecrets } from "../../runtime/config/mask.js";
import { defineConfig } from "../../runtime/config/define.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "outflow-config-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function write(name: string, text: string): string {
  const path = join(dir, name);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  return path;
}

const baseName = "outflow.config.ts";
const load = (opts: { base?: unknown; file?: string; env?: NodeJS.ProcessEnv }) =>
  loadConfig({ base: opts.base, baseName, file: opts.file, env: opts.env ?? {}, cwd: dir });

/** The ConfigError message thrown by `fn` (fails when nothing or something else is thrown). */
function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const message = (err as Error).message;
    expect(message).not.toContain("\n");
    return message;
  }
  throw new Error("expected a ConfigError, nothing was thrown");
}

describe("defaults", () => {
  test("an absent base and no file give the documented defaults", () => {
    const { config, sources } = load({});
    expect(config).toEqual({
      plugins: [],
      databases: { default: { dialect: "sqlite", path: "outflow.db" } },
      backend: "sequential",
      threads: {},
      logging: { level: "INFO", plugins: {} },
      slurm: {},
    });
    expect(sources.get("backend")).toBe("default");
    expect(sources.get("databases.default.path")).toBe("default");
  });

  test("defaults fill in below what the base gives, user fields are kept", () => {
    const base = defineConfig({ plugins: ["data_reduction"], databases: { main: { dialect: "sqlite" } }, logging: { plugins: { data_reduction: "DEBUG" } }, my_field: { a: 1 } });
    const { config, sources } = load({ base });
    expect(config.databases).toEqual({ main: { dialect: "sqlite", path: "outflow.db" } });
    expect(config.logging).toEqual({ level: "INFO", plugins: { data_reduction: "DEBUG" } });
    expect(config.my_field).toEqual({ a: 1 });
    expect(sources.get("plugins")).toBe(baseName);
    expect(sources.get("databases.main.path")).toBe("default");
  });

  test("defineConfig is typed: tsc rejects wrong values and typos in known sections", () => {
    const ok = defineConfig({
      plugins: ["data_reduction"],
      databases: { pg: { dialect: "postgresql", address: "db:5432", database: "d", user: { username: "u" }, admin: { username: "a", password: "p" } } },
      backend: "slurm",
      threads: { workers: 4 },
      logging: { level: "DEBUG", plugins: { data_reduction: "ERROR" }, file: "run.log" },
      slurm: { partition: "short", cpusPerTask: 2, extra: ["--exclusive"] },
      my_own_field: { anything: true },
    });
    // @ts-expect-error unknown dialect
    defineConfig({ databases: { d: { dialect: "mysql" } } });
    // @ts-expect-error postgresql needs address, database and user
    defineConfig({ databases: { d: { dialect: "postgresql" } } });
    // @ts-expect-error unknown level
    defineConfig({ logging: { level: "LOUD" } });
    // @ts-expect-error typo inside a known section
    defineConfig({ logging: { lvl: "INFO" } });
    // @ts-expect-error unknown backend
    defineConfig({ backend: "k8s" });
    expect(load({ base: ok }).config.databases.pg).toMatchObject({ dialect: "postgresql", address: "db:5432" });
  });

  test("a base that is not an object is rejected", () => {
    expect(errorOf(() => load({ base: ["x"] }))).toBe(`${baseName}: the default export must be an object (export default defineConfig({ ... })), got an array`);
  });
});

describe("merge order", () => {
  test("the file merges over the base: objects merge, arrays and scalars replace", () => {
    const base = defineConfig({
      plugins: ["a", "b"],
      backend: "threads",
      threads: { workers: 4 },
      databases: { default: { dialect: "sqlite", path: "base.db" }, other: { dialect: "sqlite", path: "o.db" } },
      slurm: { partition: "short", extra: ["--exclusive", "--x"] },
    });
    write("config.yml", ["plugins: [c]", "databases:", "  default:", "    path: file.db", "slurm:", "  extra: [--y]", "  account: astro"].join("\n"));
    const { config, sources } = load({ base, file: "config.yml" });
    expect(config.plugins).toEqual(["c"]);
    expect(config.backend).toBe("threads");
    expect(config.threads.workers).toBe(4);
    expect(config.databases).toEqual({ default: { dialect: "sqlite", path: "file.db" }, other: { dialect: "sqlite", path: "o.db" } });
    expect(config.slurm).toEqual({ partition: "short", account: "astro", extra: ["--y"] });
    expect(sources.get("plugins")).toBe("config.yml");
    expect(sources.get("backend")).toBe(baseName);
    expect(sources.get("databases.default.path")).toBe("config.yml");
    expect(sources.get("databases.default.dialect")).toBe(baseName);
    expect(sources.get("databases.other")).toBe(baseName);
  });

  test("--config wins over OUTFLOW_CONFIG_PATH, which is used when --config is absent", () => {
    write("a.yml", "backend: slurm\n");
    write("b.yml", "backend: threads\n");
    expect(load({ file: "a.yml", env: { OUTFLOW_CONFIG_PATH: "b.yml" } }).config.backend).toBe("slurm");
    expect(load({ env: { OUTFLOW_CONFIG_PATH: join(dir, "b.yml") } }).config.backend).toBe("threads");
  });

  test("a missing file names where its path came from", () => {
    expect(errorOf(() => load({ file: "./nope.yml" }))).toBe("config file not found: ./nope.yml (from --config)");
    expect(errorOf(() => load({ env: { OUTFLOW_CONFIG_PATH: "gone.json" } }))).toBe("config file not found: gone.json (from OUTFLOW_CONFIG_PATH)");
  });

  test("the base object is not modified", () => {
    const base = { databases: { default: { dialect: "sqlite", path: "base.db" } } };
    write("config.yml", "databases:\n  default:\n    path: file.db\n");
    load({ base, file: "config.yml" });
    expect(base.databases.default.path).toBe("base.db");
  });
});

describe("file formats", () => {
  test("a JSON file", () => {
    write("config.json", JSON.stringify({ backend: "threads", threads: { workers: 2 }, custom_field: "my_value" }));
    const { config, sources } = load({ file: "config.json" });
    expect(config.threads.workers).toBe(2);
    expect(config.custom_field).toBe("my_value");
    expect(sources.get("threads.workers")).toBe("config.json");
  });

  test("bad JSON gives file:line:col", () => {
    write("config.json", '{\n  "backend": "threads",\n  oops\n}');
    expect(errorOf(() => load({ file: "config.json" }))).toMatch(/^config\.json:3:3: bad JSON: /);
  });

  test("bad YAML gives file:line:col", () => {
    write("config.yml", "backend: threads\nbackend: slurm\n");
    expect(errorOf(() => load({ file: "config.yml" }))).toMatch(/^config\.yml:2:1: bad YAML: Map keys must be unique$/);
  });

  test("an unknown extension is an error", () => {
    write("config.toml", "backend = 'threads'\n");
    expect(errorOf(() => load({ file: "config.toml" }))).toBe('config.toml: unsupported config file type ".toml" (use .yml, .yaml or .json)');
  });

  test("a file whose top level is not a mapping is an error; an empty file is no change", () => {
    write("list.yml", "- a\n- b\n");
    expect(errorOf(() => load({ file: "list.yml" }))).toBe("list.yml: expected a mapping of config keys at the top level, got an array");
    write("empty.yml", "# nothing yet\n");
    expect(load({ base: { backend: "threads" }, file: "empty.yml" }).config.backend).toBe("threads");
  });
});

describe("!include", () => {
  test("includes resolve relative to the including file, nested", () => {
    write("config.yml", "databases: !include shared/databases.yml\nlogging:\n  level: DEBUG\n");
    write("shared/databases.yml", "default: !include db/default.yml\narchive:\n  dialect: sqlite\n  path: archive.db\n");
    write("shared/db/default.yml", "dialect: postgresql\naddress: db.example.org:5433\ndatabase: pipeline\nuser:\n  username: pipeuser\n  password: pw\n");
    const { config, sources } = load({ file: "config.yml" });
    expect(config.databases.default).toEqual({ dialect: "postgresql", address: "db.example.org:5433", database: "pipeline", user: { username: "pipeuser", password: "pw" } });
    expect(config.databases.archive).toEqual({ dialect: "sqlite", path: "archive.db" });
    expect(config.logging.level).toBe("DEBUG");
    expect(sources.get("databases.archive.path")).toBe(join("shared", "databases.yml"));
    expect(sources.get("databases.default.user.password")).toBe(join("shared", "db", "default.yml"));
    expect(sources.get("logging.level")).toBe("config.yml");
  });

  test("a validation error inside an included file names that file", () => {
    write("config.yml", "databases: !include dbs.yml\n");
    write("dbs.yml", "default:\n  dialect: mysql\n");
    expect(errorOf(() => load({ file: "config.yml" }))).toBe('dbs.yml: databases.default.dialect: expected "sqlite" or "postgresql", got "mysql"');
  });

  test("an include cycle is an error", () => {
    write("config.yml", "databases: !include a.yml\n");
    write("a.yml", "default: !include b.yml\n");
    write("b.yml", "x: !include a.yml\n");
    expect(errorOf(() => load({ file: "config.yml" }))).toBe("b.yml:1:4: include cycle: a.yml → b.yml → a.yml");
  });

  test("a missing included file is an error at the include", () => {
    write("config.yml", "backend: threads\nslurm: !include nope.yml\n");
    expect(errorOf(() => load({ file: "config.yml" }))).toBe("config.yml:2:8: included file not found: nope.yml");
  });
});

describe("${env:NAME}", () => {
  test("is replaced in any string, also inside longer strings and in included files", () => {
    write("config.yml", ["databases:", "  default:", "    dialect: postgresql", "    address: ${env:PGHOST}:5432", "    database: db", "    user: !include user.yml"].join("\n"));
    write("user.yml", "username: ${env:PGUSER}\npassword: ${env:PGPASSWORD}\n");
    const env = { PGHOST: "pg.internal", PGUSER: "pipe", PGPASSWORD: "s3cret" };
    const db = load({ file: "config.yml", env }).config.databases.default;
    expect(db).toEqual({ dialect: "postgresql", address: "pg.internal:5432", database: "db", user: { username: "pipe", password: "s3cret" } });
  });

  test("a missing variable names the file, the key path and the variable", () => {
    write("config.yml", "databases:\n  default:\n    dialect: postgresql\n    address: h\n    database: d\n    user:\n      username: u\n      password: ${env:DB_PASSWORD}\n");
    expect(errorOf(() => load({ file: "config.yml", env: {} }))).toBe("config.yml: databases.default.user.password: environment variable DB_PASSWORD is not set (give a default with ${env:DB_PASSWORD:-default})");
  });

  test("a missing variable in an included file names that file", () => {
    write("config.yml", "slurm: !include slurm.yml\n");
    write("slurm.yml", "account: ${env:ACCOUNT}\n");
    expect(errorOf(() => load({ file: "config.yml" }))).toBe("slurm.yml: account: environment variable ACCOUNT is not set (give a default with ${env:ACCOUNT:-default})");
  });

  test("${env:NAME:-default} takes the default when the variable is unset or empty", () => {
    write("config.yml", "slurm:\n  account: ${env:ACCOUNT:-astro}\n  partition: ${env:PART:-}\n  qos: q-${env:QOS:-normal}-x\n");
    expect(load({ file: "config.yml", env: {} }).config.slurm).toMatchObject({ account: "astro", partition: "", qos: "q-normal-x" });
    expect(load({ file: "config.yml", env: { ACCOUNT: "", PART: "gpu", QOS: "high" } }).config.slurm).toMatchObject({ account: "astro", partition: "gpu", qos: "q-high-x" });
    write("bad.yml", "slurm:\n  account: ${env:1X:-a}\n");
    expect(errorOf(() => load({ file: "bad.yml" }))).toBe('bad.yml: slurm.account: bad environment reference "${env:1X:-a}" (expected ${env:NAME} or ${env:NAME:-default})');
  });

  test("works in JSON files too", () => {
    write("config.json", JSON.stringify({ slurm: { account: "${env:ACCOUNT}" } }));
    expect(load({ file: "config.json", env: { ACCOUNT: "astro" } }).config.slurm.account).toBe("astro");
    expect(errorOf(() => load({ file: "config.json" }))).toBe("config.json: slurm.account: environment variable ACCOUNT is not set (give a default with ${env:ACCOUNT:-default})");
  });
});

describe("validation messages", () => {
  test("a bad dialect is one line naming the file and the key", () => {
    write("config.yml", "databases:\n  default:\n    dialect: mysql\n");
    expect(errorOf(() => load({ file: "config.yml" }))).toBe('config.yml: databases.default.dialect: expected "sqlite" or "postgresql", got "mysql"');
  });

  test("an error in the base names the base", () => {
    expect(errorOf(() => load({ base: { backend: "kubernetes" } }))).toBe(`${baseName}: backend: expected one of "sequential", "threads", "slurm", got "kubernetes"`);
  });

  test("wrong types, missing keys, unknown keys, bounds", () => {
    write("types.yml", "threads:\n  workers: many\n");
    expect(errorOf(() => load({ file: "types.yml" }))).toBe('types.yml: threads.workers: expected a number, got "many"');
    write("int.yml", "slurm:\n  cpusPerTask: 1.5\n");
    expect(errorOf(() => load({ file: "int.yml" }))).toBe("int.yml: slurm.cpusPerTask: expected an integer, got 1.5");
    write("missing.yml", "databases:\n  default:\n    dialect: postgresql\n    database: d\n    user: {username: u}\n");
    expect(errorOf(() => load({ file: "missing.yml" }))).toBe("missing.yml: databases.default.address: missing (expected a string)");
    write("unknown.yml", "logging:\n  lvl: DEBUG\n");
    expect(errorOf(() => load({ file: "unknown.yml" }))).toBe("unknown.yml: logging.lvl: unknown key");
    write("bounds.yml", "threads:\n  workers: 0\nslurm:\n  cpusPerTask: -1\n");
    expect(errorOf(() => load({ file: "bounds.yml" }))).toBe("bounds.yml: threads.workers: expected a number > 0, got 0 (and 1 more problem)");
  });

  test("a wrong-typed password is described by its type only", () => {
    write("config.yml", "databases:\n  default:\n    dialect: postgresql\n    address: h\n    database: d\n    user:\n      username: u\n      password: 123456\n");
    const message = errorOf(() => load({ file: "config.yml" }));
    expect(message).toBe("config.yml: databases.default.user.password: expected a string, got a number");
  });
});

describe("maskSecrets", () => {
  test("masks secret-named keys at any depth and URL passwords, without touching the original", () => {
    const config = {
      databases: { default: { dialect: "postgresql", user: { username: "u", password: "pw" }, admin: { username: "a", Password: "apw" } } },
      services: [{ url: "postgres://u:pw@h:5432/db", apiKey: "k1", api_key: "k2", TOKEN: "t", client_secret: "s", pass: "p", dbPassword: "x" }],
      bypass: "kept",
      note: "see https://example.org/path?q=1",
      hook: "https://hooks.example.org/x?token=abc&user=me",
      empty: { password: undefined },
    };
    const masked = maskSecrets(config);
    expect(masked.databases.default.user).toEqual({ username: "u", password: "***" });
    expect(masked.databases.default.admin.Password).toBe("***");
    expect(masked.services[0]).toEqual({ url: "postgres://u:***@h:5432/db", apiKey: "***", api_key: "***", TOKEN: "***", client_secret: "***", pass: "***", dbPassword: "***" });
    expect(masked.bypass).toBe("kept");
    expect(masked.note).toBe("see https://example.org/path?q=1");
    expect(masked.hook).toBe("https://hooks.example.org/x?token=***&user=me");
    expect(masked.empty.password).toBeUndefined();
    expect(config.databases.default.user.password).toBe("pw");
    expect(config.services[0]!.url).toBe("postgres://u:pw@h:5432/db");
  });

  test("masks a loaded config", () => {
    write("config.yml", "databases:\n  default:\n    dialect: postgresql\n    address: h\n    database: d\n    user:\n      username: u\n      password: ${env:PW}\n");
    const { config } = load({ file: "config.yml", env: { PW: "hunter2" } });
    expect(JSON.stringify(maskSecrets(config))).not.toContain("hunter2");
    expect(JSON.stringify(config)).toContain("hunter2");
  });
});

describe("switching a database's dialect in the instance file", () => {
  test("replaces the database entry instead of merging it", () => {
    const dir = mkdtempSync(join(tmpdir(), "outflow-dialect-"));
    writeFileSync(join(dir, "pg.yml"), "databases:\n  default:\n    dialect: postgresql\n    address: 127.0.0.1:5432\n    database: red\n    user: { username: u, password: p }\n");
    const { config } = loadConfig({ base: { databases: { default: { dialect: "sqlite", path: "x.db" } } }, baseName: "outflow.config.ts", file: join(dir, "pg.yml"), env: {}, cwd: dir });
    expect(config.databases.default).toEqual({ dialect: "postgresql", address: "127.0.0.1:5432", database: "red", user: { username: "u", password: "p" } });
  });
});
