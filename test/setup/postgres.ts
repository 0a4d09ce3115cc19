/**
 * A throwaway PostgreSQL cluster for the tests: Debian's server binaries (initdb / pg_ctl, run as the
 * `postgres` user when the tests run as root), a free TCP port on 127.0.0.1, the socket and data in a
 * temp folder, fsync off. It starts once per test run, lazily — the first test file that asks for it
 * starts it; `globalSetup` (registered in vitest.config.ts) only hands out the folder and stops the
 * cluster at the end. Each test file gets its own database with an admin role (owner) and a user role.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { inject } from "vitest";

declare module "vitest" {
  export interface ProvidedContext {
    outflowPgDir: string;
  }
}

const SUPERUSER_PASSWORD = "postgres";
const START_TIMEOUT_MS = 90_000;

interface ClusterState {
  port: number;
  bin: string;
  data: string;
}

/** globalSetup: a folder for the (lazily started) cluster; stops the cluster when the run ends. */
export default function setup({ provide }: { provide: (key: "outflowPgDir", value: string) => void }): () => void {
  const dir = mkdtempSync(join(tmpdir(), "outflow-test-pg-"));
  chmodSync(dir, 0o755);
  provide("outflowPgDir", dir);
  return () => stopCluster(dir);
}

function stopCluster(dir: string): void {
  const stateFile = join(dir, "state.json");
  if (existsSync(stateFile)) {
    const state = JSON.parse(readFileSync(stateFile, "utf8")) as ClusterState;
    spawnSync(...asPostgres(join(state.bin, "pg_ctl"), ["-D", state.data, "stop", "-m", "immediate"]), { stdio: "ignore" });
  }
  rmSync(dir, { recursive: true, force: true });
}

function serverBin(): string {
  const base = "/usr/lib/postgresql";
  const versions = existsSync(base) ? readdirSync(base).filter((v) => existsSync(join(base, v, "bin", "initdb"))) : [];
  if (!versions.length) {
    throw new Error(
      "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb). The database tests need a real PostgreSQL: install it with `apt-get install -y postgresql` (CI does this in .ci/run).",
    );
  }
  versions.sort((a, b) => Number(a) - Number(b));
  return join(base, versions[versions.length - 1], "bin");
}

const isRoot = typeof process.getuid === "function" && process.getuid() === 0;

function asPostgres(cmd: string, args: string[]): [string, string[]] {
  return isRoot ? ["runuser", ["-u", "postgres", "--", cmd, ...args]] : [cmd, args];
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function startCluster(dir: string): Promise<ClusterState> {
  const bin = serverBin();
  const cluster = join(dir, "cluster");
  mkdirSync(cluster);
  const pwfile = join(cluster, "pwfile");
  writeFileSync(pwfile, SUPERUSER_PASSWORD + "\n");
  if (isRoot) {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    chownSync(cluster, uid, gid);
    chownSync(pwfile, uid, gid);
  }
  const data = join(cluster, "data");
  const init = spawnSync(...asPostgres(join(bin, "initdb"), ["-D", data, "-U", "postgres", `--pwfile=${pwfile}`, "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync"]), { encoding: "utf8" });
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr || init.stdout}`);
  const port = await freePort();
  const options = `-p ${port} -c listen_addresses=127.0.0.1 -k ${cluster} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`;
  const start = spawnSync(...asPostgres(join(bin, "pg_ctl"), ["-D", data, "-l", join(cluster, "server.log"), "-w", "-t", "60", "-o", options, "start"]), { encoding: "utf8" });
  if (start.status !== 0) {
    const log = existsSync(join(cluster, "server.log")) ? readFileSync(join(cluster, "server.log"), "utf8") : "";
    throw new Error(`pg_ctl start failed: ${start.stderr || start.stdout}\n${log}`);
  }
  return { port, bin, data };
}

let cluster: Promise<ClusterState> | undefined;

/** The shared cluster: started by the first caller of the whole test run, awaited by the others. */
function sharedCluster(): Promise<ClusterState> {
  return (cluster ??= (async () => {
    const dir = inject("outflowPgDir");
    if (!dir) throw new Error("test/setup/postgres.ts must be registered as a vitest globalSetup (vitest.config.ts)");
    const stateFile = join(dir, "state.json");
    const errorFile = join(dir, "error.txt");
    let owner = false;
    try {
      mkdirSync(join(dir, "lock"));
      owner = true;
    } catch {
      /* another test file starts it */
    }
    if (owner) {
      try {
        const state = await startCluster(dir);
        writeFileSync(stateFile + ".tmp", JSON.stringify(state));
        execFileSync("mv", [stateFile + ".tmp", stateFile]);
        return state;
      } catch (error) {
        writeFileSync(errorFile, error instanceof Error ? error.message : String(error));
        throw error;
      }
    }
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (existsSync(stateFile)) return JSON.parse(readFileSync(stateFile, "utf8")) as ClusterState;
      if (existsSync(errorFile)) throw new Error(readFileSync(errorFile, "utf8"));
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error("timed out waiting for the test PostgreSQL cluster to start");
  })());
}

export interface Login {
  username: string;
  password: string;
}

export interface TestDatabase {
  host: string;
  port: number;
  /** `host:port`, as the outflow config wants it. */
  address: string;
  database: string;
  admin: Login;
  user: Login;
  /** A per-instance config file body selecting this database as "default" (or `name`). */
  configYaml(name?: string): string;
  /** A pg client logged in as `who` (default: the superuser) on this database. */
  client(who?: Login): Promise<pg.Client>;
  /** The rows of one query, as the superuser (a client opened and closed for it). */
  rows<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
}

/** A fresh database (owned by a new admin role, plus a user role without privileges) for one test file. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const { port } = await sharedCluster();
  const id = `t_${randomBytes(5).toString("hex")}`;
  const admin = { username: `${id}_admin`, password: `adm-${randomBytes(6).toString("hex")}` };
  const user = { username: `${id}_user`, password: `usr-${randomBytes(6).toString("hex")}` };
  const superuser = new pg.Client({ host: "127.0.0.1", port, user: "postgres", password: SUPERUSER_PASSWORD, database: "postgres" });
  await superuser.connect();
  try {
    await superuser.query(`create role "${admin.username}" login password '${admin.password}' nosuperuser createdb nocreaterole`);
    await superuser.query(`create role "${user.username}" login password '${user.password}' nosuperuser nocreatedb nocreaterole`);
    await superuser.query(`create database "${id}" owner "${admin.username}"`);
  } finally {
    await superuser.end();
  }
  const address = `127.0.0.1:${port}`;
  const client = async (who?: Login) => {
    const c = new pg.Client({ host: "127.0.0.1", port, user: who?.username ?? "postgres", password: who?.password ?? SUPERUSER_PASSWORD, database: id });
    await c.connect();
    return c;
  };
  return {
    host: "127.0.0.1",
    port,
    address,
    database: id,
    admin,
    user,
    configYaml: (name = "default") =>
      [
        "databases:",
        `  ${name}:`,
        "    dialect: postgresql",
        `    address: "${address}"`,
        `    database: ${id}`,
        `    user: { username: ${user.username}, password: "${user.password}" }`,
        `    admin: { username: ${admin.username}, password: "${admin.password}" }`,
        "",
      ].join("\n"),
    client,
    async rows<T>(text: string, params: unknown[] = []) {
      const c = await client();
      try {
        return (await c.query(text, params)).rows as T[];
      } finally {
        await c.end();
      }
    },
  };
}
