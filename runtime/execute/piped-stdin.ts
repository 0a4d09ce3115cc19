/**
 * A piped stdin (not a terminal), shared by the `interactive()` pauses of a run: each pause reads the
 * lines up to its own `.exit` (or the end of the input), and the next pause the lines after it. A REPL
 * reading process.stdin itself would take every line that has arrived, the next pauses' too.
 */
import { createInterface } from "node:readline";
import { PassThrough } from "node:stream";

interface Lines {
  lines: string[];
  ended: boolean;
  wake?: () => void;
  reader: ReturnType<typeof createInterface>;
}

let source: Lines | undefined;

function lines(): Lines {
  if (source) return source;
  const reader = createInterface({ input: process.stdin, crlfDelay: Infinity });
  const s: Lines = { lines: [], ended: false, reader };
  reader.on("line", (line) => {
    s.lines.push(line);
    s.wake?.();
  });
  reader.on("close", () => {
    s.ended = true;
    s.wake?.();
  });
  source = s;
  return s;
}

/** The next line for a pause that `stillWanted()` (undefined at the end, or when it no longer is: the line stays for the next pause). */
async function nextLine(stillWanted: () => boolean): Promise<string | undefined> {
  const s = lines();
  // Read while a pause waits for a line; paused between pauses, so that an open pipe does not keep the
  // process alive after the last one.
  if (!s.lines.length && !s.ended) s.reader.resume();
  while (!s.lines.length && !s.ended) await new Promise<void>((resolve) => (s.wake = resolve));
  s.wake = undefined;
  return stillWanted() ? s.lines.shift() : undefined;
}

/** True when a pipe has nothing more to give: every line read, and its end reached. */
export function pipedStdinDone(): boolean {
  if (!source) return process.stdin.readableEnded || process.stdin.destroyed;
  return source.ended && source.lines.length === 0;
}

/**
 * This pause's input: the piped lines up to and including the first `.exit`, then its end. `stillWanted`
 * says whether the REPL still reads (it may have closed meanwhile): no line is taken for a REPL that is gone.
 */
export function pauseInput(stillWanted: () => boolean): PassThrough {
  const input = new PassThrough();
  void (async () => {
    while (stillWanted()) {
      const line = await nextLine(stillWanted);
      if (line === undefined) break;
      input.write(line + "\n");
      if (line.trim() === ".exit") break;
    }
    source?.reader.pause();
    input.end();
  })();
  return input;
}
