/**
 * Captures what a command writes to process.stdout / process.stderr (the logger, help, error lines), also
 * the output of its worker threads, which Node pipes through the same streams. Captures nest; output is
 * not echoed unless OUTFLOW_TEST_ECHO=1.
 */
type Write = typeof process.stdout.write;

export interface Captured {
  stdout: string;
  stderr: string;
}

export async function captureOutput<T>(fn: () => Promise<T>): Promise<{ value?: T; error?: unknown; output: Captured }> {
  const output: Captured = { stdout: "", stderr: "" };
  const echo = process.env.OUTFLOW_TEST_ECHO === "1";
  const patch = (stream: NodeJS.WriteStream, key: keyof Captured): Write => {
    const original = stream.write;
    stream.write = function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]): boolean {
      output[key] += typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString("utf8");
      const callback = rest.find((r) => typeof r === "function") as (() => void) | undefined;
      if (echo) return (original as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
      callback?.();
      return true;
    } as Write;
    return original;
  };
  const out = patch(process.stdout, "stdout");
  const err = patch(process.stderr, "stderr");
  try {
    return { value: await fn(), output };
  } catch (error) {
    return { error, output };
  } finally {
    // Worker threads' output reaches the parent's streams a turn later.
    await new Promise((resolve) => setImmediate(resolve));
    process.stdout.write = out;
    process.stderr.write = err;
  }
}
