/** Where a graph call was written: a raw V8 frame position (of the bundle that runs), 1-based. */
export interface RawSite {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

const UNKNOWN: RawSite = { file: "<unknown>", line: 0, column: 0 };

/**
 * A call site captured now, resolved on first read. V8 captures the structured frame at once (~1 µs) but
 * formats it only when `.stack` is read, so a run that reports no diagnostic never pays for it (~15 µs a
 * node in a bundle); the compiler and the error messages read it and get the exact line and column.
 */
class LazySite implements RawSite {
  private resolved?: RawSite;
  constructor(private readonly holder: { stack?: unknown }) {}

  private get site(): RawSite {
    if (!this.resolved) {
      const prepare = Error.prepareStackTrace;
      Error.prepareStackTrace = (_e, frames) => frames;
      const frame = (this.holder.stack as NodeJS.CallSite[] | undefined)?.[0];
      Error.prepareStackTrace = prepare;
      const file = frame?.getFileName();
      this.resolved = !frame || !file ? UNKNOWN : { file: file.startsWith("file://") ? decodeURI(new URL(file).pathname) : file, line: frame.getLineNumber() ?? 0, column: frame.getColumnNumber() ?? 0 };
    }
    return this.resolved;
  }

  get file(): string {
    return this.site.file;
  }
  get line(): number {
    return this.site.line;
  }
  get column(): number {
    return this.site.column;
  }
  toJSON(): RawSite {
    return { ...this.site };
  }
}

/** The position of the caller of `skip` (the user's `Compute()` / `.pipe(` / `map(` call). */
export function callSite(skip: Function): RawSite {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 1;
  const holder: { stack?: unknown } = {};
  Error.captureStackTrace(holder, skip);
  Error.stackTraceLimit = limit;
  return new LazySite(holder);
}
