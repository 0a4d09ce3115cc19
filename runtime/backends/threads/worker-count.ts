import { availableParallelism } from "node:os";
import { UsageError } from "../../cli/usage-error.js";
import { ConfigError } from "../../config/errors.js";
import { getLogger } from "../../logging/logger.js";

/** More worker threads than this per available core is a typo (`--workers 100000`), not a plan: each one is a V8 isolate. */
export const MAX_WORKERS_PER_CORE = 8;

/**
 * The pool size of --backend threads: `--workers`, else the config's `threads.workers`, else the available
 * cores. A count below 1 or above MAX_WORKERS_PER_CORE per core is one line naming where it came from.
 * `--workers` with another backend is said in a warning (a script that switches backends may pass it
 * always), not ignored without a word.
 */
export function workerCount(backend: string, flag: number | undefined, configured: number | undefined): number | undefined {
  if (backend !== "threads") {
    if (flag !== undefined) getLogger("outflow.runtime").warning(`--workers ${flag} is ignored: it applies to --backend threads (the backend is ${backend})`);
    return undefined;
  }
  const cores = availableParallelism();
  const most = MAX_WORKERS_PER_CORE * cores;
  const check = (count: number, fail: (message: string) => Error): number => {
    if (count < 1) throw fail(`must be at least 1, got ${count}`);
    if (count > most) throw fail(`${count} is more than ${most} worker threads (${MAX_WORKERS_PER_CORE} per available core; ${cores} available)`);
    return count;
  };
  if (flag !== undefined) return check(flag, (m) => new UsageError(`--workers ${m}`));
  if (configured !== undefined) return check(configured, (m) => new ConfigError(`config threads.workers: ${m}`));
  return cores;
}
