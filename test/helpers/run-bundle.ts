import { spawnSync } from "node:child_process";
import { join } from "node:path";

export interface BundleRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout + stderr, for assertions that do not care where a line went. */
  output: string;
}

/** Runs `node dist/<bundle>.js ...args` of a built pipeline, as a user would. */
export function runBundle(root: string, bundle: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeout?: number } = {}): BundleRun {
  const r = spawnSync(process.execPath, [join(root, "dist", `${bundle}.js`), ...args], {
    cwd: opts.cwd ?? root,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1", ...opts.env },
    timeout: opts.timeout ?? 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, output: r.stdout + r.stderr };
}
