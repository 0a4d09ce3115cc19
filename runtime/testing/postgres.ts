/**
 * A throwaway PostgreSQL server for tests: the machine's own PostgreSQL binaries (initdb, pg_ctl), a data
 * folder under the OS temp folder, fsync off, trust authentication on 127.0.0.1 only. Started at most once
 * per process (or once per test run with `postgresGlobalSetup`), stopped when the process exits.
 *
 * OUTFLOW_TEST_POSTGRES_URL=postgres://admin:secret@host:5432/postgres uses an existing server instead.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface PostgresServer {
  host: string;
  port: number;
  /** A role allowed to create and drop databases. */
  user: string;
  password?: string;
  /** `postgres://user@host:port/postgres`. */
  url: string;
}

export const POSTGRES_URL_ENV = "OUTFLOW_TEST_POSTGRES_URL";

function fromUrl(text: string): PostgresServer {
  const url = new URL(text);
  const server = { host: url.hostname || "127.0.0.1", port: Number(url.port || 5432), user: decodeURIComponent(url.username || "postgres"), password: url.password ? decodeURIComponent(url.password) : undefined };
  return { ...server, url: text };
}

/** The newest PostgreSQL bin folder: PATH's initdb, else /usr/lib/postgresql/<v>/bin (Debian), else none. */
function postgresBin(): string | undefined {
  const debian = "/usr/lib/postgresql";
  if (existsSync(debian)) {
    const versions = readdirSync(debian).filter((v) => existsSync(join(debian, v, "bin", "initdb"))).sort((a, b) => Number(b) - Number(a));
    if (versions.length) return join(debian, versions[0], "bin");
  }
  const which = spawnSync("sh", ["-c", "command -v initdb"], { encoding: "utf8" });
  return which.status === 0 && which.stdout.trim() ? join(which.stdout.trim(), "..") : undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface StartedPostgres extends PostgresServer {
  stop(): void;
}

/** initdb + pg_ctl start of a new server; `stop()` kills it and removes its data. */
export async function startPostgres(): Promise<StartedPostgres> {
  const bin = postgresBin();
  if (!bin) throw new Error(`outflow/testing: no PostgreSQL server binaries (initdb) on this machine; install PostgreSQL (Debian: apt-get install postgresql) or set ${POSTGRES_URL_ENV}=postgres://user:password@host:port/postgres`);
  const dir = mkdtempSync(join(tmpdir(), "outflow-pg-"));
  chmodSync(dir, 0o777);
  const asRoot = process.getuid?.() === 0;
  const run = (cmd: string, args: string[]) => {
    const [file, argv] = asRoot ? ["runuser", ["-u", "postgres", "--", join(bin, cmd), ...args]] : [join(bin, cmd), args];
    const r = spawnSync(file, argv, { encoding: "utf8", timeout: 60_000 });
    if (r.status !== 0) throw new Error(`outflow/testing: ${cmd} failed: ${(r.stderr || r.stdout || String(r.error)).trim().split("\n").slice(-3).join(" ")}`);
  };
  const data = join(dir, "data");
  const port = await freePort();
  try {
    run("initdb", ["-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"]);
    run("pg_ctl", ["-D", data, "-l", join(dir, "server.log"), "-w", "-t", "30", "-o", `-p ${port} -c listen_addresses=127.0.0.1 -k ${dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off`, "start"]);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const pgCtl = `${asRoot ? "runuser -u postgres -- " : ""}${shellQuote(join(bin, "pg_ctl"))}`;
  // A watchdog stops the server when this process dies however it dies (test runners kill their workers).
  const watchdog = `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; ${pgCtl} -D ${shellQuote(data)} stop -m immediate >/dev/null 2>&1; rm -rf ${shellQuote(dir)}`;
  spawn("sh", ["-c", watchdog], { detached: true, stdio: "ignore" }).unref();
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    try {
      const args = ["-D", data, "stop", "-m", "immediate"];
      if (asRoot) execFileSync("runuser", ["-u", "postgres", "--", join(bin, "pg_ctl"), ...args], { stdio: "ignore" });
      else execFileSync(join(bin, "pg_ctl"), args, { stdio: "ignore" });
    } catch {
      // already gone
    }
    rmSync(dir, { recursive: true, force: true });
  };
  return { host: "127.0.0.1", port, user: "postgres", url: `postgres://postgres@127.0.0.1:${port}/postgres`, stop };
}

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

let shared: Promise<PostgresServer> | undefined;

/** The test run's server: OUTFLOW_TEST_POSTGRES_URL, else one started for this process (stopped at exit). */
export function testPostgres(): Promise<PostgresServer> {
  const url = process.env[POSTGRES_URL_ENV];
  if (url) return Promise.resolve(fromUrl(url));
  shared ??= startPostgres().then((server) => {
    process.once("exit", server.stop);
    return server;
  });
  shared.catch(() => (shared = undefined));
  return shared;
}

/**
 * For vitest's `globalSetup`: one server for the whole test run instead of one per test file.
 *
 *     // test/postgres.setup.ts
 *     export { postgresGlobalSetup as default } from "outflow/testing";
 *     // vitest.config.ts: test: { globalSetup: ["test/postgres.setup.ts"] }
 */
export async function postgresGlobalSetup(): Promise<() => void> {
  if (process.env[POSTGRES_URL_ENV]) return () => {};
  const server = await startPostgres();
  process.env[POSTGRES_URL_ENV] = server.url;
  return () => {
    delete process.env[POSTGRES_URL_ENV];
    server.stop();
  };
}
