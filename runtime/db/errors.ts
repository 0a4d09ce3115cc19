/**
 * Database problems the user can fix (unreachable server, missing migrations, a model that does not
 * match its table) surface as one `DatabaseError` line, never as an ORM stack trace.
 */

export class DatabaseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DatabaseError";
  }
}

/**
 * The useful part of a driver error: knex/MikroORM prefix the failed SQL (`select … - no such table: x`),
 * pg adds a code; keep the last line's reason.
 */
export function driverReason(error: unknown): string {
  const raw = error instanceof Error ? error.message : String(error);
  const line = raw.split("\n").map((l) => l.trim()).filter(Boolean).pop() ?? raw;
  const cut = line.lastIndexOf(" - ");
  const reason = cut >= 0 ? line.slice(cut + 3) : line;
  const code = (error as { code?: unknown })?.code;
  if (!reason && typeof code === "string") return code;
  if (/^(ECONNREFUSED|ENOTFOUND|ETIMEDOUT|EHOSTUNREACH|ECONNRESET)$/.test(String(code)) && !reason.includes(String(code))) return `${reason} (${code})`;
  return reason;
}

/** Names a SQLite table / column / missing-relation problem the same way on both dialects. */
export function isMissingTable(error: unknown): boolean {
  const text = error instanceof Error ? error.message : String(error);
  return /no such table|does not exist|undefined_table|42P01/i.test(text) || (error as { code?: string })?.code === "42P01";
}
