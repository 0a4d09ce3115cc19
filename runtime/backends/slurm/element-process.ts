import type { BundleInput } from "../../main.js";
import { reportFatal } from "../../report.js";
import { runArrayTask } from "./element.js";

/** A Slurm array task (`--outflow-element`, a hidden flag the slurm backend's scripts write): runs it and exits. */
export async function runElementProcess(input: BundleInput, argv: string[]): Promise<never> {
  const code = await runArrayTask(input, argv).catch(reportFatal);
  process.exitCode = code;
  // Left-over handles of task code (timers, sockets) must not keep the array task alive.
  await new Promise<void>((done) => process.stdout.write("", () => process.stderr.write("", () => done())));
  process.exit(code);
}
