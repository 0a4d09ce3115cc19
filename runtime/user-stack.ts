/** The user's frames of an error's stack (not the runtime's, not node's), mapped back to their .ts source. */
import { mapStack } from "./source-map.js";

/** A frame with a place in a file (not `at async Promise.all (index 2)`), outside node and outflow. */
const USER_FRAME = /^\s+at .*:\d+:\d+\)?$/;
const NOT_USER = /node:|runtime\/|node_modules|<anonymous>/;

/** Up to 8 frames of the user's code, as stack lines. */
export function userStack(error: unknown): string {
  if (!(error instanceof Error) || !error.stack) return "";
  const lines = mapStack(error.stack).split("\n").slice(1);
  return lines
    .filter((l) => USER_FRAME.test(l) && !NOT_USER.test(l))
    .slice(0, 8)
    .join("\n");
}

/** Where the error was thrown in the user's code: its first user frame, or undefined. */
export function userSite(error: unknown): { file: string; line: number; column: number } | undefined {
  const first = userStack(error).split("\n")[0];
  const m = /\(?((?:file:\/\/)?[^\s()]+):(\d+):(\d+)\)?$/.exec(first ?? "");
  return m ? { file: m[1].replace(/^file:\/\//, ""), line: Number(m[2]), column: Number(m[3]) } : undefined;
}
