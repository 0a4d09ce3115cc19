// Small timing helpers for the bench scripts: run a command N times, report the median wall time.
import { spawnSync } from "node:child_process";

export function time(cmd, args, opts = {}) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { encoding: "utf8", ...opts, env: { ...process.env, NO_COLOR: "1", ...opts.env } });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return { ms, stdout: r.stdout, stderr: r.stderr };
}

export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function bench(cmd, args, runs, opts) {
  time(cmd, args, opts); // warm the file cache
  return median(Array.from({ length: runs }, () => time(cmd, args, opts).ms));
}

/** Peak RSS (KiB) of a command, read from GNU time when present, else from /proc via a wrapper. */
export function peakRss(cmd, args, opts = {}) {
  const r = spawnSync("/usr/bin/time", ["-f", "%M", cmd, ...args], { encoding: "utf8", ...opts, env: { ...process.env, ...opts.env } });
  if (r.error) return null;
  const kib = Number(r.stderr.trim().split("\n").pop());
  return Number.isFinite(kib) ? kib : null;
}

export function table(rows) {
  const cols = Object.keys(rows[0]);
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
  const line = (vals) => "| " + vals.map((v, i) => String(v).padEnd(widths[i])).join(" | ") + " |";
  return [line(cols), "|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|", ...rows.map((r) => line(cols.map((c) => r[c])))].join("\n");
}
